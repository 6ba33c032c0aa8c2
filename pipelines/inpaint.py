"""Inpainting: regenerate the masked part of an image from a prompt, by two methods (GLIDE, Nichol et al. 2021).

(a) "any model" — replacement: run a text-to-image model's own denoising loop on the whole latent, and after
    every step overwrite the known (unmasked) region with a fresh sample of q(x_t | x0) of the original:
    x_t = sqrt(ᾱ_t)·x0 + sqrt(1−ᾱ_t)·ε, ε ~ N(0, I) drawn anew each step (the scheduler's `add_noise`).
    Needs no retraining, but the model never sees the context clearly, so seams can show.
(b) "inpainting model": a UNet fine-tuned with random erasing that takes 9 input channels
    (4 latent + 1 mask + 4 masked-image latent), run by diffusers' `StableDiffusionInpaintPipeline`.

Both share the same preparation and finish:
  image/mask normalisation (clear ValueErrors) → outpainting (extend the canvas, new area joins the mask)
  → mask feather → optional "only masked area at full resolution" crop (padded box around the mask,
  scaled to the model's native size) → generate → scale back into the box → paste: every pixel with
  mask weight 0 comes back from the original unchanged (the VAE round trip changes pixels everywhere).

Nothing here imports gradio; the studio converts the ValueErrors to messages.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from PIL import Image

from .manager import PipelineManager
from .models import INPAINT, TXT2IMG, ModelEntry
from .png_info import GenerationParameters, attach, format_parameters
from .samplers import Sampler
from .text_to_image import MAX_SEED, MAX_STEPS, StepInfo, TextToImageRequest, decode_preview
from .text_to_image import validate as validate_text_to_image

logger = logging.getLogger(__name__)

INPAINT_FAMILY = "sd-inpaint"  # registry family of 9-channel inpainting models
MAX_IMAGE_PIXELS = 4096 * 4096  # any input image (the crop mode scales the work area down to the model's size)
MAX_FEATHER = 64  # mask blur radius, pixels
MAX_PADDING = 256  # "only masked" padding, pixels
MAX_OUTPAINT = 512  # pixels added on one side


class Method(enum.Enum):
    """The value is the label shown in the UI and written in the parameters."""

    REPLACE = "Any model (replace known region)"
    INPAINT_MODEL = "Inpainting model (9-channel UNet)"
    BOTH = "Both, side by side"

    @property
    def label(self) -> str:
        return self.value

    @classmethod
    def labels(cls) -> list[str]:
        return [m.value for m in cls]

    @classmethod
    def from_label(cls, label: str | Method) -> Method:
        if isinstance(label, Method):
            return label
        text = str(label).strip().lower()
        for method in cls:
            if text in (method.value.lower(), method.name.lower()):
                return method
        raise ValueError(f"`method` must be one of {cls.labels()}, got {label!r}")

    @property
    def short(self) -> str:
        """A caption for results: which of GLIDE's two ways made the image."""
        return {"REPLACE": "(a) any model: replacement", "INPAINT_MODEL": "(b) inpainting model"}.get(
            self.name, "both"
        )

    def runs(self) -> tuple[Method, ...]:
        return (Method.REPLACE, Method.INPAINT_MODEL) if self is Method.BOTH else (self,)


@dataclass(frozen=True)
class InpaintRequest:
    """Everything that decides the result besides the image and mask. Defaults live here and nowhere else."""

    prompt: str
    negative_prompt: str = ""
    model: str | None = None  # text-to-image model for method (a); None = the default (bundled) model
    inpaint_model: str | None = None  # 9-channel model for method (b); None = the one matching `model`
    method: str = Method.REPLACE.label  # a `Method` label
    sampler: str = Sampler.DPMPP_2M.label
    steps: int = 20  # denoising steps at strength 1, 1..150
    cfg_scale: float = 7.0  # classifier-free guidance scale, 0..30
    seed: int = -1  # -1 = random; both methods use the same seed
    strength: float = 1.0  # 1 = the masked area starts from pure noise; lower keeps more of the original, (0, 1]
    mask_blur: int = 0  # feather: blend this many px outside the mask (0 = hard edge, outside = the original)
    only_masked: bool = False  # inpaint a padded box around the mask at the model's native size, then paste back
    only_masked_padding: int = 16  # pixels of context around the mask's bounding box in that mode
    outpaint_left: int = 0  # pixels added to the canvas on each side; the new area is filled (joins the mask)
    outpaint_right: int = 0
    outpaint_top: int = 0
    outpaint_bottom: int = 0


