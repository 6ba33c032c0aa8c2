"""The Text to image tab: prompt → images, with progress, live previews, Stop, seeds and PNG parameters.

The main action is the stable API endpoint `/txt2img`; its named inputs are the parameters of `generate`
(after the bound manager and Stop flags).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from PIL import Image

from pipelines.manager import PipelineManager
from pipelines.models import TXT2IMG, ModelEntry
from pipelines.png_info import parse_parameters, read_parameters
from pipelines.samplers import Sampler
from pipelines.shapes.tokenizer import folder_vocabulary
from pipelines.text_to_image import TextToImageRequest, text_to_image

from .components import (
    DEVICE_EVENT,
    PRIVATE,
    limit_slider,
    negative_prompt_box,
    result_gallery,
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
from .upscale_panel import OFF, picked_upscaler, second_stage_controls, upscale_panel

DEFAULTS = TextToImageRequest(prompt="")
SHAPES_EXAMPLES = [
    "a red circle on the left",
    "a blue square above a yellow triangle",
    "a green triangle in the middle",
]
RESTORED_FIELDS = 9  # the inputs `read_png` restores (the first 9: not the batch size; the switch has its own)
NO_REFINER = 1.0  # "Refiner: switch at" 1: the base model draws every step


@dataclass
class TextToImageTab:
    """Handles of the tab's components and its main event, for the app builder and other tabs."""

    generate_event: gr.events.Dependency
    gallery: gr.Gallery
    used_seed: gr.Number


