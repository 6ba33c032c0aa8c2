"""The unCLIP tab (DALL-E 2): variations of an image, an interpolation strip with a slider, text-diff edits.

API endpoints: `/variations`, `/interpolate`, `/text_diff`, `/caption_to_image`; their named inputs are the
handlers' parameters (after the bound manager and Stop flags).
The interpolation slider only picks a frame of the computed strip (kept in the session's `gr.State`): moving
it never runs the model.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import gradio as gr

from pipelines.capabilities import UNCLIP_ACTIONS, default_for, models_for, require
from pipelines.manager import PipelineManager
from pipelines.unclip import (
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

from .components import (
    DEVICE_EVENT,
    PRIVATE,
    limit_slider,
    result_gallery,
    result_image,
    reveal_when_done,
    run_buttons,
    seed_box,
    used_seed_box,
    wire_stop,
)
from .errors import explain_unreadable_inputs
from .runner import bind, build_request, run_action, seed_of, warn_unknown_words
from .sessions import StopFlags
from .upscale_panel import upscale_panel

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


def preview_every(steps: int) -> int:
    return max(2, steps // 3)


def unclip_entry(manager: PipelineManager, model_name: str | None):
    """The registry entry of the picked unCLIP model, or a message saying how to get one."""
    if not models_for(manager.registry, UNCLIP_ACTIONS):
        raise gr.Error("No unCLIP model is installed: add a StableUnCLIPImg2ImgPipeline folder (e.g. shapes-unclip).")
    return build_request(lambda: require(manager, UNCLIP_ACTIONS, model_name or None))


def require_image(value, name: str, hint: str) -> None:
    if value is None:
        raise gr.Error(f"`{name}` is missing: upload {hint}", title="Cannot generate")


# ---------------------------------------------------------------------------------------------- handlers
def make_variations(
    manager: PipelineManager,
    stop_flags: StopFlags,
    image,
    count: float = VAR.count,
    noise_level: float = VAR.noise_level,
    eta: float = VAR.eta,
    seed: float = VAR.seed,
    steps: float = VAR.steps,
    cfg_scale: float = VAR.cfg_scale,
    model: str | None = None,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
):
    """Variations of an image (unCLIP, DALL-E 2): its CLIP image embedding decoded from fresh noise, a seed each.

    Args:
        image: the picture to vary.
        count: how many variations, {variations}.
        noise_level: noise added to the image embedding before decoding, {noise_level} (higher strays further).
        eta: DDIM η, {eta} (0 deterministic per seed, 1 fresh noise at every step).
        seed: -1 for random; variation i uses seed + i.
        steps: DDIM steps, {steps}.
        cfg_scale: guidance scale on the image embedding, {cfg_scale}.
        model: an unCLIP model name; empty = the default.

    Returns:
        the variations, a status line, and the first seed used.
    """
    entry = unclip_entry(manager, model)
    require_image(image, "image", "an image (or press Example image)")
    req = build_request(
        lambda: VariationsRequest(
            image=image,
            model=entry.name,
            count=int(count),
            noise_level=int(noise_level),
            eta=float(eta),
            seed=seed_of(seed),
            steps=int(steps),
            cfg_scale=float(cfg_scale),
        )
    )
    finished = yield from run_action(
        variations,
        req,
        manager,
        stop_flags,
        request,
        progress,
        show=lambda info: ([(info.preview, "preview")], f"Step {info.step}/{info.total}…", gr.skip()),
        preview_every=preview_every(req.steps),
    )
    res = finished.result
    seeds = f" · seeds {res.seed}–{res.seed + len(res.images) - 1}"
    status = finished.status("Done", f": {len(res.images)} of {req.count} images finished") + seeds
    yield list(zip(res.images, res.labels)), status, res.seed


def draw_from_caption(
    manager: PipelineManager,
    stop_flags: StopFlags,
    caption: str,
    seed: float = VAR.seed,
    model: str | None = None,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008
):
    """An image from a caption with unCLIP's prior (caption -> CLIP image embedding) and decoder.

    Args:
        caption: what to draw, e.g. "a large blue square".
        seed: -1 for random.
        model: an unCLIP model with a prior; empty = the default.

    Returns:
        the image and a status line.
    """
    entry = unclip_entry(manager, model)
    req = build_request(lambda: CaptionRequest(caption=caption or "", model=entry.name, seed=seed_of(seed)))
    warn_unknown_words(entry, req.caption)
    finished = yield from run_action(caption_to_image, req, manager, stop_flags, request, progress)
    res = finished.result
    if not res.images:
        yield gr.skip(), finished.status("Done")
        return
    yield res.images[0], f"Drawn from “{req.caption}” (seed {res.seed}): now make variations of it"


def first_result(images):
    """The first Text-to-image result, for the Variations input."""
    if not images:
        raise gr.Error("Text to image has no result yet: generate one there first.")
    item = images[0]
    return item[0] if isinstance(item, (tuple, list)) else item


def run_interpolation(
    manager: PipelineManager,
    stop_flags: StopFlags,
    image_a,
    image_b,
    frames: float = INTERP.frames,
    noise_mode: str = INTERP.noise_mode,
    seed: float = INTERP.seed,
    steps: float = INTERP.steps,
    cfg_scale: float = INTERP.cfg_scale,
    model: str | None = None,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008
):
    """Frames from image A (θ = 0) to image B (θ = 1): slerp of the two CLIP image embeddings (and of the noise).

    Args:
        image_a: the first picture (θ = 0).
        image_b: the last picture (θ = 1).
        frames: how many frames, {interpolation_frames}.
        noise_mode: "inverted" (DDIM inversions of both images: the ends reproduce them) or "fixed" (one seed's noise).
        seed: -1 for random.
        steps: DDIM steps, {steps} (also of the inversions).
        cfg_scale: guidance scale, {cfg_scale} (also guides the inversions).
        model: an unCLIP model name; empty = the default.

    Returns:
        the strip of frames, the first frame, θ = 0, a looping GIF, and a status line.
    """
    entry = unclip_entry(manager, model)
    require_image(image_a, "image_a", "two images (or press Example pair)")
    require_image(image_b, "image_b", "two images (or press Example pair)")
    req = build_request(
        lambda: InterpolationRequest(
            image_a=image_a,
            image_b=image_b,
            model=entry.name,
            frames=int(frames),
            noise_mode=noise_mode,
            seed=seed_of(seed),
            steps=int(steps),
            cfg_scale=float(cfg_scale),
        )
    )

    def show(info):
        return gr.skip(), info.preview, gr.skip(), gr.skip(), f"Step {info.step}/{info.total}…", gr.skip()

    finished = yield from run_action(
        interpolate, req, manager, stop_flags, request, progress, show=show, preview_every=preview_every(req.steps)
    )
    res = finished.result
    if not res.images:
        yield [], None, 0, None, finished.status("Done", ", before the first frame"), []
        return
    path = Path(tempfile.mkdtemp(prefix="unclip-")) / "interpolation.gif"
    save_gif(res.images, path)
    status = finished.status("Done", f": {len(res.images)} of {req.frames} frames finished")
    status += f" · seed {res.seed} · noise {req.noise_mode}"
    yield list(zip(res.images, res.labels)), res.images[0], 0, str(path), status, res.images


def pick_frame(frames_state: list, theta_value: float):
    """The computed frame nearest to θ (no model call)."""
    if not frames_state:
        return gr.skip()
    index = round(float(theta_value or 0) * (len(frames_state) - 1))
    return frames_state[max(0, min(index, len(frames_state) - 1))]


def run_text_diff(
    manager: PipelineManager,
    stop_flags: StopFlags,
    image,
    source_caption: str,
    target_caption: str,
    theta: float = DIFF.theta,
    frames: float = DIFF.frames,
    seed: float = DIFF.seed,
    steps: float = DIFF.steps,
    cfg_scale: float = DIFF.cfg_scale,
    model: str | None = None,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008
):
    """Edits an image by a text difference (DALL-E 2's text diffs): its CLIP image embedding is turned towards
    normalize(z(target_caption) − z(source_caption)), keeping the picture's layout.

    Args:
        image: the picture to edit.
        source_caption: what the image shows, e.g. "a red circle".
        target_caption: what it should show, e.g. "a blue circle".
        theta: how far towards the target, {theta}.
        frames: how many frames from θ = 0 to `theta`, {text_diff_frames}.
        seed: -1 for random.
        steps: DDIM steps, {steps}.
        cfg_scale: guidance scale, {cfg_scale}.
        model: an unCLIP model name; empty = the default.

    Returns:
        the frames along θ and a status line.
    """
    entry = unclip_entry(manager, model)
    require_image(image, "image", "an image (or press Example image)")
    req = build_request(
        lambda: TextDiffRequest(
            image=image,
            source_caption=source_caption or "",
            target_caption=target_caption or "",
            model=entry.name,
            theta=float(theta),
            frames=int(frames),
            seed=seed_of(seed),
            steps=int(steps),
            cfg_scale=float(cfg_scale),
        )
    )
    warn_unknown_words(entry, req.source_caption, req.target_caption)
    finished = yield from run_action(
        text_diff,
        req,
        manager,
        stop_flags,
        request,
        progress,
        show=lambda info: ([(info.preview, "preview")], f"Step {info.step}/{info.total}…"),
        preview_every=preview_every(req.steps),
    )
    res = finished.result
    status = finished.status("Done", f": {len(res.images)} of {req.frames} frames finished") + f" · seed {res.seed}"
    yield list(zip(res.images, res.labels)), status


def caption_it(manager: PipelineManager, image, model_name):
    """Prefills the source caption with the CLIP's best match among shapes-world captions."""
    if image is None or not models_for(manager.registry, UNCLIP_ACTIONS):
        return gr.skip()
    entry = require(manager, UNCLIP_ACTIONS, model_name or None)
    if entry.vocabulary != "shapes":
        return gr.skip()
    try:
        return best_caption(manager, entry.name, image, shapes_captions())
    except ValueError as e:
        logger.info("no caption for the image: %s", e)
        return gr.skip()


def example_pair():
    return example_image("a large red circle on the left", 1), example_image("a large blue square on the right", 2)


def diff_example_values():
    return example_image("a large red circle in the center", 3), "a red circle", "a blue circle"


# ---------------------------------------------------------------------------------------------- layout
def build(manager: PipelineManager, stop_flags: StopFlags, txt2img_gallery: gr.Gallery | None = None) -> None:
    """Builds the tab inside the current `gr.Blocks`/`gr.Tab` context: three sub-tabs sharing the model picker."""
    default = default_for(manager.registry, UNCLIP_ACTIONS)
    gr.Markdown(INTRO, elem_id="unclip-intro")
    model = gr.Dropdown(
        models_for(manager.registry, UNCLIP_ACTIONS),
        value=default.name if default else None,
        label="unCLIP model",
        elem_id="unclip-model",
    )
    with gr.Tab("Variations", id="unclip-variations", elem_id="unclip-tab-variations"):
        _variations(manager, stop_flags, model, txt2img_gallery)
    with gr.Tab("Interpolation", id="unclip-interpolation", elem_id="unclip-tab-interpolation"):
        _interpolation(manager, stop_flags, model)
    with gr.Tab("Text diff", id="unclip-text-diff", elem_id="unclip-tab-text-diff"):
        _text_diff(manager, stop_flags, model)


def _seed_settings_and_run(prefix: str, defaults, seed_label: str, run_label: str, cfg_info: str | None = None):
    """The controls every section ends with: seed, Settings (steps, guidance scale), the run and Stop buttons.

    Returns (seed, steps, cfg, run, stop); element ids are `unclip-<prefix>-seed|steps|cfg|run|stop`.
    """
    seed = seed_box(defaults.seed, seed_label, f"unclip-{prefix}-seed")
    with gr.Accordion("Settings", open=False):
        steps = limit_slider("steps", defaults.steps, "Steps", f"unclip-{prefix}-steps")
        cfg = limit_slider("cfg_scale", defaults.cfg_scale, "Guidance scale", f"unclip-{prefix}-cfg", info=cfg_info)
    run, stop = run_buttons(run_label, f"unclip-{prefix}")
    return seed, steps, cfg, run, stop


def _image_input(label: str, elem_id: str, height: int) -> gr.Image:
    return gr.Image(
        label=label, type="pil", image_mode="RGB", sources=("upload", "clipboard"), height=height, elem_id=elem_id
    )


def _variations(manager, stop_flags, model, txt2img_gallery) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            image = _image_input("Image", "unclip-var-image", 256)
            with gr.Row():
                example = gr.Button("Example image", size="sm", elem_id="unclip-var-example")
                if txt2img_gallery is not None:
                    from_txt2img = gr.Button(
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
            count = limit_slider("variations", VAR.count, "Variations", "unclip-var-count")
            noise = limit_slider(
                "noise_level",
                VAR.noise_level,
                "How far they stray: embedding noise",
                "unclip-var-noise",
                info="0 keeps the image's CLIP embedding; higher noises it (Stable unCLIP's noise_level)",
            )
            eta = limit_slider(
                "eta",
                VAR.eta,
                "DDIM η",
                "unclip-var-eta",
                info="0 deterministic per seed; 1 fresh noise at every step",
            )
            seed, steps, cfg, run, stop = _seed_settings_and_run(
                "var", VAR, "Seed (-1 = random; image i uses seed + i)", "Make variations"
            )
        with gr.Column(scale=5, min_width=300):
            gallery = result_gallery("Variations", "unclip-var-gallery", columns=4, height=300)
            status = gr.Markdown("", elem_id="unclip-var-status")
            used_seed = used_seed_box("unclip-var-used-seed")
            upscale_panel(manager, stop_flags, gallery, None, "unclip-var")

    inputs = [image, count, noise, eta, seed, steps, cfg, model]
    handler = bind(make_variations, manager, stop_flags, name="variations")
    explain_unreadable_inputs(inputs, handler)
    event = run.click(
        handler,
        inputs=inputs,
        outputs=[gallery, status, used_seed],
        api_name="variations",
        show_progress_on=[gallery],
        **DEVICE_EVENT,
    )
    reveal_when_done(event, used_seed)
    wire_stop(stop, stop_flags, status)
    caption_btn.click(
        bind(draw_from_caption, manager, stop_flags, name="caption_to_image"),
        inputs=[caption, seed, model],
        outputs=[image, status],
        api_name="caption_to_image",
        show_progress_on=[image],
        **DEVICE_EVENT,
    )
    example.click(lambda: example_image("a large red circle in the center", 0), outputs=[image], **PRIVATE)
    if txt2img_gallery is not None:
        from_txt2img.click(first_result, inputs=[txt2img_gallery], outputs=[image], **PRIVATE)


def _interpolation(manager, stop_flags, model) -> None:
    strip_state = gr.State([])  # the computed frames (PIL), per session; the slider picks from it
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            with gr.Row():
                image_a = _image_input("Image A (θ = 0)", "unclip-image-a", 200)
                image_b = _image_input("Image B (θ = 1)", "unclip-image-b", 200)
            example = gr.Button("Example pair", size="sm", elem_id="unclip-interp-example")
            frames = limit_slider("interpolation_frames", INTERP.frames, "Frames", "unclip-frames")
            noise_mode = gr.Radio(
                NoiseMode.labels(),
                value=INTERP.noise_mode,
                label="Noise x_T",
                info="inverted: DDIM inversion of both images, so θ = 0 and 1 give them back; fixed: one seed",
                elem_id="unclip-noise-mode",
            )
            seed, steps, cfg, run, stop = _seed_settings_and_run(
                "interp",
                INTERP,
                "Seed (-1 = random)",
                "Interpolate",
                cfg_info="also guides the inversions; 1 = none (frames then jump from one end image to the other)",
            )
        with gr.Column(scale=5, min_width=300):
            frame = result_image("Frame", "unclip-frame", height=256)
            theta = gr.Slider(
                0, 1, value=0, step=0.001, label="θ (scrubs the computed strip; no generation)", elem_id="unclip-theta"
            )
            strip = result_gallery("Strip", "unclip-strip", columns=8, height=140)
            gif = gr.File(label="GIF", interactive=False, elem_id="unclip-gif")
            status = gr.Markdown("", elem_id="unclip-interp-status")

    inputs = [image_a, image_b, frames, noise_mode, seed, steps, cfg, model]
    handler = bind(run_interpolation, manager, stop_flags, name="interpolate")
    explain_unreadable_inputs(inputs, handler)
    run.click(
        handler,
        inputs=inputs,
        outputs=[strip, frame, theta, gif, status, strip_state],
        api_name="interpolate",
        show_progress_on=[frame],
        **DEVICE_EVENT,
    )
    theta.change(
        pick_frame,
        inputs=[strip_state, theta],
        outputs=[frame],
        show_progress="hidden",
        trigger_mode="always_last",
        **PRIVATE,
    )
    wire_stop(stop, stop_flags, status)
    example.click(example_pair, outputs=[image_a, image_b], **PRIVATE)


def _text_diff(manager, stop_flags, model) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            image = _image_input("Image", "unclip-diff-image", 220)
            example = gr.Button("Example image", size="sm", elem_id="unclip-diff-example")
            source = gr.Textbox(
                label="What the image shows (filled by CLIP's best match; edit it)", elem_id="unclip-diff-source"
            )
            target = gr.Textbox(
                label="What it should show", placeholder="e.g. a blue circle", elem_id="unclip-diff-target"
            )
            theta = limit_slider("theta", DIFF.theta, "θ (how far towards the target)", "unclip-diff-theta")
            frames = limit_slider(
                "text_diff_frames", DIFF.frames, "Frames (θ from 0 to the value above)", "unclip-diff-frames"
            )
            seed, steps, cfg, run, stop = _seed_settings_and_run("diff", DIFF, "Seed (-1 = random)", "Apply text diff")
        with gr.Column(scale=5, min_width=300):
            gallery = result_gallery("Edit along θ", "unclip-diff-gallery", columns=4, height=300)
            status = gr.Markdown("", elem_id="unclip-diff-status")
            upscale_panel(manager, stop_flags, gallery, target, "unclip-diff")

    inputs = [image, source, target, theta, frames, seed, steps, cfg, model]
    handler = bind(run_text_diff, manager, stop_flags, name="text_diff")
    explain_unreadable_inputs(inputs, handler)
    run.click(
        handler,
        inputs=inputs,
        outputs=[gallery, status],
        api_name="text_diff",
        show_progress_on=[gallery],
        **DEVICE_EVENT,
    )
    image.upload(
        bind(caption_it, manager),
        inputs=[image, model],
        outputs=[source],
        api_visibility="private",
        concurrency_id="device",  # reads the model, but a caption is quick: no limit of its own
    )
    wire_stop(stop, stop_flags, status)
    example.click(diff_example_values, outputs=[image, source, target], **PRIVATE)
