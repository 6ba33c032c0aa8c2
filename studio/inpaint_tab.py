"""The Inpainting tab: paint a mask over an image, describe what should be there, compare two methods.

The main action is the API endpoint `/inpaint`; its named inputs are the parameters of `generate`. The mask is read
from the editor's layer alpha (exact), never from the lossy composite, and resized to the image on the server.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import gradio as gr

from pipelines.inpaint import (
    MAX_RESAMPLE,
    InpaintRequest,
    Method,
    inpaint,
    inpainting_model_for,
    inpainting_models,
    mask_preview,
)
from pipelines.manager import PipelineManager
from pipelines.masks import MAX_FEATHER, MAX_OUTPAINT, MAX_PADDING, mask_from_layers
from pipelines.models import TXT2IMG
from pipelines.samplers import Sampler
from pipelines.text_to_image import MAX_SEED, MAX_STEPS

from .components import result_gallery, reveal_when_done, run_details
from .errors import explain_unreadable_inputs, to_gradio_error
from .sessions import StopFlags
from .worker import generation_events, session_stop_flag, warn_unknown_words

logger = logging.getLogger(__name__)

DEFAULTS = InpaintRequest(prompt="")
SIDES = ["left", "right", "top", "bottom"]
HELP = """**1.** Upload an image (or take the selected one from *Text to image*).
**2.** Pick the brush (✎ in the editor's left toolbar; the eraser, brush size, undo and clear are there too) and
paint over what should change — the painted part is regenerated, everything else is kept pixel for pixel.
**3.** Describe the whole picture you want — what stays and what is new, as in *a red circle to the left of a
green triangle* — and press **Inpaint**. *Any model* works with every text-to-image model (GLIDE's
replacement trick); *Inpainting model* uses a model trained for it (its UNet also sees the mask). *Both* runs them
side by side on the same seed."""


@dataclass
class InpaintTab:
    """Handles for the app builder."""

    generate_event: gr.events.Dependency
    editor: gr.ImageEditor
    gallery: gr.Gallery


def _editor_image_and_mask(editor: dict | None):
    """(background RGBA array, bool mask of the painted layers resized to it), or raises a ValueError."""
    if not editor or editor.get("background") is None:
        raise ValueError("`image` is missing: upload an image (or send one from Text to image) first")
    background = editor["background"]
    height, width = background.shape[:2]
    return background, mask_from_layers(editor.get("layers"), (width, height))


def _needs_crop(width: int, height: int, entry) -> bool:
    """Whether the whole image cannot be worked on by the model (too many pixels, or sizes not multiples of 8)."""
    return width * height > entry.max_pixels or width % entry.size_multiple != 0 or height % entry.size_multiple != 0


def _outpaint_sides(sides: list[str] | None, pixels: float | None) -> dict[str, int]:
    chosen = set(sides or [])
    unknown = chosen - set(SIDES)
    if unknown:
        raise ValueError(f"`outpaint_sides` must be among {SIDES}, got {sorted(unknown)}")
    amount = int(pixels or 0)
    return {f"outpaint_{side}": amount if side in chosen else 0 for side in SIDES}


def build(manager: PipelineManager, stop_flags: StopFlags, txt2img_gallery: gr.Gallery | None = None) -> InpaintTab:
    """Builds the tab inside the current `gr.Blocks`/`gr.Tab` context.

    Args:
        txt2img_gallery: the text-to-image results; when given, a button takes its selected image as the input.
    """
    registry = manager.registry
    model_names = registry.names(TXT2IMG)
    default = registry.default(TXT2IMG)
    inpainters = [e.name for e in inpainting_models(manager)]
    default_inpainter = inpainting_model_for(manager, default) if default else None
    has_local_inpainter = default_inpainter is not None and default_inpainter.is_local

    gr.Markdown(HELP, elem_id="inpaint-help")
    with gr.Row(equal_height=False):
        with gr.Column(scale=6, min_width=340):
            editor = gr.ImageEditor(
                label="Image — paint over the part to regenerate",
                type="numpy",
                image_mode="RGBA",
                format="png",  # lossless: the mask is read exactly
                layers=False,
                sources=["upload", "clipboard"],
                brush=gr.Brush(default_size=8, colors=[("#ff00a0", 0.6)], color_mode="fixed"),
                eraser=gr.Eraser(default_size=8),
                transforms=[],
                canvas_size=(512, 512),
                height=440,
                elem_id="inpaint-editor",
            )
            with gr.Row():
                if txt2img_gallery is not None:
                    from_txt2img = gr.Button(
                        "⬅ Use the selected Text-to-image result", size="sm", elem_id="inpaint-from-txt2img"
                    )
                preview_btn = gr.Button("Show mask preview", size="sm", elem_id="inpaint-preview-btn")
            prompt = gr.Textbox(
                value="",
                label="Prompt — the whole finished picture",
                info="Name what stays as well as what is new: models fill the area far more reliably that way",
                lines=2,
                placeholder="e.g. a red circle to the left of a green triangle",
                elem_id="inpaint-prompt",
            )
            negative = gr.Textbox(
                value="",
                label="Negative prompt",
                lines=1,
                placeholder="What to avoid (optional)",
                elem_id="inpaint-negative",
            )
            method = gr.Radio(
                Method.labels(),
                value=Method.BOTH.label if has_local_inpainter else DEFAULTS.method,
                label="Method",
                elem_id="inpaint-method",
                info=None if inpainters else "No inpainting model is installed: only 'Any model' can run.",
            )
            with gr.Row():
                inpaint_btn = gr.Button("Inpaint", variant="primary", scale=3, elem_id="inpaint-generate")
                stop_btn = gr.Button("Stop", variant="stop", scale=1, elem_id="inpaint-stop")
            with gr.Accordion("Mask and area", open=True, elem_id="inpaint-mask-options"):
                strength = gr.Slider(
                    0.05,
                    1.0,
                    value=DEFAULTS.strength,
                    step=0.05,
                    label="Strength",
                    info="1 = paint from scratch; lower keeps more of what was there",
                    elem_id="inpaint-strength",
                )
                mask_blur = gr.Slider(
                    0,
                    MAX_FEATHER,
                    value=DEFAULTS.mask_blur,
                    step=1,
                    label="Mask blur (feather, px)",
                    info="0 = hard edge; more blends the new part into its surroundings",
                    elem_id="inpaint-mask-blur",
                )
                with gr.Row():
                    only_masked = gr.Checkbox(
                        value=DEFAULTS.only_masked,
                        label="Only the masked area, at full resolution",
                        info="Works on a box around the mask at the model's size — for big images",
                        elem_id="inpaint-only-masked",
                    )
                    padding = gr.Slider(
                        0,
                        MAX_PADDING,
                        value=DEFAULTS.only_masked_padding,
                        step=4,
                        label="Context around the mask (px)",
                        elem_id="inpaint-padding",
                    )
                with gr.Row():
                    outpaint_sides = gr.CheckboxGroup(
                        SIDES, value=[], label="Outpaint: extend the picture on", elem_id="inpaint-outpaint-sides"
                    )
                    outpaint_pixels = gr.Slider(
                        0, MAX_OUTPAINT, value=32, step=8, label="by (px)", elem_id="inpaint-outpaint-pixels"
                    )
            with gr.Accordion("Model and sampler", open=False, elem_id="inpaint-settings"):
                model = gr.Dropdown(
                    model_names,
                    value=default.name if default else None,
                    label="Model for 'Any model'",
                    elem_id="inpaint-model",
                )
                inpaint_model = gr.Dropdown(
                    inpainters,
                    value=default_inpainter.name if default_inpainter else None,
                    label="Inpainting model",
                    info="A model whose UNet takes the mask as input (9 channels)",
                    elem_id="inpaint-inpaint-model",
                )
                with gr.Row():
                    sampler = gr.Dropdown(
                        Sampler.labels(), value=DEFAULTS.sampler, label="Sampler", elem_id="inpaint-sampler"
                    )
                    steps = gr.Slider(
                        1, MAX_STEPS, value=DEFAULTS.steps, step=1, label="Steps", elem_id="inpaint-steps"
                    )
                cfg = gr.Slider(
                    0, 30, value=DEFAULTS.cfg_scale, step=0.5, label="CFG scale (guidance)", elem_id="inpaint-cfg"
                )
                resample = gr.Slider(
                    1,
                    MAX_RESAMPLE,
                    value=DEFAULTS.resample,
                    step=1,
                    label="Resample passes for 'Any model' (RePaint)",
                    info="Redraws each of the first half of the steps this many times so the new part fits what is "
                    "kept; 1 = plain replacement (fastest)",
                    elem_id="inpaint-resample",
                )
                seed = gr.Number(
                    value=DEFAULTS.seed,
                    precision=0,
                    minimum=-1,
                    maximum=MAX_SEED,
                    label="Seed (-1 = random; both methods use the same)",
                    elem_id="inpaint-seed",
                )
        with gr.Column(scale=5, min_width=320):
            gallery = result_gallery("Results (one per method)", "inpaint-gallery", columns=2, height="auto")
            status, used_seed, parameters = run_details("inpaint")
            preview = gr.Image(
                label="Mask preview (pink = regenerated)",
                type="numpy",
                format="png",
                interactive=False,
                height=240,
                elem_id="inpaint-mask-preview",
            )

    def generate(
        editor: dict | None,
        prompt: str,
        negative_prompt: str = "",
        method: str = DEFAULTS.method,
        model: str | None = None,
        inpaint_model: str | None = None,
        sampler: str = DEFAULTS.sampler,
        steps: float = DEFAULTS.steps,
        cfg_scale: float = DEFAULTS.cfg_scale,
        seed: float = DEFAULTS.seed,
        strength: float = DEFAULTS.strength,
        mask_blur: float = DEFAULTS.mask_blur,
        only_masked: bool = DEFAULTS.only_masked,
        only_masked_padding: float = DEFAULTS.only_masked_padding,
        outpaint_sides: list[str] | None = None,
        outpaint_pixels: float = 0,
        resample: float = DEFAULTS.resample,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
    ):
        """Regenerates the painted part of the image; yields the mask preview, then one image per method."""
        try:
            image, mask = _editor_image_and_mask(editor)
            entry = manager.entry(model or None, TXT2IMG)
            req = InpaintRequest(
                prompt=prompt or "",
                negative_prompt=negative_prompt or "",
                model=entry.name,
                inpaint_model=inpaint_model or None,
                method=method or DEFAULTS.method,
                sampler=sampler or DEFAULTS.sampler,
                steps=int(steps),
                cfg_scale=float(cfg_scale),
                seed=int(seed) if seed is not None else -1,
                strength=float(strength),
                mask_blur=int(mask_blur),
                only_masked=bool(only_masked),
                only_masked_padding=int(only_masked_padding),
                **_outpaint_sides(outpaint_sides, outpaint_pixels),
                resample=int(resample),
            )
        except (ValueError, TypeError) as e:
            raise to_gradio_error(ValueError(str(e))) from e
        auto_note = None
        if not req.only_masked:
            width = image.shape[1] + req.outpaint_left + req.outpaint_right
            height = image.shape[0] + req.outpaint_top + req.outpaint_bottom
            if _needs_crop(width, height, entry):
                # Visible, not silent: the status says so. (pipelines.inpaint itself refuses such a size.)
                req = replace(req, only_masked=True)
                auto_note = (
                    f"The image is {width}×{height} and {entry.name} works at "
                    f"{entry.native_size}×{entry.native_size}, so 'Only the masked area' was used."
                )
        warn_unknown_words(entry, req.prompt, req.negative_prompt)
        started = time.perf_counter()
        with session_stop_flag(stop_flags, request) as stop:

            def work(on_step):
                preview_every = max(2, req.steps // 4)
                return inpaint(manager, req, image, mask, on_step=on_step, stop=stop, preview_every=preview_every)

            for kind, item in generation_events(work, progress, desc="Inpainting"):
                if kind == "preview":  # the whole work area while denoising; the paste-back comes at the end
                    caption = f"preview, step {item.step}/{item.total}"
                    yield [(item.preview, caption)], gr.skip(), f"Step {item.step}/{item.total}…", gr.skip(), gr.skip()
                else:
                    result = item
        elapsed = time.perf_counter() - started
        note = f"{len(result.images)} image(s) in {elapsed:.1f} s · seed {result.seed}"
        if result.stopped_at is not None:
            note = f"Stopped at step {result.stopped_at} (partly denoised) · seed {result.seed}"
        notes = list(result.notes) + ([auto_note] if auto_note else [])
        if result.crop_box is not None:
            left, top, right, bottom = result.crop_box
            notes.append(
                f"Only the {right - left}×{bottom - top} box around the mask (blue in the preview) was inpainted, "
                "at the model's own size, and pasted back."
            )
        if notes:
            note += "\n\n" + "\n".join(f"- {n}" for n in notes)
        overlay = mask_preview(result.canvas, result.mask, req)
        yield (
            [(im, label) for im, label in zip(result.images, result.labels, strict=True)],
            result.seed,
            note,
            "\n\n".join(result.parameters),
            overlay,
        )

    def show_preview(editor, mask_blur, only_masked, padding, sides, pixels):
        if not editor or editor.get("background") is None:
            return None, ""  # nothing uploaded yet: the help above says what to do
        try:
            image, mask = _editor_image_and_mask(editor)
            req = InpaintRequest(
                prompt="",
                mask_blur=int(mask_blur),
                only_masked=bool(only_masked),
                only_masked_padding=int(padding),
                **_outpaint_sides(sides, pixels),
            )
            if not mask.any() and not any(sides or []):
                height, width = image.shape[:2]
                return None, f"Image {width}×{height} loaded. Now paint over the part to regenerate."
            return mask_preview(image, mask, req), ""
        except ValueError as e:
            return None, str(e)

    def stop_generation(request: gr.Request):
        return "Stopping…" if stop_flags.stop(request.session_hash or "anonymous") else gr.skip()

    inputs = [
        editor,
        prompt,
        negative,
        method,
        model,
        inpaint_model,
        sampler,
        steps,
        cfg,
        seed,
        strength,
        mask_blur,
        only_masked,
        padding,
        outpaint_sides,
        outpaint_pixels,
        resample,
    ]
    outputs = [gallery, used_seed, status, parameters, preview]
    explain_unreadable_inputs(inputs, generate)  # a non-image, truncated or bomb upload: a message, not a crash
    generate_event = gr.on(
        triggers=[inpaint_btn.click, prompt.submit],
        fn=generate,
        inputs=inputs,
        outputs=outputs,
        api_name="inpaint",
        concurrency_id="device",  # the same queue as every model-bound event: one generation at a time
        concurrency_limit=1,
        show_progress="full",
        show_progress_on=[gallery],
    )
    reveal_when_done(generate_event, used_seed)
    preview_inputs = [editor, mask_blur, only_masked, padding, outpaint_sides, outpaint_pixels]
    gr.on(
        triggers=[
            preview_btn.click,
            mask_blur.release,
            only_masked.change,
            padding.release,
            outpaint_sides.change,
            outpaint_pixels.release,
        ],
        fn=show_preview,
        inputs=preview_inputs,
        outputs=[preview, status],
        queue=False,
        api_visibility="private",
    )
    editor.change(
        show_preview,
        inputs=preview_inputs,
        outputs=[preview, status],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )

    seen_size = gr.State(None)  # (width, height) of the image last checked, so strokes don't re-check it

    def check_size(editor_value, model_name, only, last_size):
        """A new image too big for the model: turn on 'only the masked area' and say why (nothing silent)."""
        if not editor_value or editor_value.get("background") is None:
            return gr.skip(), None
        height, width = editor_value["background"].shape[:2]
        if [width, height] == list(last_size or []):
            return gr.skip(), gr.skip()
        entry = manager.entry(model_name or None, TXT2IMG)
        if _needs_crop(width, height, entry) and not only:
            gr.Info(
                f"This image is {width}×{height}; {entry.name} works at {entry.native_size}×{entry.native_size}. "
                "'Only the masked area' is now on: a box around your mask is inpainted at the model's size."
            )
            return True, [width, height]
        return gr.skip(), [width, height]

    # The editor's `upload` event can arrive before its value does; a change with a new size is reliable.
    editor.change(
        check_size,
        inputs=[editor, model, only_masked, seen_size],
        outputs=[only_masked, seen_size],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    stop_btn.click(stop_generation, inputs=None, outputs=[status], queue=False, api_visibility="private")

    if txt2img_gallery is not None:
        selected = gr.State(0)

        def remember(evt: gr.SelectData):
            return evt.index

        def take(images, index):
            if not images:
                raise gr.Error("Text to image has no result yet: generate one there first.")
            item = images[min(int(index or 0), len(images) - 1)]
            image = item[0] if isinstance(item, (tuple, list)) else item
            gr.Info("Image taken from Text to image: now paint over the part to regenerate.")
            return {"background": image, "layers": [], "composite": image}

        txt2img_gallery.select(remember, outputs=[selected], queue=False, api_visibility="private")
        from_txt2img.click(
            take, inputs=[txt2img_gallery, selected], outputs=[editor], queue=False, api_visibility="private"
        )
    return InpaintTab(generate_event=generate_event, editor=editor, gallery=gallery)
