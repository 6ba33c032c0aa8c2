"""The Paint with words tab (eDiff-I): paint regions, tie each colour to words of the prompt, generate.

The main action is the API endpoint `/paint_with_words`; its named inputs are the parameters of `generate` (after
the bound manager and Stop flags).
The canvas is read as its paint layer (lossless PNG, never the composite with an uploaded picture), and
anti-aliased stroke edges are snapped to the palette by `pipelines.paint_with_words`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np

from pipelines.capabilities import PAINT_WITH_WORDS, default_for, models_for, require
from pipelines.manager import PipelineManager
from pipelines.paint_with_words import (
    PALETTE,
    PaintWithWordsRequest,
    Region,
    brush,
    paint_with_words,
    render_labels,
    resize_labels,
    snap_to_palette,
    used_colours,
)

from .components import (
    DEVICE_EVENT,
    PRIVATE,
    limit_slider,
    negative_prompt_box,
    result_image,
    reveal_when_done,
    run_buttons,
    run_details,
    sampler_dropdown,
    seed_box,
    wire_stop,
)
from .errors import explain_unreadable_inputs, to_gradio_error
from .runner import bind, build_request, run_action, seed_of, warn_unknown_words
from .sessions import StopFlags
from .upscale_panel import upscale_panel

logger = logging.getLogger(__name__)

DEFAULTS = PaintWithWordsRequest(prompt="", layout=np.zeros((1, 1, 4), np.uint8), regions=())
HEADERS = ["Colour", "Phrase (words from the prompt)", "Weight"]
CANVAS = 256  # canvas pixels per side; the layout is resized to the image with NEAREST on the server
HOW_TO = """**Paint where things go.** ① Write a prompt. ② On the canvas pick the brush (✎, left toolbar), pick a
colour (palette button) and paint a rough region for each thing. ③ In the table, type the words of the prompt that
belong in each colour. ④ Generate. Brush colours only *label* regions: the table, not the brush, says what appears
there. Or press **Load example**."""
CSS = """
#pww-result img, #pww-region-map img {width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated}
"""  # joined into the app's stylesheet by studio/app.py
EXAMPLE_PROMPT = "a red circle above a blue square"


@dataclass
class PaintWithWordsTab:
    """Handles of the tab's components and its main event, for the app builder."""

    generate_event: gr.events.Dependency
    result: gr.Image


def colour_label(name: str) -> str:
    """The table's colour cell (HTML): a square in the brush colour and its name; the name is the last word."""
    b = brush(name)
    return f'<span style="color:{b.hex}">&#9632;</span> {b.name}'


def colour_name(cell: Any) -> str:
    """The colour name of a table cell: '<span …>■</span> red', '🟥 red', 'red' and '#e53935' all work."""
    words = re.sub(r"<[^>]*>", " ", str(cell or "")).split()
    return words[-1] if words else ""


def paint_layer(editor_value: dict | None) -> np.ndarray | None:
    """The RGBA paint layer of the editor's value (not the composite, which mixes in an uploaded picture)."""
    if not editor_value:
        return None
    layers = [layer for layer in editor_value.get("layers") or [] if layer is not None]
    if not layers:
        return None
    layer = np.asarray(layers[0])
    if layer.ndim == 3 and layer.shape[2] == 3:  # no alpha: everything not white counts
        return layer
    return layer.astype(np.uint8)


def example_layout(size: int = CANVAS) -> np.ndarray:
    """An example paint layer: red top-left, blue bottom-right (the prompt says only "above", not which side)."""
    layer = np.zeros((size, size, 4), dtype=np.uint8)
    a, b = size // 32, size // 2 - size // 32  # a region of ~ 7/16 of the side around each quarter's centre
    layer[a:b, a:b] = (*PALETTE[0].rgb, 255)
    layer[size - b : size - a, size - b : size - a] = (*PALETTE[1].rgb, 255)
    return layer


def table_rows(table: Any) -> list[list]:
    """The Dataframe value as a list of [colour, phrase, weight] rows (Gradio sends pandas or lists)."""
    if table is None:
        return []
    if hasattr(table, "values") and hasattr(table, "columns"):
        rows = table.values.tolist()
    elif isinstance(table, dict):
        rows = table.get("data") or []
    else:
        rows = list(table)
    return [
        list(r) + [None] * (3 - len(r))
        for r in rows
        if r is not None and any(str(c).strip() for c in r if c is not None)
    ]


def regions_from_table(table: Any) -> tuple[list[Region], list[str]]:
    """Rows → Regions; rows without a phrase are left out and reported."""
    regions, skipped = [], []
    for colour, phrase, weight in (r[:3] for r in table_rows(table)):
        name = colour_name(colour)
        if not str(phrase or "").strip():
            skipped.append(name or "?")
            continue
        try:
            w = 1.0 if weight is None or str(weight).strip() == "" else float(weight)
        except (TypeError, ValueError) as e:
            raise ValueError(f"`regions` weight for {name} must be a number, got {weight!r}") from e
        regions.append(Region(colour=name, phrase=str(phrase).strip(), weight=w))
    return regions, skipped


