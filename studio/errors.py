"""The boundary where pipeline errors become messages in the browser."""

from __future__ import annotations

import logging

import gradio as gr

logger = logging.getLogger(__name__)


def to_gradio_error(error: BaseException) -> gr.Error:
    """`ValueError`s (incl. `StudioError`) are written for people: show them as they are; hide the rest."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, ValueError):
        return gr.Error(str(error), title="Cannot generate")
    logger.exception("unexpected error", exc_info=error)
    return gr.Error(f"Something went wrong: {type(error).__name__}: {error}. The details are in the server log.")
