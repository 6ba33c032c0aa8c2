"""The Text to image tab: prompt → images, with progress, live previews, Stop, seeds and PNG parameters.

The main action is the stable API endpoint `/txt2img`; its named inputs are the parameters of `generate`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import gradio as gr
from PIL import Image

from pipelines.manager import PipelineManager
from pipelines.models import TXT2IMG, ModelEntry
from pipelines.png_info import parse_parameters, read_parameters
from pipelines.samplers import Sampler
from pipelines.text_to_image import MAX_BATCH, MAX_SEED, MAX_STEPS, TextToImageRequest, text_to_image

from .components import result_gallery, reveal_when_done, run_details
from .errors import explain_unreadable_inputs, to_gradio_error
from .sessions import StopFlags
from .worker import generation_events, session_stop_flag, warn_unknown_words

logger = logging.getLogger(__name__)

DEFAULTS = TextToImageRequest(prompt="")
SHAPES_EXAMPLES = [
    "a red circle on the left",
    "a blue square above a yellow triangle",
    "a green triangle in the middle",
]


@dataclass
class TextToImageTab:
    """Handles of the tab's components and its main event, for the app builder and other tabs."""

    generate_event: gr.events.Dependency
    gallery: gr.Gallery
    used_seed: gr.Number


def _preview_every(steps: int) -> int:
    """About four previews per run, never more often than every 2nd step."""
    return max(2, steps // 4)


def _model_note(entry: ModelEntry) -> str:
    kind = {"bundled": "bundled, runs offline", "local": "local folder", "hub": "downloaded from the Hub"}[entry.kind]
    note = f"**{entry.name}** ({kind}) · native size {entry.native_size}×{entry.native_size}"
    if entry.vocabulary == "shapes":
        note += " · knows only shapes-world words: colours, shapes, places (e.g. *a red circle on the left*)"
    elif entry.description:
        note += f" · {entry.description}"
    return note


def build(manager: PipelineManager, stop_flags: StopFlags) -> TextToImageTab:
    """Builds the tab inside the current `gr.Blocks`/`gr.Tab` context."""
    registry = manager.registry
    model_names = registry.names(TXT2IMG)
    default = registry.default(TXT2IMG)
    default_name = default.name if default else None
    native = default.native_size if default else 512

    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            model = gr.Dropdown(model_names, value=default_name, label="Model", elem_id="txt2img-model")
            model_note = gr.Markdown(
                _model_note(default) if default else "No model found.", elem_id="txt2img-model-note"
            )
            prompt = gr.Textbox(
                label="Prompt",
                lines=2,
                placeholder="What to draw, e.g. a red circle above a blue square",
                elem_id="txt2img-prompt",
            )
            negative = gr.Textbox(
                label="Negative prompt",
                value="",
                lines=1,
                placeholder="What to avoid (optional)",
                elem_id="txt2img-negative",
            )
            with gr.Row():
                generate_btn = gr.Button("Generate", variant="primary", scale=3, elem_id="txt2img-generate")
                stop_btn = gr.Button("Stop", variant="stop", scale=1, elem_id="txt2img-stop")
            with gr.Accordion("Settings", open=True, elem_id="txt2img-settings"):
                with gr.Row():
                    sampler = gr.Dropdown(
                        Sampler.labels(),
                        value=DEFAULTS.sampler,
                        label="Sampler",
                        elem_id="txt2img-sampler",
                        info="LCM needs an LCM-distilled model",
                    )
                    steps = gr.Slider(
                        1, MAX_STEPS, value=DEFAULTS.steps, step=1, label="Steps", elem_id="txt2img-steps"
                    )
                cfg = gr.Slider(
                    0,
                    30,
                    value=DEFAULTS.cfg_scale,
                    step=0.5,
                    label="CFG scale (guidance)",
                    elem_id="txt2img-cfg",
                    info="0 ignores the prompt, 1 follows it plainly, higher follows it harder",
                )
                with gr.Row():
                    width = gr.Number(
                        value=native, precision=0, minimum=8, step=8, label="Width", elem_id="txt2img-width"
                    )
                    height = gr.Number(
                        value=native, precision=0, minimum=8, step=8, label="Height", elem_id="txt2img-height"
                    )
                    batch = gr.Slider(
                        1, MAX_BATCH, value=DEFAULTS.batch_size, step=1, label="Batch size", elem_id="txt2img-batch"
                    )
                with gr.Row(equal_height=True):
                    seed = gr.Number(
                        value=DEFAULTS.seed,
                        precision=0,
                        minimum=-1,
                        maximum=MAX_SEED,
                        label="Seed (-1 = random)",
                        elem_id="txt2img-seed",
                        scale=3,
                    )
                    reuse_btn = gr.Button("♻ Reuse last seed", scale=1, elem_id="txt2img-reuse-seed")
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

    def generate(
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
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
    ):
        """Generates images from a prompt; yields previews, then the final images with their parameters."""
        try:
            entry = manager.entry(model or None, TXT2IMG)
            req = TextToImageRequest(
                prompt=prompt or "",
                negative_prompt=negative_prompt or "",
                model=entry.name,
                sampler=sampler or DEFAULTS.sampler,
                steps=int(steps),
                cfg_scale=float(cfg_scale),
                seed=int(seed) if seed is not None else -1,
                width=int(width) if width else None,
                height=int(height) if height else None,
                batch_size=int(batch_size),
            )
        except (ValueError, TypeError) as e:
            raise to_gradio_error(ValueError(str(e))) from e
        warn_unknown_words(entry, req.prompt, req.negative_prompt)
        started = time.perf_counter()
        if not manager.is_loaded(entry.name):
            progress(None, desc=f"Loading {entry.name}…")
        with session_stop_flag(stop_flags, request) as stop:

            def work(on_step):
                return text_to_image(manager, req, on_step=on_step, stop=stop, preview_every=_preview_every(req.steps))

            for kind, item in generation_events(work, progress):
                if kind == "preview":
                    caption = f"preview, step {item.step}/{item.total}"
                    yield [(item.preview, caption)], gr.skip(), f"Step {item.step}/{item.total}…", gr.skip()
                else:
                    result = item
        elapsed = time.perf_counter() - started
        note = f"{len(result.images)} image(s) in {elapsed:.1f} s · seed {result.seed}"
        if result.stopped_at is not None:
            note = f"Stopped at step {result.stopped_at}/{req.steps} (partly denoised) · seed {result.seed}"
        yield (
            [(image, text) for image, text in zip(result.images, result.parameters, strict=True)],
            result.seed,
            note,
            "\n\n".join(result.parameters),
        )

    def stop_generation(request: gr.Request):
        stopped = stop_flags.stop(request.session_hash or "anonymous")
        return "Stopping…" if stopped else gr.skip()

    def on_model_change(name: str):
        entry = manager.entry(name or None, TXT2IMG)
        return _model_note(entry), entry.native_size, entry.native_size

    def check_prompt(text: str, name: str):
        warn_unknown_words(manager.entry(name or None, TXT2IMG), text or "")

    def read_png(path: str | None):
        """Restores every setting from a PNG's `parameters` chunk."""
        if not path:
            return [gr.skip()] * 10
        try:
            text = read_parameters(path)
        except (OSError, Image.DecompressionBombError) as e:  # not an image, truncated, or a bomb
            raise gr.Error(f"This file is not a PNG the studio can read ({type(e).__name__}).") from e
        if not text:
            gr.Warning("This PNG has no generation parameters.")
            return [gr.skip()] * 10
        try:
            p = parse_parameters(text)
            sampler_label = Sampler.from_label(p.sampler).label
        except ValueError as e:
            raise to_gradio_error(e) from e
        model_value = p.model if p.model in model_names else gr.skip()
        if p.model and p.model not in model_names:
            gr.Warning(f"Model {p.model!r} from the PNG is not available here; keeping the current model.")
        gr.Info("Settings restored from the PNG.")
        return [
            p.prompt,
            p.negative_prompt,
            model_value,
            sampler_label,
            p.steps,
            p.cfg_scale,
            p.seed,
            p.width,
            p.height,
            f"Settings restored from PNG (seed {p.seed}).",
        ]

    inputs = [prompt, negative, model, sampler, steps, cfg, seed, width, height, batch]
    outputs = [gallery, used_seed, status, parameters]
    explain_unreadable_inputs(inputs, generate)  # a NaN or an undecodable value: a message, not a crash
    generate_event = gr.on(
        triggers=[generate_btn.click, prompt.submit],
        fn=generate,
        inputs=inputs,
        outputs=outputs,
        api_name="txt2img",
        concurrency_id="device",
        concurrency_limit=1,
        show_progress="full",
        show_progress_on=[gallery],
    )
    reveal_when_done(generate_event, used_seed)
    stop_btn.click(stop_generation, inputs=None, outputs=[status], queue=False, api_visibility="private")
    reuse_btn.click(
        lambda s: s if s is not None else gr.skip(),
        inputs=[used_seed],
        outputs=[seed],
        queue=False,
        api_visibility="private",
    )
    model.change(
        on_model_change, inputs=[model], outputs=[model_note, width, height], queue=False, api_visibility="private"
    )
    prompt.blur(check_prompt, inputs=[prompt, model], outputs=None, queue=False, api_visibility="private")
    png_in.upload(
        read_png,
        inputs=[png_in],
        outputs=[*inputs[:-1], status],
        queue=False,
        api_name="read_png_info",
        api_visibility="undocumented",
    )
    return TextToImageTab(generate_event=generate_event, gallery=gallery, used_seed=used_seed)
