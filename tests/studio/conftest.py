"""A launched studio on the tiny model, shared by the API and browser tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.manager import ManagerConfig, PipelineManager
from studio import build_app, launch_options


@pytest.fixture(scope="session")
def studio_manager(models_dir) -> PipelineManager:
    return PipelineManager(ManagerConfig(models_dir=models_dir, device="cpu", offline=True))


@pytest.fixture(scope="session")
def studio_url(studio_manager):
    """Launches the app in this process (like Gradio's own tests) and yields its local URL."""
    demo = build_app(studio_manager)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **launch_options())
    try:
        yield demo.local_url
    finally:
        demo.close()


CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright's own browser download cannot run here
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--enable-unsafe-swiftshader",  # the image editors draw with WebGL: without it nothing is drawn
    "--disable-background-networking",  # without these Chromium keeps dialling the closed network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium for the browser tests. Missing Chromium skips them locally and fails them in CI."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} missing: `apt-get install -y chromium`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
