"""The studio's Gradio UI. Calls `pipelines/`' public API; never touches tensors."""

from .app import build_app, launch_options

__all__ = ["build_app", "launch_options"]
