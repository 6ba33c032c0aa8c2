"""The Guidance lab in headless Chromium: three methods x three strengths -> nine cells, labelled, and a grid PNG."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pipelines.guidance.grid as grid

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_pick_methods_and_strengths_and_see_nine_labelled_cells(browser, studio_url, tmp_path, monkeypatch):
    received = []
    real = grid.run_grid

    def spy(make_pipeline, run_on_device, request, **kwargs):  # what the server was asked to render
        received.append(request)
        return real(make_pipeline, run_on_device, request, **kwargs)

    monkeypatch.setattr(grid, "run_grid", spy)
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    page = context.new_page()
    page.goto(studio_url, wait_until="domcontentloaded")
    page.locator("#tab-guidance-lab-button").click()  # inactive tabs are not rendered until clicked
    page.locator("#lab-prompt textarea").fill("a red circle on the left")
    page.locator("#lab-methods").get_by_text("Adaptive projected guidance (APG)").click()
    page.locator("#lab-strengths input, #lab-strengths textarea").first.fill("2, 5, 8")
    page.locator("#lab-steps input[type=number]").fill("3")
    page.locator("#lab-steps input[type=number]").press("Enter")
    page.locator("#lab-seed input").fill("4")
    page.locator("#lab-run").click()
    page.locator("#lab-status").get_by_text("Done: 9 cells").wait_for(timeout=180_000)

    # The gallery shows each distinct image once: "No guidance" ignores the strength, so its row is one cell.
    captions = page.locator("#lab-cells .caption-label, #lab-cells figcaption").all_inner_texts()
    assert len(captions) == 7, captions
    assert any(c.startswith("No guidance · any strength") for c in captions), captions
    for method in ("Classifier-free", "Adaptive projected guidance (APG)"):
        for strength in ("2", "5", "8"):
            assert any(c.startswith(f"{method} · {strength}") for c in captions), (method, strength, captions)
    assert page.locator("#lab-grid img").first.get_attribute("src")
    (request,) = received
    assert request.strengths == (2.0, 5.0, 8.0) and request.seed == 4 and len(request.methods) == 3
    page.screenshot(path=str(Path(os.environ.get("STUDIO_SCREENSHOT_DIR", tmp_path)) / "lab.png"), full_page=True)
    context.close()
