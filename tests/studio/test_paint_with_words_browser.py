"""The real page in headless Chromium: paint two regions in two colours, tie them to two phrases, generate.

Asserts on what the server received (the layer's painted colours and where they are, the phrases), not only
on the page: without `--enable-unsafe-swiftshader` the canvas can stay blank while the page looks fine.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

import studio.paint_with_words_tab as tab
from pipelines.paint_with_words import PALETTE, snap_to_palette, used_colours

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def page(browser, studio_url):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(studio_url, wait_until="domcontentloaded")
    page.locator("#tab-pww-button").click()  # inactive tabs are not rendered until clicked
    page.locator("#pww-canvas canvas").first.wait_for(timeout=30_000)
    yield page
    context.close()


@pytest.fixture()
def received(monkeypatch):
    """Every PaintWithWordsRequest the server's handler passes to the pipeline."""
    requests = []
    lock = threading.Lock()
    real = tab.paint_with_words

    def spy(manager, request, **kwargs):
        with lock:
            requests.append(request)
        return real(manager, request, **kwargs)

    monkeypatch.setattr(tab, "paint_with_words", spy)
    return requests


def paint(page, colour_index: int, dx: float, dy: float) -> None:
    """A zig-zag stroke of the palette's `colour_index` around (dx, dy) from the canvas centre."""
    editor = page.locator("#pww-canvas")
    if not editor.locator("button[aria-label='Color']").is_visible():
        editor.locator("button[aria-label='Brush']").click()
    editor.locator("button[aria-label='Color']").click()
    editor.locator("button.color").nth(colour_index).click()
    box = editor.locator("canvas").first.bounding_box()
    x0, y0 = box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy
    page.mouse.move(x0 - 40, y0)
    page.mouse.down()
    for i in range(9):
        page.mouse.move(x0 - 40 + 10 * i, y0 + 15 * (i % 3 - 1), steps=3)
    page.mouse.up()


def type_phrase(page, row: int, phrase: str, attempts: int = 3) -> None:
    """Types `phrase` into the table row's phrase cell.

    Keys typed before the cell's editor opens would be lost, so this fills the editor itself, and tries again
    when a late canvas update re-renders the table under it.
    """
    for attempt in range(attempts):
        cell = page.locator("#pww-table [role=gridcell]").nth(row * 3 + 1)
        cell.dblclick()
        editor = cell.locator("textarea[aria-label='Edit cell']")
        try:
            editor.wait_for(timeout=5_000)
            editor.fill(phrase)
            editor.press("Enter")
            cell.get_by_text(phrase, exact=True).wait_for(timeout=10_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise


def test_paint_two_regions_tie_two_phrases_and_generate(page, received, studio_manager, tmp_path):
    page.locator("#pww-prompt textarea").fill("a red circle above a blue square")
    paint(page, 0, -90, 90)  # red, bottom-left of the canvas
    paint(page, 1, 90, -90)  # blue, top-right
    # The server snaps the layer and lists one table row per painted colour.
    rows = page.locator("#pww-table [role=gridcell]")
    rows.nth(3).wait_for(timeout=30_000)
    assert "red" in rows.nth(0).inner_text() and "blue" in rows.nth(3).inner_text()
    type_phrase(page, 0, "red circle")
    type_phrase(page, 1, "blue square")
    page.locator("#pww-generate").click()
    page.locator("#pww-status").get_by_text("Done in").wait_for(timeout=120_000)

    # What the server received: two colours painted where they were drawn, tied to the two phrases.
    (request,) = received
    assert [(r.colour, r.phrase) for r in request.regions] == [("red", "red circle"), ("blue", "blue square")]
    assert request.prompt == "a red circle above a blue square"
    assert request.steer_layout  # "Steer the layout" is on by default
    layer = request.layout
    assert layer.shape[2] == 4  # the paint layer, not a flattened composite
    counts = dict((b.name, n) for b, n in used_colours(layer))
    assert set(counts) == {"red", "blue"} and min(counts.values()) > 500
    labels = snap_to_palette(layer)
    ys, xs = np.nonzero(labels == PALETTE.index(PALETTE[0]) + 1)
    assert xs.mean() < layer.shape[1] / 2 < ys.mean()  # red bottom-left
    ys, xs = np.nonzero(labels == 2)
    assert ys.mean() < layer.shape[0] / 2 < xs.mean()  # blue top-right

    # What the page shows: the image, the region map beside it, the parameters.
    for elem in ("#pww-result img", "#pww-region-map img"):
        src = page.locator(elem).first.get_attribute("src")
        assert src and ".png" in src
    assert (
        'Paint with words: "w 0.3; steered; red: red circle (1); blue: blue square (1)"'
        in page.locator("#pww-parameters textarea").input_value()
    )
    assert studio_manager.is_loaded("tiny-sd")
    shot = Path(os.environ.get("STUDIO_SCREENSHOT_DIR", tmp_path)) / "paint_with_words.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
