"""The Inpainting tab in headless Chromium: upload an image, paint a stroke with the mouse, run, and check that the
server received a non-empty mask where the stroke was (not only that the page looks right)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import studio.inpaint_tab as inpaint_tab
from pipelines.shapes.render import PlacedShape, draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# `browser` (headless system Chromium with --enable-unsafe-swiftshader) comes from tests/studio/conftest.py.


def open_with_upload(page, studio_url: str, upload: Path, size: str, attempts: int = 3, wait_s: int = 40):
    """Opens the Inpainting tab and uploads `upload`; returns the editor once the server has the image.

    Drawing before the server has the image paints on a blank canvas. The editor's change event can fire before
    its value holds the upload, so ask again with "Show mask preview" (which sends the editor's current value)
    until the server answers with the image's size. On a loaded machine the editor can drop the upload
    altogether and stay that way: then load the page again and upload again.
    """
    for attempt in range(attempts):
        page.goto(studio_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name="Inpainting").click()  # inactive tabs are not rendered until clicked
        editor = page.locator("#inpaint-editor")
        editor.wait_for(timeout=30_000)
        editor.locator("canvas").first.wait_for(timeout=30_000)  # an upload before the canvas exists can be lost
        editor.locator("input[type=file]").first.set_input_files(str(upload))
        status = page.locator("#inpaint-status")
        for _ in range(wait_s):
            if f"Image {size} loaded" in status.inner_text():
                return editor
            page.locator("#inpaint-preview-btn").click()
            page.wait_for_timeout(1000)
    pytest.fail(f"the server never saw the {size} upload in {attempts} page loads; status {status.inner_text()!r}")


def wait_for_result(page, timeout_ms: int = 120_000) -> str:
    """Waits for the run to end; fails with the error toast's text when the server refused the request."""
    page.wait_for_function(
        """() => (document.querySelector('#inpaint-status')?.innerText || '').includes('image(s) in')
                 || document.querySelector('.toast-body') !== null""",
        timeout=timeout_ms,
    )
    status = page.locator("#inpaint-status").inner_text()
    if "image(s) in" not in status:
        toasts = page.locator(".toast-body").all_inner_texts()
        pytest.fail(f"no result; status {status!r}, messages {toasts}")
    return status


@pytest.fixture()
def received(monkeypatch):
    """What the server's `inpaint` call got: the handler looks `inpaint` up at call time, so a spy sees it."""
    calls = []
    real = inpaint_tab.inpaint

    def spy(manager, request, **kwargs):
        image, mask = np.asarray(request.image).copy(), np.asarray(request.mask).copy()
        calls.append({"request": request, "image": image, "mask": mask})
        return real(manager, request, **kwargs)

    monkeypatch.setattr(inpaint_tab, "inpaint", spy)
    return calls


def test_upload_paint_a_stroke_and_inpaint(browser, studio_url, received, tmp_path):
    scene = draw([PlacedShape("red", "circle", 16, 32, 10), PlacedShape("blue", "square", 48, 32, 10)])
    upload = tmp_path / "scene.png"
    Image.fromarray(scene).save(upload)

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        editor = open_with_upload(page, studio_url, upload, "64×64")
        editor.get_by_role("button", name="Brush").first.click()
        page.wait_for_timeout(500)

        # A horizontal stroke from the centre of the canvas to the right: the image is centred in the canvas,
        # so the mask must lie on the middle rows, in the right half of the image.
        canvas = editor.locator("canvas").first.bounding_box()
        cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
        page.mouse.move(cx + 30, cy)
        page.mouse.down()
        for k in range(1, 21):
            page.mouse.move(cx + 30 + 6 * k, cy, steps=2)
        page.mouse.up()
        # The editor sends the painted layer to the server on change; the live mask preview appears once it has
        # arrived (clicking Inpaint before that could send the layer as it was before the stroke).
        page.locator("#inpaint-mask-preview img").wait_for(timeout=60_000)

        page.locator("#inpaint-prompt textarea").fill("a green triangle on the right")
        page.locator("#inpaint-generate").click()
        wait_for_result(page)
        page.locator("#inpaint-gallery img").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # let the images load before the screenshot
        shot = Path(os.environ.get("STUDIO_SCREENSHOT_DIR", tmp_path)) / "inpaint.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()

    (call,) = received
    assert call["image"].shape[:2] == (64, 64)
    assert np.array_equal(call["image"][..., :3], scene)  # PNG, not lossy WebP
    mask = call["mask"]
    assert mask.shape == (64, 64) and mask.dtype == bool
    assert mask.sum() > 40, "the server received an empty mask: the stroke was not drawn"
    rows, cols = np.nonzero(mask)
    assert abs(rows.mean() - 32) < 8  # the stroke's row
    assert cols.min() >= 28 and cols.max() > 48  # from just right of the centre to the right
    assert call["request"].prompt == "a green triangle on the right"


def test_a_big_upload_is_inpainted_in_a_box_and_keeps_its_size(browser, studio_url, received, tmp_path):
    scene = draw([PlacedShape("red", "circle", 16, 32, 10), PlacedShape("blue", "square", 48, 32, 10)])
    upload = tmp_path / "big.png"
    Image.fromarray(scene).resize((296, 200), Image.NEAREST).save(upload)  # too big for a 64x64 model

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        editor = open_with_upload(page, studio_url, upload, "296×200")
        editor.get_by_role("button", name="Brush").first.click()
        canvas = editor.locator("canvas").first.bounding_box()
        cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
        page.mouse.move(cx + 60, cy)
        page.mouse.down()
        for k in range(1, 11):
            page.mouse.move(cx + 60 + 5 * k, cy, steps=2)
        page.mouse.up()
        page.locator("#inpaint-mask-preview img").wait_for(timeout=60_000)
        page.locator("#inpaint-prompt textarea").fill("a green triangle")
        page.locator("#inpaint-generate").click()
        status = wait_for_result(page)
        assert "box around the mask" in status  # turned on when the image arrived, or at Inpaint with a note
    finally:
        context.close()

    (call,) = received
    assert call["request"].only_masked is True
    assert call["image"].shape[:2] == (200, 296) and call["mask"].shape == (200, 296)
    assert call["mask"].any() and np.nonzero(call["mask"])[1].min() > 148