def preview_every(steps: int) -> int:
    """About four previews per run, never more often than every 2nd step."""
    return max(2, steps // 4)


def model_note(entry: ModelEntry) -> str:
    kind = {"bundled": "bundled, runs offline", "local": "local folder", "hub": "downloaded from the Hub"}[entry.kind]
    note = f"**{entry.name}** ({kind}) · native size {entry.native_size}×{entry.native_size}"
    if entry.vocabulary == "shapes" and "two" in folder_vocabulary(entry.source):
        note += " · knows only shapes-world words: colours, shapes, places, counts (e.g. *three blue squares*)"
    elif entry.vocabulary == "shapes":
        note += " · knows only shapes-world words: colours, shapes, places (e.g. *a red circle on the left*)"
    elif entry.description:
        note += f" · {entry.description}"
    return note


# ---------------------------------------------------------------------------------------------- handlers
def generate(
    manager: PipelineManager,
    stop_flags: StopFlags,
    prompt: str,
    negative_prompt: str = "",
    model: str | None = None,
    sampler: str = DEFAULTS.sampler,
    steps: float = DEFAULTS.steps,
    cfg_scale: float = DEFAULTS.cfg_scale,
    seed: float = DEFAULTS.seed,
    width: float | None = None,
    height: float | None = None,
    batch_size: float = DEFAULTS.batch_size,
    refiner_switch: float | None = NO_REFINER,
    upscaler: str | None = OFF,
    upscale_steps: float = DEFAULTS.upscale_steps,
    upscale_noise_level: float = DEFAULTS.upscale_noise_level,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
):
    """Draws images from a text prompt with a diffusion model; every PNG carries its settings.

    Args:
        prompt: what to draw; the bundled models know shapes-world words, e.g. "a red circle above a blue square".
        negative_prompt: what to avoid (optional; replaces the empty prompt of classifier-free guidance).
        model: a model name from the studio's model list; empty = the default model.
        sampler: DDIM, DDPM, Euler, Euler a, DPM++ 2M, DPM++ 2M Karras, or LCM (LCM-distilled models only).
        steps: denoising steps, {steps} (20 is a good default).
        cfg_scale: classifier-free guidance scale s, {cfg_scale}: 1 follows the prompt plainly, higher
            follows it harder.
        seed: -1 for a random seed; image i of a batch uses seed + i, so a seed gives the same image again.
        width: image width in pixels (a multiple of 8); empty = the model's native size.
        height: image height in pixels (a multiple of 8); empty = the model's native size.
        batch_size: how many images, {batch_size}.
        refiner_switch: "Refiner: switch at", for models with a refiner (SDXL base): the base model draws this
            fraction of the steps (the noisy start) and the refiner the rest (the fine detail); 1 = no refiner.
        upscaler: "Off", or an upscaler's name: a second diffusion stage draws every image 4x larger from it.
        upscale_steps: the upscaler's steps, {upscale_steps}.
        upscale_noise_level: noise added to the images before upscaling (noise-conditioning augmentation),
            {upscale_noise_level}.

    Returns:
        the images (PNG, each with an AUTOMATIC1111-style `parameters` text chunk), the seed used, a status line, and
        the parameters text of every image.
    """
    entry = build_request(lambda: manager.entry(model or None, TXT2IMG))
    req = build_request(
        lambda: TextToImageRequest(
            prompt=prompt or "",
            negative_prompt=negative_prompt or "",
            model=entry.name,
            sampler=sampler or DEFAULTS.sampler,
            steps=int(steps),
            cfg_scale=float(cfg_scale),
            seed=seed_of(seed),
            width=int(width) if width else None,
            height=int(height) if height else None,
            batch_size=int(batch_size),
            refiner_switch=float(refiner_switch) if refiner_switch is not None else None,
            upscaler=picked_upscaler(upscaler),
            upscale_steps=int(upscale_steps),
            upscale_noise_level=int(upscale_noise_level),
        )
    )
    warn_unknown_words(entry, req.prompt, req.negative_prompt)

    def show(info):
        caption = f"preview, step {info.step}/{info.total}"
        return [(info.preview, caption)], gr.skip(), f"Step {info.step}/{info.total}…", gr.skip()

    finished = yield from run_action(
        text_to_image, req, manager, stop_flags, request, progress, show=show, preview_every=preview_every(req.steps)
    )
    result = finished.result
    status = finished.status(f"{len(result.images)} image(s)", " (partly denoised)") + f" · seed {result.seed}"
    if result.refiner is not None:
        status += f" · {result.refiner} from step {result.switched_at + 1}"
    if result.upscaled:
        status += f" · upscaled x4 by {req.upscaler}"
    yield (
        [(image, text) for image, text in zip(result.images, result.parameters, strict=True)],
        result.seed,
        status,
        "\n\n".join(result.parameters),
    )


def refiner_name(manager: PipelineManager, entry: ModelEntry) -> str | None:
    """The name of `entry`'s refiner (its `extras`), None when it has none."""
    refiner = manager.extra_entry(entry, "refiner")
    return refiner.name if refiner is not None else None


def refiner_info(refiner: str | None) -> str:
    """The switch slider's explanation, naming the refiner."""
    return (
        f"The base model draws the first part of the steps, then {refiner or 'the refiner'} finishes the fine "
        "detail: 0.8 hands over after 80% of the steps; 1 = no refiner"
    )


def refiner_slider(manager: PipelineManager, entry: ModelEntry, value: float | None = None) -> gr.Slider:
    """The switch slider for `entry`: shown with its refiner's name, or hidden and set to 1 when it has none
    (a hidden value never asks for a refiner). `value` None keeps the slider's value on a model with one."""
    refiner = refiner_name(manager, entry)
    if refiner is None:
        return gr.Slider(value=NO_REFINER, visible=False, interactive=False)
    shown = {"visible": True, "interactive": True, "info": refiner_info(refiner)}
    return gr.Slider(**shown) if value is None else gr.Slider(value=value, **shown)


def on_model_change(manager: PipelineManager, name: str):
    """The picked model's note, its native size in the size boxes, and the refiner switch (shown when it has one)."""
    entry = manager.entry(name or None, TXT2IMG)
    return model_note(entry), entry.native_size, entry.native_size, refiner_slider(manager, entry)


def check_prompt(manager: PipelineManager, text: str, name: str) -> None:
    warn_unknown_words(manager.entry(name or None, TXT2IMG), text or "")


def read_png(model_names: list[str], path: str | None):
    """Restores every setting from a PNG's `parameters` chunk (and says so in the status line)."""
    if not path:
        return [gr.skip()] * (RESTORED_FIELDS + 1)
    try:
        text = read_parameters(path)
    except (OSError, Image.DecompressionBombError) as e:  # not an image, truncated, or a bomb
        raise gr.Error(f"This file is not a PNG the studio can read ({type(e).__name__}).") from e
    if not text:
        gr.Warning("This PNG has no generation parameters.")
        return [gr.skip()] * (RESTORED_FIELDS + 1)
    try:
        p = parse_parameters(text)
        sampler_label = Sampler.from_label(p.sampler).label
    except ValueError as e:
        raise to_gradio_error(e) from e
    model_value = p.model if p.model in model_names else gr.skip()
    if p.model and p.model not in model_names:
        gr.Warning(f"Model {p.model!r} from the PNG is not available here; keeping the current model.")
    gr.Info("Settings restored from the PNG.")
    restored = [p.prompt, p.negative_prompt, model_value, sampler_label, p.steps, p.cfg_scale, p.seed, p.width]
    return [*restored, p.height, f"Settings restored from PNG (seed {p.seed})."]


def read_png_refiner(manager: PipelineManager, path: str | None, name: str | None):
    """Restores "Refiner: switch at" from a PNG's parameters, after `read_png` has set the model (`name`): the PNG's
    switch (1 when it used no refiner) on a model with a refiner; hidden at 1 on a model without one."""
    text = read_parameters(path) if path else None
    if not text:
        return gr.skip()
    try:
        p = parse_parameters(text)
    except ValueError:
        return gr.skip()  # `read_png` has said what is wrong with it
    entry = manager.entry(name or None, TXT2IMG)
    if p.refiner_switch is not None and p.refiner_switch < 1 and refiner_name(manager, entry) is None:
        gr.Warning(f"The PNG used a refiner ({p.refiner or 'unnamed'}); {entry.name} has none, so it draws alone.")
    return refiner_slider(manager, entry, p.refiner_switch if p.refiner_switch is not None else NO_REFINER)


# ---------------------------------------------------------------------------------------------- layout
def build(manager: PipelineManager, stop_flags: StopFlags) -> TextToImageTab:
    """Builds the tab inside the current `gr.Blocks`/`gr.Tab` context."""
    model_names = manager.registry.names(TXT2IMG)
    default = manager.registry.default(TXT2IMG)
    native = default.native_size if default else 512

    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            model = gr.Dropdown(
                model_names, value=default.name if default else None, label="Model", elem_id="txt2img-model"
            )
            note = gr.Markdown(model_note(default) if default else "No model found.", elem_id="txt2img-model-note")
            prompt = gr.Textbox(
                label="Prompt",
                lines=2,
                placeholder="What to draw, e.g. a red circle above a blue square",
                elem_id="txt2img-prompt",
            )
            negative = negative_prompt_box("txt2img-negative")
            generate_btn, stop_btn = run_buttons("Generate", "txt2img", run_id="generate")
            with gr.Accordion("Settings", open=True, elem_id="txt2img-settings"):
                with gr.Row():
                    sampler = sampler_dropdown(
                        DEFAULTS.sampler, "txt2img-sampler", info="LCM needs an LCM-distilled model"
                    )
                    steps = limit_slider("steps", DEFAULTS.steps, "Steps", "txt2img-steps")
                cfg = limit_slider(
                    "cfg_scale",
                    DEFAULTS.cfg_scale,
                    "CFG scale (guidance)",
                    "txt2img-cfg",
                    info="0 ignores the prompt, 1 follows it plainly, higher follows it harder",
                )
                with gr.Row():
                    size = {"precision": 0, "minimum": 8, "step": 8}
                    width = gr.Number(value=native, label="Width", elem_id="txt2img-width", **size)
                    height = gr.Number(value=native, label="Height", elem_id="txt2img-height", **size)
                    batch = limit_slider("batch_size", DEFAULTS.batch_size, "Batch size", "txt2img-batch")
                refiner = limit_slider(
                    "refiner_switch",
                    NO_REFINER,
                    "Refiner: switch at",
                    "txt2img-refiner-switch",
                    info=refiner_info(refiner_name(manager, default) if default else None),
                    visible=bool(default and default.extras.get("refiner")),
                )
                with gr.Row(equal_height=True):
                    seed = seed_box(DEFAULTS.seed, "Seed (-1 = random)", "txt2img-seed", scale=3)
                    reuse_btn = gr.Button("♻ Reuse last seed", scale=1, elem_id="txt2img-reuse-seed")
            second_stage = second_stage_controls(manager, "txt2img")
            png_in = gr.File(
                label="Read parameters from PNG (drop an image made here or in AUTOMATIC1111)",
                file_types=[".png"],
                type="filepath",
                height=150,
                elem_id="txt2img-png-info",
            )
            if default and default.vocabulary == "shapes":
                gr.Examples(SHAPES_EXAMPLES, inputs=[prompt], label="Try", cache_examples=False)
        with gr.Column(scale=6, min_width=320):
            gallery = result_gallery("Results", "txt2img-gallery", columns=2, height=460, preview=True)
            status, used_seed, parameters = run_details("txt2img")
            upscale_panel(manager, stop_flags, gallery, prompt, "txt2img", public=True)

    inputs = [prompt, negative, model, sampler, steps, cfg, seed, width, height, batch, refiner, *second_stage.inputs]
    handler = bind(generate, manager, stop_flags, name="txt2img")
    explain_unreadable_inputs(inputs, handler)  # a NaN or an undecodable value: a message, not a crash
    generate_event = gr.on(
        triggers=[generate_btn.click, prompt.submit],
        fn=handler,
        inputs=inputs,
        outputs=[gallery, used_seed, status, parameters],
        api_name="txt2img",
        **DEVICE_EVENT,
        show_progress_on=[gallery],
    )
    reveal_when_done(generate_event, used_seed)
    wire_stop(stop_btn, stop_flags, status)
    reuse_btn.click(lambda s: s if s is not None else gr.skip(), inputs=[used_seed], outputs=[seed], **PRIVATE)
    model.change(bind(on_model_change, manager), inputs=[model], outputs=[note, width, height, refiner], **PRIVATE)
    prompt.blur(bind(check_prompt, manager), inputs=[prompt, model], outputs=None, **PRIVATE)
    restore = png_in.upload(
        bind(read_png, model_names),
        inputs=[png_in],
        outputs=[*inputs[:RESTORED_FIELDS], status],
        queue=False,
        api_name="read_png_info",
        api_visibility="undocumented",
    )
    # The switch is restored once the model is: whether it shows depends on the model.
    restore.success(bind(read_png_refiner, manager), inputs=[png_in, model], outputs=[refiner], **PRIVATE)
    return TextToImageTab(generate_event=generate_event, gallery=gallery, used_seed=used_seed)
