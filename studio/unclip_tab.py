"""The unCLIP tab (DALL-E 2): variations of an image, an interpolation strip with a slider, text-diff edits.

API endpoints: `/variations`, `/interpolate`, `/text_diff`; their named inputs are the handlers' parameters.
The interpolation slider only picks a frame of the computed strip (kept in the session's `gr.State`): moving
it never runs the model.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import gradio as gr

from pipelines.manager import PipelineManager
from pipelines.models import UNCLIP
from pipelines.text_to_image import MAX_SEED, MAX_STEPS
from pipelines.unclip import (
    MAX_FRAMES,
    MAX_NOISE_LEVEL,
    MAX_VARIATIONS,
    CaptionRequest,
    InterpolationRequest,
    NoiseMode,
    TextDiffRequest,
    VariationsRequest,
    best_caption,
    caption_to_image,
    example_image,
    interpolate,
    save_gif,
    shapes_captions,
    text_diff,
    variations,
)

from .components import result_gallery, result_image, reveal_when_done, used_seed_box
from .errors import explain_unreadable_inputs, to_gradio_error
from .sessions import StopFlags
from .worker import generation_events, session_stop_flag, warn_unknown_words

logger = logging.getLogger(__name__)

VAR = VariationsRequest(image=None)
INTERP = InterpolationRequest(image_a=None, image_b=None)
DIFF = TextDiffRequest(image=None, source_caption="", target_caption="")
INTRO = """**unCLIP** (DALL-E 2) draws an image from its CLIP *image embedding* z_i. Change z_i and the picture
changes meaning: **variations** keep z_i and draw fresh noise; **interpolation** walks z_i from one image to another
(slerp); **text diff** turns z_i towards the difference of two captions."""
CSS = """
#unclip-frame img {width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated}
#unclip-var-gallery img, #unclip-strip img, #unclip-diff-gallery img {
  object-fit: contain !important; image-rendering: pixelated
}
"""  # joined into the app's stylesheet by studio/app.py


def _seed_settings_and_run(prefix: str, defaults, seed_label: str, run_label: str, cfg_info: str | None = None):
    """The controls every section ends with: seed, Settings (steps, guidance scale), the run and Stop buttons.

    Returns (seed, steps, cfg, run, stop); element ids are `unclip-<prefix>-seed|steps|cfg|run|stop`.
    """
    seed = gr.Number(
        value=defaults.seed,
        precision=0,
        minimum=-1,
        maximum=MAX_SEED,
        label=seed_label,
        elem_id=f"unclip-{prefix}-seed",
    )
    with gr.Accordion("Settings", open=False):
        steps = gr.Slider(1, MAX_STEPS, value=defaults.steps, step=1, label="Steps", elem_id=f"unclip-{prefix}-steps")
        cfg = gr.Slider(
            0,
            30,
            value=defaults.guidance_scale,
            step=0.5,
            label="Guidance scale",
            info=cfg_info,
            elem_id=f"unclip-{prefix}-cfg",
        )
    with gr.Row():
        run = gr.Button(run_label, variant="primary", scale=3, elem_id=f"unclip-{prefix}-run")
        stop = gr.Button("Stop", variant="stop", scale=1, elem_id=f"unclip-{prefix}-stop")
    return seed, steps, cfg, run, stop


def _no_model_error() -> gr.Error:
    return gr.Error("No unCLIP model is installed: add a StableUnCLIPImg2ImgPipeline folder (e.g. shapes-unclip).")


def build(manager: PipelineManager, stop_flags: StopFlags, txt2img_gallery: gr.Gallery | None = None) -> None:
    """Builds the tab inside the current `gr.Blocks`/`gr.Tab` context."""
    names = manager.registry.names(UNCLIP)
    default = manager.registry.default(UNCLIP)
    default_name = default.name if default else None

    gr.Markdown(INTRO, elem_id="unclip-intro")
    model = gr.Dropdown(names, value=default_name, label="unCLIP model", elem_id="unclip-model")

    def run(work, progress, request):
        """Runs `work(on_step, stop)` in the worker; yields ("preview", ...) and finally ("result", result)."""
        with session_stop_flag(stop_flags, request) as stop:
            yield from generation_events(lambda on_step: work(on_step, stop), progress)

    def stop_generation(request: gr.Request):
        stopped = stop_flags.stop(request.session_hash or "anonymous")
        return "Stopping…" if stopped else gr.skip()

    def entry_for(model_name):
        if not names:
            raise _no_model_error()
        try:
            return manager.entry(model_name or None, UNCLIP)
        except ValueError as e:
            raise to_gradio_error(e) from e

    # ------------------------------------------------------------------ Variations
    with gr.Tab("Variations", id="unclip-variations", elem_id="unclip-tab-variations"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                var_image = gr.Image(
                    label="Image",
                    type="pil",
                    image_mode="RGB",
                    sources=("upload", "clipboard"),
                    height=256,
                    elem_id="unclip-var-image",
                )
                with gr.Row():
                    var_example = gr.Button("Example image", size="sm", elem_id="unclip-var-example")
                    if txt2img_gallery is not None:
                        var_from_txt2img = gr.Button(
                            "⬅ First Text-to-image result", size="sm", elem_id="unclip-var-from-txt2img"
                        )
                with gr.Row(equal_height=True):
                    caption = gr.Textbox(
                        label="…or draw one from a caption (prior → decoder)",
                        placeholder="e.g. a green triangle on the left",
                        scale=3,
                        elem_id="unclip-caption",
                    )
                    caption_btn = gr.Button("Draw", size="sm", scale=1, elem_id="unclip-caption-run")
                var_count = gr.Slider(
                    1, MAX_VARIATIONS, value=VAR.count, step=1, label="Variations", elem_id="unclip-var-count"
                )
                var_noise = gr.Slider(
                    0,
                    MAX_NOISE_LEVEL,
                    value=VAR.noise_level,
                    step=1,
                    label="How far they stray: embedding noise",
                    info="0 keeps the image's CLIP embedding; higher noises it (Stable unCLIP's noise_level)",
                    elem_id="unclip-var-noise",
                )
                var_eta = gr.Slider(
                    0,
                    1,
                    value=VAR.eta,
                    step=0.05,
                    label="DDIM η",
                    info="0 deterministic per seed; 1 fresh noise at every step",
                    elem_id="unclip-var-eta",
                )
                var_seed, var_steps, var_cfg, var_btn, var_stop = _seed_settings_and_run(
                    "var", VAR, "Seed (-1 = random; image i uses seed + i)", "Make variations"
                )
            with gr.Column(scale=5, min_width=300):
                var_gallery = result_gallery("Variations", "unclip-var-gallery", columns=4, height=300)
                var_status = gr.Markdown("", elem_id="unclip-var-status")
                var_used_seed = used_seed_box("unclip-var-used-seed")

    def make_variations(
        image,
        count: float = VAR.count,
        noise_level: float = VAR.noise_level,
        eta: float = VAR.eta,
        seed: float = VAR.seed,
        steps: float = VAR.steps,
        guidance_scale: float = VAR.guidance_scale,
        model: str | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
    ):
        """Variations of `image`: its CLIP image embedding decoded from fresh noise, one seed per image."""
        entry = entry_for(model)
        if image is None:
            raise gr.Error("`image` is missing: upload an image (or press Example image)", title="Cannot generate")
        req = VariationsRequest(
            image=image,
            model=entry.name,
            count=int(count),
            noise_level=int(noise_level),
            eta=float(eta),
            seed=int(seed) if seed is not None else -1,
            steps=int(steps),
            guidance_scale=float(guidance_scale),
        )
        started = time.perf_counter()
        if not manager.is_loaded(entry.name):
            progress(None, desc=f"Loading {entry.name}…")

        def work(on_step, stop):
            return variations(manager, req, on_step=on_step, stop=stop, preview_every=max(2, req.steps // 3))

        for kind, item in run(work, progress, request):
            if kind == "preview":
                yield [(item.preview, "preview")], f"Step {item.step}/{item.total}…", gr.skip()
            else:
                res = item
        note = f"Done in {time.perf_counter() - started:.1f} s · seeds {res.seed}–{res.seed + len(res.images) - 1}"
        if res.stopped:
            note = f"Stopped after {len(res.images)} of {req.count} images"
        yield list(zip(res.images, res.labels)), note, res.seed

    var_inputs = [var_image, var_count, var_noise, var_eta, var_seed, var_steps, var_cfg, model]
    explain_unreadable_inputs(var_inputs, make_variations)
    variations_event = var_btn.click(
        make_variations,
        inputs=var_inputs,
        outputs=[var_gallery, var_status, var_used_seed],
        api_name="variations",
        concurrency_id="device",
        concurrency_limit=1,
        show_progress_on=[var_gallery],
    )
    reveal_when_done(variations_event, var_used_seed)
    var_stop.click(stop_generation, outputs=[var_status], queue=False, api_visibility="private")

    def draw_from_caption(
        caption: str,
        seed: float = VAR.seed,
        model: str | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008
    ):
        """An image from a caption: the prior maps it to a CLIP image embedding, the decoder draws that."""
        entry = entry_for(model)
        req = CaptionRequest(caption=caption or "", model=entry.name, seed=int(seed) if seed is not None else -1)
        warn_unknown_words(entry, req.caption)

        def work(on_step, stop):
            return caption_to_image(manager, req, on_step=on_step, stop=stop)

        for kind, item in run(work, progress, request):
            if kind == "result":
                res = item
        if not res.images:
            return gr.skip(), "Stopped"
        return res.images[0], f"Drawn from “{req.caption}” (seed {res.seed}): now make variations of it"

    caption_inputs = [caption, var_seed, model]
    caption_btn.click(
        draw_from_caption,
        inputs=caption_inputs,
        outputs=[var_image, var_status],
        api_name="caption_to_image",
        concurrency_id="device",
        concurrency_limit=1,
        show_progress_on=[var_image],
    )
    var_example.click(
        lambda: example_image("a large red circle in the center", 0),
        outputs=[var_image],
        queue=False,
        api_visibility="private",
    )
    if txt2img_gallery is not None:

        def take(images):
            if not images:
                raise gr.Error("Text to image has no result yet: generate one there first.")
            item = images[0]
            return item[0] if isinstance(item, (tuple, list)) else item

        var_from_txt2img.click(
            take, inputs=[txt2img_gallery], outputs=[var_image], queue=False, api_visibility="private"
        )

    # ------------------------------------------------------------------ Interpolation
    with gr.Tab("Interpolation", id="unclip-interpolation", elem_id="unclip-tab-interpolation"):
        strip_state = gr.State([])  # the computed frames (PIL), per session; the slider picks from it
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                with gr.Row():
                    image_a = gr.Image(
                        label="Image A (θ = 0)",
                        type="pil",
                        image_mode="RGB",
                        sources=("upload", "clipboard"),
                        height=200,
                        elem_id="unclip-image-a",
                    )
                    image_b = gr.Image(
                        label="Image B (θ = 1)",
                        type="pil",
                        image_mode="RGB",
                        sources=("upload", "clipboard"),
                        height=200,
                        elem_id="unclip-image-b",
                    )
                interp_example = gr.Button("Example pair", size="sm", elem_id="unclip-interp-example")
                frames = gr.Slider(2, MAX_FRAMES, value=INTERP.frames, step=1, label="Frames", elem_id="unclip-frames")
                noise_mode = gr.Radio(
                    [m.value for m in NoiseMode],
                    value=INTERP.noise_mode,
                    label="Noise x_T",
                    info="inverted: DDIM inversion of both images, so θ = 0 and 1 give them back; fixed: one seed",
                    elem_id="unclip-noise-mode",
                )
                interp_seed, interp_steps, interp_cfg, interp_btn, interp_stop = _seed_settings_and_run(
                    "interp",
                    INTERP,
                    "Seed (-1 = random)",
                    "Interpolate",
                    cfg_info="also guides the inversions; 1 = none (frames then jump from one end image to the other)",
                )
            with gr.Column(scale=5, min_width=300):
                frame = result_image("Frame", "unclip-frame", height=256)
                theta = gr.Slider(
                    0,
                    1,
                    value=0,
                    step=0.001,
                    label="θ (scrubs the computed strip; no generation)",
                    elem_id="unclip-theta",
                )
                strip = result_gallery("Strip", "unclip-strip", columns=8, height=140)
                gif = gr.File(label="GIF", interactive=False, elem_id="unclip-gif")
                interp_status = gr.Markdown("", elem_id="unclip-interp-status")

    def run_interpolation(
        image_a,
        image_b,
        frames: float = INTERP.frames,
        noise_mode: str = INTERP.noise_mode,
        seed: float = INTERP.seed,
        steps: float = INTERP.steps,
        guidance_scale: float = INTERP.guidance_scale,
        model: str | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008
    ):
        """Frames from image A (θ = 0) to image B (θ = 1): slerp of CLIP image embeddings and of the noise.

        Returns the strip, the first frame, θ reset to 0, a looping GIF, a status line and the frames (state).
        """
        entry = entry_for(model)
        for value, name in ((image_a, "image_a"), (image_b, "image_b")):
            if value is None:
                raise gr.Error(
                    f"`{name}` is missing: upload two images (or press Example pair)", title="Cannot generate"
                )
        req = InterpolationRequest(
            image_a=image_a,
            image_b=image_b,
            model=entry.name,
            frames=int(frames),
            noise_mode=noise_mode,
            seed=int(seed) if seed is not None else -1,
            steps=int(steps),
            guidance_scale=float(guidance_scale),
        )
        started = time.perf_counter()
        if not manager.is_loaded(entry.name):
            progress(None, desc=f"Loading {entry.name}…")

        def work(on_step, stop):
            return interpolate(manager, req, on_step=on_step, stop=stop, preview_every=max(2, req.steps // 3))

        for kind, item in run(work, progress, request):
            if kind == "preview":
                yield gr.skip(), item.preview, gr.skip(), gr.skip(), f"Step {item.step}/{item.total}…", gr.skip()
            else:
                res = item
        if not res.images:
            yield [], None, 0, None, "Stopped before the first frame", []
            return
        path = Path(tempfile.mkdtemp(prefix="unclip-")) / "interpolation.gif"
        save_gif(res.images, path)
        note = f"Done in {time.perf_counter() - started:.1f} s · seed {res.seed} · noise {req.noise_mode}"
        if res.stopped:
            note = f"Stopped after {len(res.images)} of {req.frames} frames"
        yield list(zip(res.images, res.labels)), res.images[0], 0, str(path), note, res.images

    def pick_frame(frames_state: list, theta_value: float):
        """The computed frame nearest to θ (no model call)."""
        if not frames_state:
            return gr.skip()
        index = round(float(theta_value or 0) * (len(frames_state) - 1))
        return frames_state[max(0, min(index, len(frames_state) - 1))]

    interp_inputs = [image_a, image_b, frames, noise_mode, interp_seed, interp_steps, interp_cfg, model]
    explain_unreadable_inputs(interp_inputs, run_interpolation)
    interp_btn.click(
        run_interpolation,
        inputs=interp_inputs,
        outputs=[strip, frame, theta, gif, interp_status, strip_state],
        api_name="interpolate",
        concurrency_id="device",
        concurrency_limit=1,
        show_progress_on=[frame],
    )
    theta.change(
        pick_frame,
        inputs=[strip_state, theta],
        outputs=[frame],
        queue=False,
        api_visibility="private",
        show_progress="hidden",
        trigger_mode="always_last",
    )
    interp_stop.click(stop_generation, outputs=[interp_status], queue=False, api_visibility="private")
    interp_example.click(
        lambda: (
            example_image("a large red circle on the left", 1),
            example_image("a large blue square on the right", 2),
        ),
        outputs=[image_a, image_b],
        queue=False,
        api_visibility="private",
    )

    # ------------------------------------------------------------------ Text diff
    with gr.Tab("Text diff", id="unclip-text-diff", elem_id="unclip-tab-text-diff"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                diff_image = gr.Image(
                    label="Image",
                    type="pil",
                    image_mode="RGB",
                    sources=("upload", "clipboard"),
                    height=220,
                    elem_id="unclip-diff-image",
                )
                diff_example = gr.Button("Example image", size="sm", elem_id="unclip-diff-example")
                source = gr.Textbox(
                    label="What the image shows (filled by CLIP's best match; edit it)", elem_id="unclip-diff-source"
                )
                target = gr.Textbox(
                    label="What it should show", placeholder="e.g. a blue circle", elem_id="unclip-diff-target"
                )
                diff_theta = gr.Slider(
                    0,
                    1,
                    value=DIFF.theta,
                    step=0.05,
                    label="θ (how far towards the target)",
                    elem_id="unclip-diff-theta",
                )
                diff_frames = gr.Slider(
                    1,
                    8,
                    value=DIFF.frames,
                    step=1,
                    label="Frames (θ from 0 to the value above)",
                    elem_id="unclip-diff-frames",
                )
                diff_seed, diff_steps, diff_cfg, diff_btn, diff_stop = _seed_settings_and_run(
                    "diff", DIFF, "Seed (-1 = random)", "Apply text diff"
                )
            with gr.Column(scale=5, min_width=300):
                diff_gallery = result_gallery("Edit along θ", "unclip-diff-gallery", columns=4, height=300)
                diff_status = gr.Markdown("", elem_id="unclip-diff-status")

    def run_text_diff(
        image,
        source_caption: str,
        target_caption: str,
        theta: float = DIFF.theta,
        frames: float = DIFF.frames,
        seed: float = DIFF.seed,
        steps: float = DIFF.steps,
        guidance_scale: float = DIFF.guidance_scale,
        model: str | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008
    ):
        """Edits `image` towards `target_caption` − `source_caption`: frames at θ = 0 .. `theta`."""
        entry = entry_for(model)
        if image is None:
            raise gr.Error("`image` is missing: upload an image (or press Example image)", title="Cannot generate")
        req = TextDiffRequest(
            image=image,
            source_caption=source_caption or "",
            target_caption=target_caption or "",
            model=entry.name,
            theta=float(theta),
            frames=int(frames),
            seed=int(seed) if seed is not None else -1,
            steps=int(steps),
            guidance_scale=float(guidance_scale),
        )
        warn_unknown_words(entry, req.source_caption, req.target_caption)
        started = time.perf_counter()
        if not manager.is_loaded(entry.name):
            progress(None, desc=f"Loading {entry.name}…")

        def work(on_step, stop):
            return text_diff(manager, req, on_step=on_step, stop=stop, preview_every=max(2, req.steps // 3))

        for kind, item in run(work, progress, request):
            if kind == "preview":
                yield [(item.preview, "preview")], f"Step {item.step}/{item.total}…"
            else:
                res = item
        note = f"Done in {time.perf_counter() - started:.1f} s · seed {res.seed}"
        if res.stopped:
            note = f"Stopped after {len(res.images)} of {req.frames} frames"
        yield list(zip(res.images, res.labels)), note

    def caption_it(image, model_name):
        """Prefills the source caption with the CLIP's best match among shapes-world captions."""
        if image is None or not names:
            return gr.skip()
        entry = manager.entry(model_name or None, UNCLIP)
        if entry.vocabulary != "shapes":
            return gr.skip()
        try:
            return best_caption(manager, entry.name, image, shapes_captions())
        except ValueError as e:
            logger.info("no caption for the image: %s", e)
            return gr.skip()

    diff_inputs = [diff_image, source, target, diff_theta, diff_frames, diff_seed, diff_steps, diff_cfg, model]
    explain_unreadable_inputs(diff_inputs, run_text_diff)
    diff_btn.click(
        run_text_diff,
        inputs=diff_inputs,
        outputs=[diff_gallery, diff_status],
        api_name="text_diff",
        concurrency_id="device",
        concurrency_limit=1,
        show_progress_on=[diff_gallery],
    )
    diff_image.upload(
        caption_it, inputs=[diff_image, model], outputs=[source], api_visibility="private", concurrency_id="device"
    )
    diff_stop.click(stop_generation, outputs=[diff_status], queue=False, api_visibility="private")

    def diff_example_values():
        image = example_image("a large red circle in the center", 3)
        return image, "a red circle", "a blue circle"

    diff_example.click(
        diff_example_values, outputs=[diff_image, source, target], queue=False, api_visibility="private"
    )
