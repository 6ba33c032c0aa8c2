"""The real page in headless Chromium: type a prompt, generate, see progress and the image; Stop works."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def page(browser, studio_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(studio_url, wait_until="domcontentloaded")
    page.locator("#txt2img-prompt textarea").wait_for(timeout=30_000)
    yield page
    context.close()


def test_type_prompt_generate_see_progress_and_image(page, tmp_path, studio_manager):
    # Before any run: no "Seed used" box showing a seed that was never used, and results invite no upload.
    assert page.locator("#txt2img-used-seed").count() == 0
    results = {"Guidance lab": "#lab-cells", "Inpainting": "#inpaint-gallery", "unCLIP": "#unclip-var-gallery"}
    for tab, gallery in {**results, "Text to image": "#txt2img-gallery"}.items():
        page.get_by_role("tab", name=tab).click()  # inactive tabs are not rendered until clicked
        page.locator(gallery).wait_for(timeout=10_000)
        assert "Drop Media" not in page.locator(gallery).inner_text(), f"{tab}'s results offer an upload"
    # The tabs' own style rules reach the page through the app's one stylesheet (not a <style> block per tab).
    rules = page.evaluate(
        "() => [...document.styleSheets].flatMap(s => { try { return [...s.cssRules].map(r => r.cssText) }"
        " catch (e) { return [] } }).join('\\n')"
    )
    assert "#pww-result img" in rules and "#unclip-frame img" in rules
    tab_styles = page.locator("#studio-tabs style").evaluate_all(
        "els => els.filter(e => e.textContent.includes('#unclip-') || e.textContent.includes('#pww-')).length"
    )
    assert tab_styles == 0
    page.locator("#txt2img-prompt textarea").fill("a red circle on the left")
    page.locator("#txt2img-steps input[type=number]").fill("40")
    page.locator("#txt2img-steps input[type=number]").press("Enter")
    page.locator("#txt2img-seed input").fill("7")
    page.locator("#txt2img-generate").click()
    # Progress: Gradio shows "Denoising" with a step counter over the gallery while it runs.
    page.get_by_text("Denoising").first.wait_for(timeout=60_000)
    page.locator("#txt2img-status").get_by_text("image(s) in").wait_for(timeout=120_000)
    image = page.locator("#txt2img-gallery img").first
    image.wait_for(timeout=30_000)
    src = image.get_attribute("src")
    assert src and ".png" in src
    assert page.locator("#txt2img-used-seed input").input_value() == "7"
    assert "Seed: 7, Size: 64x64, Model: tiny-sd" in page.locator("#txt2img-parameters textarea").input_value()
    assert studio_manager.is_loaded("tiny-sd")  # what the server did, not only what the page shows
    shot = Path(os.environ.get("STUDIO_SCREENSHOT_DIR", tmp_path)) / "txt2img.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_stop_ends_a_long_generation_early(page):
    page.locator("#txt2img-prompt textarea").fill("a blue square")
    page.locator("#txt2img-steps input[type=number]").fill("150")
    page.locator("#txt2img-steps input[type=number]").press("Enter")
    page.locator("#txt2img-generate").click()
    page.get_by_text("Denoising").first.wait_for(timeout=60_000)
    page.locator("#txt2img-stop").click()
    page.locator("#txt2img-status").get_by_text("Stopped at step").wait_for(timeout=60_000)
