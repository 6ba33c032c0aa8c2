"""The unCLIP tab in headless Chromium, one test per section, on a studio launched with the bundled models.

Asserts on what the server received and did (requests, model runs), not only on the page.
"""

from __future__ import annotations

import re
import threading

import pytest

import studio.unclip_tab as tab
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.unclip import example_image
from studio import build_app, launch_options

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def unclip_manager():
    return PipelineManager(ManagerConfig(device="cpu", offline=True, include_hub=False))


@pytest.fixture(scope="module")
def unclip_url(unclip_manager):
    demo = build_app(unclip_manager)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **launch_options())
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture()
def runs(monkeypatch, unclip_manager):
    """Names of the functions the manager ran on the device (every generation goes through `manager.run`)."""
    names = []
    lock = threading.Lock()
    real = unclip_manager.run

    def spy(fn, *args, **kwargs):
        with lock:
            names.append(getattr(fn, "__qualname__", repr(fn)))
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(unclip_manager, "run", spy)
    return names


@pytest.fixture()
def received(monkeypatch):
    """Every request the tab's handlers pass to the pipelines."""
    requests = []
    for name in ("variations", "interpolate", "text_diff"):
        real = getattr(tab, name)

        def spy(manager, request, _real=real, **kwargs):
            requests.append(request)
            return _real(manager, request, **kwargs)

        monkeypatch.setattr(tab, name, spy)
    return requests


def open_section(browser, url, section: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#tab-unclip-button").click()  # inactive tabs are not rendered until clicked
    page.locator(f"#unclip-tab-{section}-button").click()
    return context, page


def wait_done(page, status_id: str, timeout: int = 120_000) -> str:
    status = page.locator(f"#{status_id}")
    status.get_by_text(re.compile("Done in|Stopped")).wait_for(timeout=timeout)
    return status.inner_text()


def test_variations_from_the_example_image(browser, unclip_url, received):
    context, page = open_section(browser, unclip_url, "variations")
    try:
        page.locator("#unclip-var-example").click()
        page.locator("#unclip-var-image img").first.wait_for(timeout=30_000)
        page.locator("#unclip-var-run").click()
        assert "Done in" in wait_done(page, "unclip-var-status")
        page.locator("#unclip-var-gallery img").nth(3).wait_for(timeout=30_000)
        (request,) = received
        assert request.image.size == (64, 64) and request.count == 4
    finally:
        context.close()


def test_interpolation_slider_scrubs_the_strip_without_generating(browser, unclip_url, received, runs):
    context, page = open_section(browser, unclip_url, "interpolation")
    try:
        page.locator("#unclip-interp-example").click()
        page.locator("#unclip-image-b img").first.wait_for(timeout=30_000)
        page.locator("#unclip-interp-run").click()
        assert "noise inverted" in wait_done(page, "unclip-interp-status")
        page.locator("#unclip-strip img").nth(6).wait_for(timeout=30_000)
        page.locator("#unclip-gif a, #unclip-gif").first.get_by_text(re.compile(r"\.gif")).wait_for(timeout=30_000)
        (request,) = received
        assert request.image_a is not None and request.image_b is not None and request.frames == 7
        generations = len(runs)
        first = page.locator("#unclip-frame img").first.get_attribute("src")
        number = page.locator("#unclip-theta input[type=number]")
        for value in ("0.5", "1"):
            number.fill(value)
            number.press("Enter")
            page.wait_for_function(
                "src => document.querySelector('#unclip-frame img')?.getAttribute('src') !== src", arg=first
            )
            first = page.locator("#unclip-frame img").first.get_attribute("src")
        assert len(runs) == generations, "moving the slider ran the model"
        assert len(received) == 1
    finally:
        context.close()


def test_text_diff_prefills_the_caption_and_edits(browser, unclip_url, received, tmp_path):
    path = tmp_path / "red.png"
    example_image("a large red square in the center", 0).save(path)
    context, page = open_section(browser, unclip_url, "text-diff")
    try:
        page.locator("#unclip-diff-image input[type=file]").set_input_files(str(path))
        source = page.locator("#unclip-diff-source textarea")
        page.wait_for_function("el => el.value.includes('red')", arg=source.element_handle(), timeout=60_000)
        page.locator("#unclip-diff-target textarea").fill("a blue square")
        page.locator("#unclip-diff-run").click()
        assert "Done in" in wait_done(page, "unclip-diff-status")
        page.locator("#unclip-diff-gallery img").nth(3).wait_for(timeout=30_000)
        (request,) = received
        assert "red" in request.source_caption and request.target_caption == "a blue square"
        assert request.image.size == (64, 64)
    finally:
        context.close()