@dataclass(frozen=True)
class InpaintResult:
    images: list[Image.Image]  # one per method run, in `labels` order, each with `.info["parameters"]`
    labels: list[str]  # short method captions, "(a) …" / "(b) …"
    parameters: list[str]
    notes: list[str]  # things the person should know (full mask = text-to-image, converted image mode...)
    seed: int
    canvas: Image.Image  # the (outpainted) image the methods started from, RGB
    mask: Image.Image  # the mask used on the canvas ("L", 0..255, feathered)
    crop_box: tuple[int, int, int, int] | None  # (left, top, right, bottom) in "only masked" mode
    request: InpaintRequest  # with seed and model names resolved
    stopped_at: int | None = None


# --------------------------------------------------------------------- input normalisation
def normalise_image(image, notes: list[str] | None = None) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array from a PIL image or array (RGB, RGBA, L, 1, P, I;16, CMYK, uint16 arrays).

    RGBA is composited on white, 16-bit is scaled to 8-bit; each conversion adds a line to `notes`.
    """
    notes = notes if notes is not None else []
    if image is None:
        raise ValueError("`image` is missing: upload an image (or send one from another tab)")
    if isinstance(image, np.ndarray):
        array = image
        if array.dtype == np.uint16:
            array = (array.astype(np.float32) / 257.0).round().astype(np.uint8)
            notes.append("The 16-bit image was converted to 8 bits per channel.")
        elif array.dtype == bool:
            array = array.astype(np.uint8) * 255
        elif array.dtype != np.uint8:
            raise ValueError(f"`image` must be a uint8 or uint16 array, got dtype {array.dtype}")
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
            raise ValueError(f"`image` must have shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        if array.shape[2] == 4:
            image = Image.fromarray(array, "RGBA")
        else:
            _check_pixels(array.shape[1], array.shape[0])
            return np.ascontiguousarray(array)
    if not isinstance(image, Image.Image):
        raise ValueError(f"`image` must be a PIL image or a numpy array, got {type(image).__name__}")
    _check_pixels(*image.size)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        scale = 257.0 if mode.startswith("I;16") or array.max() > 255 else 1.0
        gray = np.clip(array / scale, 0, 255).round().astype(np.uint8)
        notes.append(f"The 16-bit image ({mode}) was converted to 8-bit RGB.")
        return np.repeat(gray[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        if np.asarray(rgba)[..., 3].min() < 255:
            notes.append("Transparent parts of the image were filled with white.")
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB")).copy()
    if mode != "RGB":
        if mode == "CMYK":
            notes.append("The CMYK image was converted to RGB.")
        image = image.convert("RGB")
    return np.asarray(image).copy()


def normalise_mask(mask) -> np.ndarray:
    """A binary mask (H, W) bool — True where to generate — from a PIL image or array.

    RGBA masks use their alpha (an editor layer: painted = opaque); RGB/L masks use brightness; threshold 50 %.
    """
    if mask is None:
        raise ValueError("`mask` is missing: paint over the part of the image to regenerate")
    if isinstance(mask, Image.Image):
        if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
            array = np.asarray(mask.convert("RGBA"))[..., 3]
        elif mask.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = (np.asarray(mask, dtype=np.float32) / 257.0).astype(np.uint8)
        else:
            array = np.asarray(mask.convert("L"))
    elif isinstance(mask, np.ndarray):
        array = mask
        if array.dtype == bool:
            return array.copy() if array.ndim == 2 else array.any(axis=-1)
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[..., 3]
        elif array.ndim == 3:
            array = array.max(axis=2)
        if array.ndim != 2:
            raise ValueError(f"`mask` must have shape (H, W), (H, W, 3) or (H, W, 4), got {mask.shape}")
        if array.dtype == np.uint16:
            array = array / 257.0
        elif np.issubdtype(array.dtype, np.floating):
            array = array * 255.0
    else:
        raise ValueError(f"`mask` must be a PIL image or a numpy array, got {type(mask).__name__}")
    return np.asarray(array) >= 128


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes a mask (bool or uint8, (H, W)) to `size` = (width, height) with nearest neighbour.

    The studio calls this for editor layers, whose size may differ from the image's; `inpaint` itself refuses
    a mismatch instead of hiding it.
    """
    array = np.asarray(mask).astype(np.uint8)
    if array.shape[:2] == (size[1], size[0]):
        return np.asarray(mask)
    resized = cv2.resize(array, size, interpolation=cv2.INTER_NEAREST)
    return resized.astype(bool) if np.asarray(mask).dtype == bool else resized


