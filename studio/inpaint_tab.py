"""The Inpainting tab: paint a mask over an image, describe what should be there, compare two methods.

The main action is the API endpoint `/inpaint`; its named inputs are the parameters of `generate` (after the bound
manager and Stop flags). The mask is read from the editor's layer alpha (exact), never from the lossy composite, and
resized to the image on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from pipelines.capabilities import INPAINT_ANY_MODEL, default_for, models_for, require
from pipelines.inpaint import (
    SIDES,
    InpaintRequest,
    Method,
    inpaint,
    inpainting_model_for,
    inpainting_models,
    mask_preview,
    needs_crop,
    result_preview,
    with_crop_policy,
)
from pipelines.manager import PipelineManager
from pipelines.masks import mask_from_layers

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
from .errors import explain_unreadable_inputs
from .runner import bind, build_request, run_action, seed_of, warn_unknown_words
from .sessions import StopFlags
from .upscale_panel import upscale_panel

DEFAULTS = InpaintRequest(prompt="")
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


def editor_image_and_mask(editor: dict | None):
    """(background RGBA array, bool mask of the painted layers resized to it), or raises a ValueError."""
    if not editor or editor.get("background") is None:
        raise ValueError("`image` is missing: upload an image (or send one from Text to image) first")
    background = editor["background"]
    height, width = background.shape[:2]
    return background, mask_from_layers(editor.get("layers"), (width, height))


def outpaint_fields(sides: list[str] | None, pixels: float | None) -> dict[str, int]:
    """The request's `outpaint_<side>` fields from the checked sides and the one amount."""
    chosen = set(sides or [])
    unknown = chosen - set(SIDES)
    if unknown:
        raise ValueError(f"`outpaint_sides` must be among {list(SIDES)}, got {sorted(unknown)}")
    amount = int(pixels or 0)
    return {f"outpaint_{side}": amount if side in chosen else 0 for side in SIDES}


