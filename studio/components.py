"""Output components that several tabs show the same way, so they look and behave alike everywhere."""

from __future__ import annotations

import gradio as gr


def run_details(prefix: str, parameters_label: str = "Parameters (also stored in each PNG)"):
    """Below a result: a status line, the seed actually used, and the copyable parameters text.

    Returns (status, used_seed, parameters), with elem_ids `<prefix>-status`, `-used-seed`, `-parameters`.
    """
    status = gr.Markdown("", elem_id=f"{prefix}-status")
    used_seed = gr.Number(label="Seed used", precision=0, interactive=False, elem_id=f"{prefix}-used-seed")
    parameters = gr.Textbox(
        label=parameters_label, lines=3, interactive=False, buttons=["copy"], elem_id=f"{prefix}-parameters"
    )
    return status, used_seed, parameters


def result_image(label: str, elem_id: str, height: int | None = None) -> gr.Image:
    """A read-only PNG image with a download button."""
    return gr.Image(
        label=label, type="pil", format="png", interactive=False, buttons=["download"], height=height, elem_id=elem_id
    )