def sync_table(editor_value: dict | None, table: Any) -> list[list]:
    """One row per painted colour, keeping the phrases and weights already typed."""
    layer = paint_layer(editor_value)
    typed = {}
    for colour, phrase, weight in (r[:3] for r in table_rows(table)):
        if colour_name(colour):
            typed[colour_name(colour)] = (phrase or "", weight if weight not in (None, "") else 1.0)
    if layer is None:
        return [[colour_label(n), p, w] for n, (p, w) in typed.items() if p]  # keep typed rows until painted
    rows = []
    for b, _count in used_colours(layer):
        phrase, weight = typed.get(b.name, ("", 1.0))
        rows.append([colour_label(b.name), phrase, weight])
    return rows


def layout_preview(editor_value: dict | None, size: int):
    """The snapped layout at the image size: what the model will get (palette colours on white)."""
    layer = paint_layer(editor_value)
    if layer is None:
        return None
    return render_labels(resize_labels(snap_to_palette(layer), size, size))


# ---------------------------------------------------------------------------------------------- handlers
def generate(
    manager: PipelineManager,
    stop_flags: StopFlags,
    prompt: str,
    layout: dict | None,
    regions: Any,
    paint_weight: float = DEFAULTS.paint_weight,
    negative_prompt: str = "",
    model: str | None = None,
    sampler: str = DEFAULTS.sampler,
    steps: float = DEFAULTS.steps,
    cfg_scale: float = DEFAULTS.cfg_scale,
    seed: float = DEFAULTS.seed,
    steer_layout: bool = DEFAULTS.steer_layout,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
):
    """Draws an image whose painted regions hold the phrases tied to their colours (eDiff-I's paint with words).

    Args:
        prompt: what to draw, e.g. "a red circle above a blue square".
        layout: {"background", "layers": [RGBA layer], "composite"}: regions painted in the palette's colours.
        regions: rows of [colour, phrase, weight], e.g. [["red", "red circle", 1.0], ["blue", "blue square", 1.0]].
        paint_weight: the global weight w of the attention bias, {paint_weight}
            (0 = plain text to image, 0.1-0.4 usual).
        negative_prompt: what to avoid (optional).
        model: a model name from the studio's model list; empty = the default model.
        sampler: DDIM, DDPM, Euler, Euler a, DPM++ 2M, DPM++ 2M Karras.
        steps: denoising steps, {steps}.
        cfg_scale: classifier-free guidance scale, {cfg_scale}.
        seed: -1 for random.
        steer_layout: also nudge the first steps until each phrase's attention falls in its region (about 1.7x slower).

    Returns:
        the image, the region map the model got, a status line, the seed used, and the parameters text.
    """
    layer = paint_layer(layout)
    if layer is None:
        raise to_gradio_error(ValueError("`layout` is empty: paint at least one region on the canvas"))
    rows, skipped = build_request(lambda: regions_from_table(regions))
    if skipped:
        gr.Warning(f"No words for {', '.join(skipped)}: that paint is ignored. Type a phrase in the table.")
    entry = build_request(lambda: require(manager, PAINT_WITH_WORDS, model or None))
    req = build_request(
        lambda: PaintWithWordsRequest(
            prompt=prompt or "",
            layout=layer,
            regions=tuple(rows),
            paint_weight=float(paint_weight),
            steer_layout=bool(steer_layout),
            negative_prompt=negative_prompt or "",
            model=entry.name,
            sampler=sampler or DEFAULTS.sampler,
            steps=int(steps),
            cfg_scale=float(cfg_scale),
            seed=seed_of(seed),
        )
    )
    warn_unknown_words(entry, req.prompt, req.negative_prompt)

    def show(info):
        return info.preview, gr.skip(), f"Step {info.step}/{info.total}…", gr.skip(), gr.skip()

    finished = yield from run_action(
        paint_with_words, req, manager, stop_flags, request, progress, show=show, preview_every=max(2, req.steps // 4)
    )
    res = finished.result
    where = "; ".join(f"{p.colour.name} → “{p.phrase}”" for p in res.phrases)
    if req.steer_layout and req.paint_weight > 0 and not res.steered:
        gr.Warning(f"Steering cannot drive {entry.name}'s UNet; only the paint bias was used.")
    steered = " · steered" if res.steered else ""
    status = finished.status("Done", " (partly denoised)") + f" · seed {res.seed}"
    if not finished.stopped:
        status += f" · w {req.paint_weight:g}{steered} · {where}"
    yield res.images[0], res.region_map, status, res.seed, res.parameters[0]


def on_canvas_change(manager: PipelineManager, value: dict | None, table: Any, model_name: str | None):
    """Keeps one table row per painted colour, and shows the snapped layout at the model's size."""
    entry = require(manager, PAINT_WITH_WORDS, model_name or None)
    rows = sync_table(value, table)
    same = [colour_name(r[0]) for r in rows] == [colour_name(r[0]) for r in table_rows(table)]
    # Same colours as listed: leave the table alone, so a late stroke event never undoes typing.
    return (gr.skip() if same else rows), layout_preview(value, entry.native_size)


def load_example():
    layer = example_layout()
    value = {"background": None, "layers": [layer], "composite": layer}
    rows = [[colour_label("red"), "red circle", 1.0], [colour_label("blue"), "blue square", 1.0]]
    return EXAMPLE_PROMPT, value, rows, 0.3


# ---------------------------------------------------------------------------------------------- layout
def build(manager: PipelineManager, stop_flags: StopFlags) -> PaintWithWordsTab:
    """Builds the tab inside the current `gr.Blocks`/`gr.Tab` context."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=6, min_width=340):
            gr.Markdown(HOW_TO, elem_id="pww-howto")
            prompt = gr.Textbox(label="Prompt", lines=2, placeholder=f"e.g. {EXAMPLE_PROMPT}", elem_id="pww-prompt")
            canvas = gr.ImageEditor(
                label="Layout canvas",
                type="numpy",
                image_mode="RGBA",
                format="png",  # lossless: colours must read exactly
                layers=False,
                sources=("upload",),
                transforms=(),
                canvas_size=(CANVAS, CANVAS),
                fixed_canvas=True,
                brush=gr.Brush(
                    colors=[b.hex for b in PALETTE], default_color=PALETTE[0].hex, color_mode="fixed", default_size=24
                ),
                eraser=gr.Eraser(default_size=24),
                height=420,
                elem_id="pww-canvas",
            )
            table = gr.Dataframe(
                value=[],
                headers=HEADERS,
                datatype=["html", "str", "number"],
                column_count=3,
                interactive=True,
                static_columns=[0],
                label="What goes where (one row per painted colour; type the words)",
                elem_id="pww-table",
            )
            weight = limit_slider(
                "paint_weight",
                DEFAULTS.paint_weight,
                "Paint weight w",
                "pww-strength",
                info="0 = ignore the paint (plain text to image); 0.1–0.4 usual; higher forces the layout",
            )
            steer = gr.Checkbox(
                value=DEFAULTS.steer_layout,
                label="Steer the layout",
                info="Nudges the first quarter of the steps until the model's own attention to each phrase falls "
                "in its region (backward guidance). About 1.7x slower; objects land in their regions far more often.",
                elem_id="pww-steer",
            )
            with gr.Row():
                generate_btn, stop_btn = run_buttons("Generate", "pww", run_id="generate")
                example_btn = gr.Button("Load example", scale=1, elem_id="pww-example")
            model, negative, sampler, steps, cfg, seed = _settings(manager)
        with gr.Column(scale=5, min_width=320):
            with gr.Row():
                region_map = result_image("Region map", "pww-region-map", height=260)
                result = result_image("Result", "pww-result", height=260)
            status, used_seed, parameters = run_details("pww", "Parameters (also stored in the PNG)")
            upscale_panel(manager, stop_flags, result, prompt, "pww")

    inputs = [prompt, canvas, table, weight, negative, model, sampler, steps, cfg, seed, steer]
    handler = bind(generate, manager, stop_flags, name="paint_with_words")
    explain_unreadable_inputs(inputs, handler)  # a non-image, truncated or bomb layer: a message, not a crash
    generate_event = generate_btn.click(
        handler,
        inputs=inputs,
        outputs=[result, region_map, status, used_seed, parameters],
        api_name="paint_with_words",
        **DEVICE_EVENT,
        show_progress_on=[result],
    )
    reveal_when_done(generate_event, used_seed)
    canvas.change(
        bind(on_canvas_change, manager),
        inputs=[canvas, table, model],
        outputs=[table, region_map],
        trigger_mode="always_last",
        **PRIVATE,
    )
    wire_stop(stop_btn, stop_flags, status)
    example_btn.click(load_example, inputs=None, outputs=[prompt, canvas, table, weight], **PRIVATE)
    return PaintWithWordsTab(generate_event=generate_event, result=result)


def _settings(manager: PipelineManager):
    """The Settings accordion: (model, negative prompt, sampler, steps, cfg, seed)."""
    default = default_for(manager.registry, PAINT_WITH_WORDS)
    with gr.Accordion("Settings", open=False, elem_id="pww-settings"):
        model = gr.Dropdown(
            models_for(manager.registry, PAINT_WITH_WORDS),
            value=default.name if default else None,
            label="Model",
            elem_id="pww-model",
        )
        negative = negative_prompt_box("pww-negative")
        with gr.Row():
            sampler = sampler_dropdown(DEFAULTS.sampler, "pww-sampler")
            steps = limit_slider("steps", DEFAULTS.steps, "Steps", "pww-steps")
        cfg = limit_slider("cfg_scale", DEFAULTS.cfg_scale, "CFG scale", "pww-cfg")
        seed = seed_box(DEFAULTS.seed, "Seed (-1 = random; keep one to compare weights)", "pww-seed")
    return model, negative, sampler, steps, cfg, seed