# ---------------------------------------------------------------------------------------------- handlers
def generate(
    manager: PipelineManager,
    stop_flags: StopFlags,
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
    denoising_strength: float = DEFAULTS.denoising_strength,
    mask_blur: float = DEFAULTS.mask_blur,
    only_masked: bool = DEFAULTS.only_masked,
    only_masked_padding: float = DEFAULTS.only_masked_padding,
    outpaint_sides: list[str] | None = None,
    outpaint_pixels: float = 0,
    resample: float = DEFAULTS.resample,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
):
    """Regenerates the masked part of an image from a prompt; pixels outside the mask come back unchanged.

    Args:
        editor: {"background": image, "layers": [mask layer], "composite": image}; opaque layer pixels = the mask.
        prompt: the whole finished picture, what stays and what is new, e.g. "a red circle left of a green square".
        negative_prompt: what to avoid (optional).
        method: "Any model (replace known region)", "Inpainting model (9-channel UNet)" or "Both, side by side".
        model: the text-to-image model for the "any model" method; empty = the default.
        inpaint_model: the 9-channel inpainting model; empty = the one that goes with `model`.
        sampler: DDIM, DDPM, Euler, Euler a, DPM++ 2M, DPM++ 2M Karras.
        steps: denoising steps, {steps}.
        cfg_scale: classifier-free guidance scale, {cfg_scale}.
        seed: -1 for random; both methods use the same seed.
        denoising_strength: {denoising_strength}; 1 paints the masked area from scratch, lower keeps more of it.
        mask_blur: feather in pixels, {mask_blur} (0 = hard edge).
        only_masked: inpaint a padded box around the mask at the model's native size, then paste it back.
        only_masked_padding: pixels of context around the mask in that mode, {only_masked_padding}.
        outpaint_sides: sides to extend the picture on: any of "left", "right", "top", "bottom".
        outpaint_pixels: how many pixels to add on each of those sides, {outpaint}.
        resample: RePaint passes over each step of the first half for the "any model" method, {resample}.

    Returns:
        one image per method (PNG with parameters), the seed used, a status line with notes, the parameters text, and
        a preview of the mask that was used.
    """
    image, mask = build_request(lambda: editor_image_and_mask(editor))
    entry = build_request(lambda: require(manager, INPAINT_ANY_MODEL, model or None))
    req = build_request(
        lambda: InpaintRequest(
            prompt=prompt or "",
            image=image,
            mask=mask,
            negative_prompt=negative_prompt or "",
            model=entry.name,
            inpaint_model=inpaint_model or None,
            method=method or DEFAULTS.method,
            sampler=sampler or DEFAULTS.sampler,
            steps=int(steps),
            cfg_scale=float(cfg_scale),
            seed=seed_of(seed),
            denoising_strength=float(denoising_strength),
            mask_blur=int(mask_blur),
            only_masked=bool(only_masked),
            only_masked_padding=int(only_masked_padding),
            **outpaint_fields(outpaint_sides, outpaint_pixels),
            resample=int(resample),
        )
    )
    req, crop_note = with_crop_policy(req, manager)  # visible, not silent: the status says so
    warn_unknown_words(entry, req.prompt, req.negative_prompt)

    def show(info):  # the whole work area while denoising; the paste-back comes at the end
        caption = f"preview, step {info.step}/{info.total}"
        return [(info.preview, caption)], gr.skip(), f"Step {info.step}/{info.total}…", gr.skip(), gr.skip()

    finished = yield from run_action(
        inpaint,
        req,
        manager,
        stop_flags,
        request,
        progress,
        show=show,
        preview_every=max(2, req.steps // 4),
        desc="Inpainting",
    )
    result = finished.result
    status = finished.status(f"{len(result.images)} image(s)", " (partly denoised)") + f" · seed {result.seed}"
    notes = list(result.notes) + ([crop_note] if crop_note else [])
    if result.crop_box is not None:
        left, top, right, bottom = result.crop_box
        notes.append(
            f"Only the {right - left}×{bottom - top} box around the mask (blue in the preview) was inpainted, "
            "at the model's own size, and pasted back."
        )
    if notes:
        status += "\n\n" + "\n".join(f"- {n}" for n in notes)
    yield (
        [(im, label) for im, label in zip(result.images, result.labels, strict=True)],
        result.seed,
        status,
        "\n\n".join(result.parameters),
        result_preview(result),
    )


def show_mask_preview(editor, mask_blur, only_masked, padding, sides, pixels):
    """The mask preview (pink = regenerated, blue box = the work area), or a hint of what to do next."""
    if not editor or editor.get("background") is None:
        return None, ""  # nothing uploaded yet: the help above says what to do
    try:
        image, mask = editor_image_and_mask(editor)
        req = InpaintRequest(
            prompt="",
            mask_blur=int(mask_blur),
            only_masked=bool(only_masked),
            only_masked_padding=int(padding),
            **outpaint_fields(sides, pixels),
        )
        if not mask.any() and not any(sides or []):
            height, width = image.shape[:2]
            return None, f"Image {width}×{height} loaded. Now paint over the part to regenerate."
        return mask_preview(image, mask, req), ""
    except ValueError as e:
        return None, str(e)


def check_size(manager: PipelineManager, editor_value, model_name, only, last_size):
    """A new image too big for the model: turn on 'only the masked area' and say why (nothing silent)."""
    if not editor_value or editor_value.get("background") is None:
        return gr.skip(), None
    height, width = editor_value["background"].shape[:2]
    if [width, height] == list(last_size or []):
        return gr.skip(), gr.skip()
    entry = require(manager, INPAINT_ANY_MODEL, model_name or None)
    if needs_crop(width, height, entry) and not only:
        gr.Info(
            f"This image is {width}×{height}; {entry.name} works at {entry.native_size}×{entry.native_size}. "
            "'Only the masked area' is now on: a box around your mask is inpainted at the model's size."
        )
        return True, [width, height]
    return gr.skip(), [width, height]


def pair_inpainter(manager: PipelineManager, model_name: str | None):
    """A new 'Any model' choice: the inpainting model that goes with it (SDXL → SDXL inpainting), if one is listed."""
    if not model_name:
        return gr.skip()
    paired = inpainting_model_for(manager, manager.registry.get(model_name))
    return paired.name if paired is not None else gr.skip()


def selected_index(evt: gr.SelectData) -> int:
    return evt.index


def take_from_gallery(images, index):
    """The selected Text-to-image result as the editor's background."""
    if not images:
        raise gr.Error("Text to image has no result yet: generate one there first.")
    item = images[min(int(index or 0), len(images) - 1)]
    image = item[0] if isinstance(item, (tuple, list)) else item
    gr.Info("Image taken from Text to image: now paint over the part to regenerate.")
    return {"background": image, "layers": [], "composite": image}


# ---------------------------------------------------------------------------------------------- layout
def build(manager: PipelineManager, stop_flags: StopFlags, txt2img_gallery: gr.Gallery | None = None) -> InpaintTab:
    """Builds the tab inside the current `gr.Blocks`/`gr.Tab` context.

    Args:
        txt2img_gallery: the text-to-image results; when given, a button takes its selected image as the input.
    """
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
            negative = negative_prompt_box("inpaint-negative")
            inpainters = [e.name for e in inpainting_models(manager)]
            method = _method_radio(manager, inpainters)
            inpaint_btn, stop_btn = run_buttons("Inpaint", "inpaint", run_id="generate")
            mask_options = _mask_options()
            settings = _model_settings(manager, inpainters)
        with gr.Column(scale=5, min_width=320):
            gallery = result_gallery("Results (one per method)", "inpaint-gallery", columns=2, height="auto")
            status, used_seed, parameters = run_details("inpaint")
            upscale_panel(manager, stop_flags, gallery, prompt, "inpaint")
            preview = gr.Image(
                label="Mask preview (pink = regenerated)",
                type="numpy",
                format="png",
                interactive=False,
                height=240,
                elem_id="inpaint-mask-preview",
            )

    model, inpaint_model, sampler, steps, cfg, resample, seed = settings
    strength, mask_blur, only_masked, padding, outpaint_sides, outpaint_pixels = mask_options
    inputs = [editor, prompt, negative, method, model, inpaint_model, sampler, steps, cfg, seed, strength]
    inputs += [mask_blur, only_masked, padding, outpaint_sides, outpaint_pixels, resample]
    handler = bind(generate, manager, stop_flags, name="inpaint")
    explain_unreadable_inputs(inputs, handler)  # a non-image, truncated or bomb upload: a message, not a crash
    generate_event = gr.on(
        triggers=[inpaint_btn.click, prompt.submit],
        fn=handler,
        inputs=inputs,
        outputs=[gallery, used_seed, status, parameters, preview],
        api_name="inpaint",
        **DEVICE_EVENT,
        show_progress_on=[gallery],
    )
    reveal_when_done(generate_event, used_seed)
    quiet = {**PRIVATE, "show_progress": "hidden"}
    preview_inputs = [editor, mask_blur, only_masked, padding, outpaint_sides, outpaint_pixels]
    preview_triggers = [preview_btn.click, mask_blur.release, only_masked.change, padding.release]
    preview_triggers += [outpaint_sides.change, outpaint_pixels.release, editor.change]
    gr.on(preview_triggers, show_mask_preview, inputs=preview_inputs, outputs=[preview, status], **quiet)
    seen_size = gr.State(None)  # (width, height) of the image last checked, so strokes don't re-check it
    # The editor's `upload` event can arrive before its value does; a change with a new size is reliable.
    editor.change(
        bind(check_size, manager),
        inputs=[editor, model, only_masked, seen_size],
        outputs=[only_masked, seen_size],
        **quiet,
    )
    model.change(bind(pair_inpainter, manager), inputs=[model], outputs=[inpaint_model], **quiet)
    wire_stop(stop_btn, stop_flags, status)
    if txt2img_gallery is not None:
        selected = gr.State(0)
        txt2img_gallery.select(selected_index, outputs=[selected], **quiet)
        from_txt2img.click(take_from_gallery, inputs=[txt2img_gallery, selected], outputs=[editor], **quiet)
    return InpaintTab(generate_event=generate_event, editor=editor, gallery=gallery)


def _method_radio(manager: PipelineManager, inpainters: list[str]) -> gr.Radio:
    default = default_for(manager.registry, INPAINT_ANY_MODEL)
    default_inpainter = inpainting_model_for(manager, default) if default else None
    has_local_inpainter = default_inpainter is not None and default_inpainter.is_local
    return gr.Radio(
        Method.labels(),
        value=Method.BOTH.label if has_local_inpainter else DEFAULTS.method,
        label="Method",
        elem_id="inpaint-method",
        info=None if inpainters else "No inpainting model is installed: only 'Any model' can run.",
    )


def _mask_options():
    """The 'Mask and area' accordion: (denoising strength, blur, only masked, padding, outpaint sides, by)."""
    with gr.Accordion("Mask and area", open=True, elem_id="inpaint-mask-options"):
        strength = limit_slider(
            "denoising_strength",
            DEFAULTS.denoising_strength,
            "Denoising strength",
            "inpaint-strength",
            info="1 = paint from scratch; lower keeps more of what was there",
        )
        mask_blur = limit_slider(
            "mask_blur",
            DEFAULTS.mask_blur,
            "Mask blur (feather, px)",
            "inpaint-mask-blur",
            info="0 = hard edge; more blends the new part into its surroundings",
        )
        with gr.Row():
            only_masked = gr.Checkbox(
                value=DEFAULTS.only_masked,
                label="Only the masked area, at full resolution",
                info="Works on a box around the mask at the model's size — for big images",
                elem_id="inpaint-only-masked",
            )
            padding = limit_slider(
                "only_masked_padding", DEFAULTS.only_masked_padding, "Context around the mask (px)", "inpaint-padding"
            )
        with gr.Row():
            sides = gr.CheckboxGroup(
                list(SIDES), value=[], label="Outpaint: extend the picture on", elem_id="inpaint-outpaint-sides"
            )
            pixels = limit_slider("outpaint", 32, "by (px)", "inpaint-outpaint-pixels")
    return strength, mask_blur, only_masked, padding, sides, pixels


def _model_settings(manager: PipelineManager, inpainters: list[str]):
    """The 'Model and sampler' accordion: (model, inpainting model, sampler, steps, cfg, resample, seed)."""
    default = default_for(manager.registry, INPAINT_ANY_MODEL)
    default_inpainter = inpainting_model_for(manager, default) if default else None
    with gr.Accordion("Model and sampler", open=False, elem_id="inpaint-settings"):
        model = gr.Dropdown(
            models_for(manager.registry, INPAINT_ANY_MODEL),
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
            sampler = sampler_dropdown(DEFAULTS.sampler, "inpaint-sampler")
            steps = limit_slider("steps", DEFAULTS.steps, "Steps", "inpaint-steps")
        cfg = limit_slider("cfg_scale", DEFAULTS.cfg_scale, "CFG scale (guidance)", "inpaint-cfg")
        resample = limit_slider(
            "resample",
            DEFAULTS.resample,
            "Resample passes for 'Any model' (RePaint)",
            "inpaint-resample",
            info="Redraws each of the first half of the steps this many times so the new part fits what is "
            "kept; 1 = plain replacement (fastest)",
        )
        seed = seed_box(DEFAULTS.seed, "Seed (-1 = random; both methods use the same)", "inpaint-seed")
    return model, inpaint_model, sampler, steps, cfg, resample, seed