def mask_from_layers(layers, size: tuple[int, int]) -> np.ndarray:
    """The mask painted in an image editor: union of its layers' alpha (at least half opaque), resized to `size`.

    Args:
        layers: RGBA arrays (H, W, 4) or PIL images, or None/[] when nothing was painted.
        size: (width, height) of the image the mask is for.
    Returns:
        (height, width) bool; all False when nothing was painted.
    """
    width, height = size
    mask = np.zeros((height, width), dtype=bool)
    for layer in layers or []:
        if layer is None:
            continue
        mask |= resize_mask(normalise_mask(layer), size)
    return mask


def mask_preview(image, mask, request: InpaintRequest, display_size: int = 256) -> np.ndarray:
    """What will be regenerated: the (outpainted) canvas with the feathered mask tinted, and the work box outlined.

    Small images are enlarged by a whole factor (nearest neighbour) to about `display_size` so the mask is visible.
    Raises the same ValueErrors as `inpaint` for the image and mask. Returns an RGB uint8 array.
    """
    pixels = normalise_image(image)
    binary = normalise_mask(mask)
    if binary.shape != pixels.shape[:2]:
        binary = resize_mask(binary, (pixels.shape[1], pixels.shape[0]))
    pixels, binary = outpaint(
        pixels, binary, request.outpaint_left, request.outpaint_right, request.outpaint_top, request.outpaint_bottom
    )
    weight = feather(binary, max(0, min(int(request.mask_blur), MAX_FEATHER)))
    tint = np.array([255, 0, 160], np.float32)
    alpha = 0.55 * weight[..., None]
    out = (pixels.astype(np.float32) * (1 - alpha) + tint * alpha).round().astype(np.uint8)
    if request.only_masked and binary.any():
        left, top, right, bottom = crop_box(weight > 0, max(0, int(request.only_masked_padding)))
    else:
        left = top = right = bottom = None
    factor = max(1, display_size // max(out.shape[:2]))
    if factor > 1:
        out = np.repeat(np.repeat(out, factor, axis=0), factor, axis=1)
    if left is not None:
        thickness = max(1, min(out.shape[:2]) // 128)
        cv2.rectangle(
            out, (left * factor, top * factor), (right * factor - 1, bottom * factor - 1), (0, 120, 255), thickness
        )
    return out


def _check_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ValueError(f"`image` is empty, got {width}x{height}")
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"`image` must have at most {MAX_IMAGE_PIXELS} pixels, got {width}x{height} = {width * height}; "
            "scale it down first"
        )


# --------------------------------------------------------------------- geometry
def outpaint(
    image: np.ndarray, mask: np.ndarray, left: int = 0, right: int = 0, top: int = 0, bottom: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Extends the canvas; the new area is filled by repeating the edge pixels and added to the mask.

    Args:
        image: (H, W, 3) uint8.  mask: (H, W) bool.
    Returns:
        (H + top + bottom, W + left + right, 3) image and the matching mask.
    """
    if not any((left, right, top, bottom)):
        return image, mask
    canvas = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    new_mask = np.ones(canvas.shape[:2], dtype=bool)
    new_mask[top : top + image.shape[0], left : left + image.shape[1]] = mask
    return canvas, new_mask


def feather(mask: np.ndarray, radius: int) -> np.ndarray:
    """The blend weight per pixel, float32 in [0, 1]: 1 on the whole drawn mask, easing to 0 over `radius` px outside.

    The feather grows outward, so everything painted is regenerated (no half-kept edge of a removed object) and the
    seam is blended into the surroundings. radius 0 gives the binary mask: outside pixels keep weight exactly 0.
    """
    weight = mask.astype(np.float32)
    if radius <= 0 or not mask.any():
        return weight
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)  # px to the nearest masked pixel
    ramp = np.clip(1.0 - distance / (radius + 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)  # smoothstep: no visible kink at either end


def crop_box(mask: np.ndarray, padding: int, aspect: float = 1.0, multiple: int = 1) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) around the mask's pixels, padded, grown to `aspect` (= w / h), in the image.

    Grows symmetrically and shifts inward at the borders; when the image is too small for the aspect, the box is
    the largest that fits. `multiple` rounds the box size up (when it fits) so scaling stays clean.
    """
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("`mask` is empty: paint over the part of the image to regenerate")
    x0, x1 = max(int(xs.min()) - padding, 0), min(int(xs.max()) + 1 + padding, width)
    y0, y1 = max(int(ys.min()) - padding, 0), min(int(ys.max()) + 1 + padding, height)
    w, h = x1 - x0, y1 - y0
    if w / h < aspect:
        w = min(int(np.ceil(h * aspect)), width)
    else:
        h = min(int(np.ceil(w / aspect)), height)
    if multiple > 1:
        w = min(-(-w // multiple) * multiple, width)
        h = min(-(-h // multiple) * multiple, height)
    w, h = max(w, x1 - x0), max(h, y1 - y0)

    def place(lo: int, hi: int, size: int, limit: int) -> int:
        start = (lo + hi - size) // 2
        return min(max(start, 0), limit - size)

    left, top = place(x0, x1, w, width), place(y0, y1, h, height)
    return left, top, left + w, top + h


def paste_back(original: np.ndarray, generated: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """original·(1 − m) + generated·m per pixel, rounded; where m = 0 the original comes back bit-exact."""
    m = weight[..., None]
    blended = original.astype(np.float32) * (1.0 - m) + generated.astype(np.float32) * m
    out = np.clip(blended.round(), 0, 255).astype(np.uint8)
    out[weight <= 0] = original[weight <= 0]
    return out


# --------------------------------------------------------------------- models and validation
def inpainting_models(manager: PipelineManager) -> list[ModelEntry]:
    """Registry entries with a 9-channel inpainting UNet, local ones first."""
    entries = [e for e in manager.registry.entries() if e.family == INPAINT_FAMILY]
    return sorted(entries, key=lambda e: {"bundled": 0, "local": 1, "hub": 2}[e.kind])


def inpainting_model_for(manager: PipelineManager, base: ModelEntry) -> ModelEntry | None:
    """The inpainting model that goes with `base`: `<base>-inpaint` if listed, else the first local one, else Hub."""
    candidates = inpainting_models(manager)
    for entry in candidates:
        if entry.name in (f"{base.name}-inpaint", f"{base.name} inpainting"):
            return entry
    return candidates[0] if candidates else None


def resolve(request: InpaintRequest, manager: PipelineManager) -> tuple[InpaintRequest, ModelEntry, ModelEntry | None]:
    """Draws the seed, resolves model names; returns (request, base entry, inpainting entry or None)."""
    method = Method.from_label(request.method)
    base = manager.entry(request.model, TXT2IMG)
    if TXT2IMG not in base.tasks:
        raise ValueError(
            f"`model` {base.name!r} is not a text-to-image model; method (a) needs one "
            f"(choose from {', '.join(manager.registry.names(TXT2IMG))})"
        )
    inpainter = None
    if Method.INPAINT_MODEL in method.runs():
        if request.inpaint_model:
            inpainter = manager.entry(request.inpaint_model, INPAINT)
            if inpainter.family != INPAINT_FAMILY:
                raise ValueError(
                    f"`inpaint_model` {inpainter.name!r} is not an inpainting model (no 9-channel UNet); "
                    f"choose one of {[e.name for e in inpainting_models(manager)]} or use method (a)"
                )
        else:
            inpainter = inpainting_model_for(manager, base)
            if inpainter is None:
                raise ValueError(
                    f"`method` {method.label!r} needs an inpainting model (9-channel UNet) and none is listed; "
                    "use 'Any model', or add one with --config"
                )
    seed = request.seed if request.seed != -1 else random.randint(0, MAX_SEED)
    request = replace(
        request,
        method=method.label,
        model=base.name,
        inpaint_model=inpainter.name if inpainter else request.inpaint_model,
        seed=seed,
    )
    return request, base, inpainter


def validate(request: InpaintRequest, entries: list[ModelEntry], canvas_size: tuple[int, int]) -> None:
    """Raises a ValueError naming the parameter and the value received. `request` must be resolved."""
    for entry in entries:
        probe = TextToImageRequest(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            model=entry.name,
            sampler=request.sampler,
            steps=request.steps,
            cfg_scale=request.cfg_scale,
            seed=request.seed,
            width=entry.native_size,
            height=entry.native_size,
        )
        validate_text_to_image(probe, entry)  # prompt, sampler, steps, cfg, seed
    if isinstance(request.strength, bool) or not 0 < request.strength <= 1:
        raise ValueError(f"`strength` must be greater than 0 and at most 1, got {request.strength!r}")
    if int(request.steps * request.strength) < 1:
        raise ValueError(
            f"`strength` {request.strength} x `steps` {request.steps} leaves no denoising step; raise either"
        )
    if not isinstance(request.mask_blur, int) or not 0 <= request.mask_blur <= MAX_FEATHER:
        raise ValueError(f"`mask_blur` must be an integer from 0 to {MAX_FEATHER}, got {request.mask_blur!r}")
    if not isinstance(request.only_masked_padding, int) or not 0 <= request.only_masked_padding <= MAX_PADDING:
        raise ValueError(
            f"`only_masked_padding` must be an integer from 0 to {MAX_PADDING}, got {request.only_masked_padding!r}"
        )
    for side in ("left", "right", "top", "bottom"):
        value = getattr(request, f"outpaint_{side}")
        if not isinstance(value, int) or not 0 <= value <= MAX_OUTPAINT:
            raise ValueError(f"`outpaint_{side}` must be an integer from 0 to {MAX_OUTPAINT}, got {value!r}")
    width, height = canvas_size
    _check_pixels(width, height)
    if request.only_masked:
        return  # the work area is scaled to each model's native size
    for entry in entries:
        m = entry.size_multiple
        if width % m or height % m:
            extended = any(getattr(request, f"outpaint_{s}") for s in ("left", "right", "top", "bottom"))
            raise ValueError(
                f"`image` size must be divisible by {m} for {entry.name}, got {width}x{height}"
                + (" after outpainting" if extended else "")
                + "; crop or resize it, or turn on 'only masked area' (which scales the work area)"
            )
        if width * height > entry.max_pixels:
            raise ValueError(
                f"`image` must have at most {entry.max_pixels} pixels for {entry.name} "
                f"(native {entry.native_size}x{entry.native_size}), got {width}x{height}; "
                "scale it down or turn on 'only masked area'"
            )


# --------------------------------------------------------------------- the action
def inpaint(
    manager: PipelineManager,
    request: InpaintRequest,
    image,
    mask,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> InpaintResult:
    """Regenerates the masked part of `image` from `request.prompt` with the requested method(s).

    Args:
        manager: loads the models (lazily) and serialises work on the device.
        request: settings; validated here, errors name the parameter.
        image: PIL image or array (RGB, RGBA, L, I;16, CMYK, uint8/uint16 arrays); at most MAX_IMAGE_PIXELS.
        mask: PIL image or array of the same size as `image`; white/opaque = regenerate.
        on_step: called after every denoising step (steps of all methods counted together).
        stop: when set, generation ends at the next step boundary.
        preview_every: decode a preview every this many steps (0 = never).

    Returns:
        one image per method; pixels with mask weight 0 are exactly the original's.
    """
    # 1. Check inputs
    notes: list[str] = []
    request, base, inpainter = resolve(request, manager)
    method = Method.from_label(request.method)
    pixels = normalise_image(image, notes)
    binary = normalise_mask(mask)
    if binary.shape != pixels.shape[:2]:
        raise ValueError(
            f"`mask` size {binary.shape[1]}x{binary.shape[0]} differs from `image` size "
            f"{pixels.shape[1]}x{pixels.shape[0]}; resize the mask to the image first"
        )
    pixels, binary = outpaint(
        pixels, binary, request.outpaint_left, request.outpaint_right, request.outpaint_top, request.outpaint_bottom
    )
    entries = [base if m is Method.REPLACE else inpainter for m in method.runs()]
    validate(request, entries, (pixels.shape[1], pixels.shape[0]))
    if not binary.any():
        raise ValueError("`mask` is empty: paint over the part of the image to regenerate")
    if binary.all():
        notes.append("The mask covers the whole image, so nothing of the original is kept: this is text-to-image.")
    weight = feather(binary, request.mask_blur)
    box = None
    if request.only_masked:
        box = crop_box(weight > 0, request.only_masked_padding, aspect=1.0)
    return manager.run(_generate, manager, request, entries, pixels, weight, box, notes, on_step, stop, preview_every)


def _generate(manager, request, entries, pixels, weight, box, notes, on_step, stop, preview_every) -> InpaintResult:
    method = Method.from_label(request.method)
    runs = method.runs()
    total = sum(_steps_run(request) for _ in runs)
    done = [0]
    stopped_at: list[int] = []

    def report(pipe, latents):
        done[0] += 1
        if on_step is not None:
            preview = None
            if preview_every and done[0] % preview_every == 0 and done[0] < total:
                preview = decode_preview(pipe, latents)
            on_step(StepInfo(step=done[0], total=total, preview=preview))
        if stop is not None and stop.is_set() and done[0] < total:
            if not stopped_at:
                stopped_at.append(done[0])
            return True
        return False

    images, labels, texts = [], [], []
    for run, entry in zip(runs, entries, strict=True):
        if stopped_at:
            break
        # 2. The work area: the whole canvas, or the padded box scaled to the model's native size
        if box is None:
            work_pixels, work_weight = pixels, weight
        else:
            left, top, right, bottom = box
            size = (entry.native_size, entry.native_size)
            work_pixels = cv2.resize(pixels[top:bottom, left:right], size, interpolation=_interp(right - left, size))
            work_weight = cv2.resize(weight[top:bottom, left:right], size, interpolation=cv2.INTER_LINEAR)
        work_mask = work_weight > 0
        # 3-5. Generate
        if run is Method.REPLACE:
            generated = _replace_method(manager, entry, request, work_pixels, work_mask, report)
        else:
            generated = _inpaint_model_method(manager, entry, request, work_pixels, work_mask, report)
        # 6. Back into the canvas, then paste: outside the mask stays the original
        if box is not None:
            left, top, right, bottom = box
            full = pixels.copy()
            full[top:bottom, left:right] = cv2.resize(
                generated, (right - left, bottom - top), interpolation=_interp(generated.shape[1], (right - left,))
            )
            generated = full
        result = Image.fromarray(paste_back(pixels, generated, weight))
        text = _parameters(request, entry, run, pixels.shape)
        attach(result, text)
        images.append(result)
        labels.append(run.short)
        texts.append(text)
    return InpaintResult(
        images=images,
        labels=labels,
        parameters=texts,
        notes=notes,
        seed=request.seed,
        canvas=Image.fromarray(pixels),
        mask=Image.fromarray((weight * 255).round().astype(np.uint8), "L"),
        crop_box=box,
        request=request,
        stopped_at=stopped_at[0] if stopped_at else None,
    )


def _interp(source: int, target: tuple[int, ...]) -> int:
    return cv2.INTER_AREA if source > target[0] else cv2.INTER_CUBIC


def _steps_run(request: InpaintRequest) -> int:
    return min(int(request.steps * request.strength), request.steps)


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] → uint8."""
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


@torch.inference_mode()
def _replace_method(manager, entry, request, pixels, mask, report) -> np.ndarray:
    """Method (a): the text-to-image model's denoising loop with the known region replaced after every step.

    Notation: x0 = latents of the original (`image_latents`), m = latent mask (1 = generate),
    x_t ← m·x_t + (1 − m)·q(x_t | x0), a fresh ε per step.
    """
    pipe = manager.request_pipeline(entry.name, TXT2IMG, request.sampler)
    scheduler, unet, vae = pipe.scheduler, pipe.unet, pipe.vae
    device, dtype = unet.device, unet.dtype
    generator = torch.Generator("cpu").manual_seed(request.seed)
    do_cfg = request.cfg_scale > 1.0  # as diffusers: s <= 1 is a plain conditional pass

    # 2. Encode the prompt (negative first, as diffusers concatenates them)
    prompt_embeds, negative_embeds = pipe.encode_prompt(
        request.prompt, device, 1, do_cfg, request.negative_prompt or None
    )
    if do_cfg:
        prompt_embeds = torch.cat([negative_embeds, prompt_embeds])

    # 3. Timesteps, shortened by strength (as img2img)
    scheduler.set_timesteps(request.steps, device=device)
    t_start = request.steps - _steps_run(request)
    timesteps = scheduler.timesteps[t_start * scheduler.order :]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(t_start * scheduler.order)

    # 4. Prepare latents: x0 of the original, the latent mask (a cell is generated if any of its pixels is)
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(device=device, dtype=vae.dtype) / 127.5 - 1.0
    image_latents = vae.encode(image).latent_dist.mode() * vae.config.scaling_factor
    image_latents = image_latents.to(dtype)
    factor = pipe.vae_scale_factor
    mask_t = torch.from_numpy(mask.astype(np.float32))[None, None]
    latent_mask = torch.nn.functional.max_pool2d(mask_t, factor, factor).to(device=device, dtype=dtype)
    shape = image_latents.shape
    noise = torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
    if t_start == 0:
        latents = noise * scheduler.init_noise_sigma  # strength 1: pure noise, as the inpaint pipeline does
    else:
        latents = scheduler.add_noise(image_latents, noise, timesteps[:1])
    extra_step_kwargs = {"generator": generator} if "generator" in _step_params(scheduler) else {}

    # 5. Denoising loop
    for i, t in enumerate(timesteps):
        latent_input = torch.cat([latents] * 2) if do_cfg else latents
        latent_input = scheduler.scale_model_input(latent_input, t)
        noise_pred = unet(latent_input, t, encoder_hidden_states=prompt_embeds, return_dict=False)[0]
        if do_cfg:
            noise_uncond, noise_text = noise_pred.chunk(2)
            noise_pred = noise_uncond + request.cfg_scale * (noise_text - noise_uncond)  # ε̂ = ε∅ + s(εc − ε∅)
        latents = scheduler.step(noise_pred, t, latents, **extra_step_kwargs, return_dict=False)[0]
        # GLIDE replacement: the known region becomes a fresh sample of q(x_{t_next} | x0)
        if i < len(timesteps) - 1:
            fresh = torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
            known = scheduler.add_noise(image_latents, fresh, timesteps[i + 1 : i + 2])
        else:
            known = image_latents
        latents = latent_mask * latents + (1 - latent_mask) * known
        if report(pipe, latents):
            break

    # 6. Decode
    decoded = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]
    decoded = (decoded / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()
    return _to_uint8(decoded)


def _step_params(scheduler) -> set[str]:
    import inspect

    return set(inspect.signature(scheduler.step).parameters)


@torch.inference_mode()
def _inpaint_model_method(manager, entry, request, pixels, mask, report) -> np.ndarray:
    """Method (b): diffusers' StableDiffusionInpaintPipeline with a 9-channel UNet (mask + masked image as input)."""
    pipe = manager.request_pipeline(entry.name, INPAINT, request.sampler)
    in_channels = pipe.unet.config.in_channels
    if in_channels != 9:
        raise ValueError(
            f"`inpaint_model` {entry.name!r} has a {in_channels}-channel UNet; method (b) needs a 9-channel "
            "inpainting UNet"
        )
    generator = torch.Generator("cpu").manual_seed(request.seed)
    height, width = mask.shape

    def callback(pipeline, i, t, kwargs):
        if report(pipeline, kwargs["latents"]):
            pipeline._interrupt = True
        return kwargs

    # 2-5. The pipeline's own loop; sizes already match, so nothing is resized inside it
    images = pipe(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt or None,
        image=Image.fromarray(pixels),
        mask_image=Image.fromarray(mask.astype(np.uint8) * 255, "L"),
        height=height,
        width=width,
        strength=request.strength,
        num_inference_steps=request.steps,
        guidance_scale=request.cfg_scale,
        generator=generator,
        output_type="np",
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents"],
    ).images
    return _to_uint8(images[0])


def _parameters(request: InpaintRequest, entry: ModelEntry, run: Method, shape) -> str:
    text = format_parameters(
        GenerationParameters(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            steps=request.steps,
            sampler=Sampler.from_label(request.sampler).label,
            cfg_scale=request.cfg_scale,
            seed=request.seed,
            width=int(shape[1]),
            height=int(shape[0]),
            model=entry.name,
        )
    )
    extra = [f"Denoising strength: {request.strength:g}", f"Mask blur: {request.mask_blur}"]
    if request.only_masked:
        extra.append(f"Inpaint area: Only masked, Masked area padding: {request.only_masked_padding}")
    extra.append(f'Inpaint method: "{run.label}"')
    return text + ", " + ", ".join(extra)


__all__ = [
    "InpaintRequest",
    "InpaintResult",
    "Method",
    "MAX_STEPS",
    "crop_box",
    "feather",
    "inpaint",
    "inpainting_models",
    "inpainting_model_for",
    "mask_from_layers",
    "mask_preview",
    "normalise_image",
    "normalise_mask",
    "outpaint",
    "paste_back",
    "resize_mask",
]
