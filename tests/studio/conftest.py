"""A launched studio on the tiny model, shared by the API and browser tests."""

from __future__ import annotations

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
