"""Output components that several tabs show the same way, so they look and behave alike everywhere."""

from __future__ import annotations

import gradio as gr

from pipelines.limits import LIMITS
from pipelines.samplers import Sampler

from .runner import bind, stop_session

# Every event that runs a model: the one "device" queue, one job at a time (a second request waits its turn).
DEVICE_EVENT = {"concurrency_id": "device", "concurrency_limit": 1}
# UI-only events: answered at once, outside the queue, and kept off the API and the MCP tools.
PRIVATE = {"queue": False, "api_visibility": "private"}


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


def limit_slider(key: str, value: float, label: str, elem_id: str, **options) -> gr.Slider:
    """A slider over the range `pipelines/limits.py` gives the field `key` (the requests check the same range)."""
    limit = LIMITS[key]
    low = limit.low + limit.step if limit.low_open else limit.low
    return gr.Slider(low, limit.high, value=value, step=limit.step, label=label, elem_id=elem_id, **options)


def seed_box(value: int, label: str, elem_id: str, **options) -> gr.Number:
    """The seed input: -1 (random) up to the largest seed."""
    limit = LIMITS["seed"]
    return gr.Number(
        value=value, precision=0, minimum=limit.low, maximum=limit.high, label=label, elem_id=elem_id, **options
    )


def sampler_dropdown(value: str, elem_id: str, **options) -> gr.Dropdown:
    """The sampler picker, by the names WebUI users know."""
    return gr.Dropdown(Sampler.labels(), value=value, label="Sampler", elem_id=elem_id, **options)


def negative_prompt_box(elem_id: str, label: str = "Negative prompt") -> gr.Textbox:
    return gr.Textbox(label=label, value="", lines=1, placeholder="What to avoid (optional)", elem_id=elem_id)


def run_buttons(run_label: str, prefix: str, run_id: str = "run") -> tuple[gr.Button, gr.Button]:
    """The primary run button and its Stop, side by side (elem_ids `<prefix>-<run_id>` and `<prefix>-stop`)."""
    with gr.Row():
        run = gr.Button(run_label, variant="primary", scale=3, elem_id=f"{prefix}-{run_id}")
        stop = gr.Button("Stop", variant="stop", scale=1, elem_id=f"{prefix}-stop")
    return run, stop


def wire_stop(button: gr.Button, stop_flags, status) -> None:
    """Stop sets the session's flag (outside the queue, so it is heard while a run holds the device)."""
    button.click(bind(stop_session, stop_flags), outputs=[status], **PRIVATE)
