"""Output components that several tabs show the same way, so they look and behave alike everywhere."""

from __future__ import annotations

import gradio as gr


def run_details(prefix: str, parameters_label: str = "Parameters (also stored in each PNG)"):
    """Below a result: a status line, the seed actually used, and the copyable parameters text.

    Returns (status, used_seed, parameters), with elem_ids `<prefix>-status`, `-used-seed`, `-parameters`.
    """
    status = gr.Markdown("", elem_id=f"{prefix}-status")
    used_seed = used_seed_box(f"{prefix}-used-seed")
    parameters = gr.Textbox(
        label=parameters_label, lines=3, interactive=False, buttons=["copy"], elem_id=f"{prefix}-parameters"
    )
    return status, used_seed, parameters


def used_seed_box(elem_id: str) -> gr.Number:
    """The seed a run used; hidden until there is one (a Number shows 0 when empty, which reads as a real seed)."""
    return gr.Number(label="Seed used", precision=0, interactive=False, visible=False, elem_id=elem_id)


def reveal_when_done(event, used_seed: gr.Number) -> None:
    """Shows a `used_seed_box` once `event` has finished without an error (API outputs stay plain numbers)."""
    event.success(lambda: gr.Number(visible=True), None, used_seed, queue=False, api_visibility="private")


def result_gallery(label: str, elem_id: str, columns: int, height: int | str, **options) -> gr.Gallery:
    """A read-only gallery of PNG results (no upload box, even when an event reads it as an input)."""
    return gr.Gallery(
        label=label,
        format="png",
        type="pil",
        columns=columns,
        height=height,
        object_fit="contain",
        interactive=False,
        elem_id=elem_id,
        **options,
    )


def result_image(label: str, elem_id: str, height: int | None = None) -> gr.Image:
    """A read-only PNG image with a download button."""
    return gr.Image(
        label=label, type="pil", format="png", interactive=False, buttons=["download"], height=height, elem_id=elem_id
    )
