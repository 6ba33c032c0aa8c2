"""Which models an inpainting request runs on, its checks, and the crop policy for images a model cannot take."""

from __future__ import annotations

from dataclasses import replace

from ..capabilities import INPAINT_ANY_MODEL, INPAINT_MODEL, models_for, require
from ..errors import require_text
from ..limits import check, check_fields, concrete_seed
from ..manager import PipelineManager
from ..masks import check_pixels
from ..models import ModelEntry
from ..samplers import Sampler
from .request import SIDES, InpaintRequest, Method

# The inpainting family that goes with a text-to-image family (the same text encoders and latent space).
INPAINTING_SIBLING = {"sd": "sd-inpaint", "sdxl": "sdxl-inpaint"}


def inpainting_models(manager: PipelineManager) -> list[ModelEntry]:
    """Registry entries method (b) can use (a 9-channel inpainting UNet), local ones first."""
    entries = [manager.registry.get(name) for name in models_for(manager.registry, INPAINT_MODEL)]
    return sorted(entries, key=lambda e: {"bundled": 0, "local": 1, "hub": 2}[e.kind])


def inpainting_model_for(manager: PipelineManager, base: ModelEntry) -> ModelEntry | None:
    """The inpainting model that goes with `base`: `<base>-inpaint` if listed, else the first of its family's
    inpainting sibling (SD → SD inpainting, SDXL → SDXL inpainting), local ones first, else None."""
    candidates = inpainting_models(manager)
    for entry in candidates:
        if entry.name in (f"{base.name}-inpaint", f"{base.name} inpainting"):
            return entry
    sibling = INPAINTING_SIBLING.get(base.family)
    return next((e for e in candidates if e.family == sibling), None)


def resolve(request: InpaintRequest, manager: PipelineManager) -> tuple[InpaintRequest, list[ModelEntry]]:
    """Draws the seed and resolves the model names; returns the request and one entry per method run."""
    method = Method.from_label(request.method)
    base = require(manager, INPAINT_ANY_MODEL, request.model)
    inpainter = None
    if Method.INPAINT_MODEL in method.runs():
        if request.inpaint_model:
            inpainter = require(manager, INPAINT_MODEL, request.inpaint_model, "inpaint_model")
        else:
            inpainter = inpainting_model_for(manager, base)
            if inpainter is None:
                listed = [e.name for e in inpainting_models(manager)]
                raise ValueError(
                    f"`method` {method.label!r} needs an inpainting model (9-channel UNet) of {base.name}'s family "
                    f"and none is listed{f' (others: {listed}; choose one as the inpainting model)' if listed else ''}"
                    "; use 'Any model', or add one with --config"
                )
    seed = concrete_seed(request.seed)
    request = replace(
        request,
        method=method.label,
        model=base.name,
        inpaint_model=inpainter.name if inpainter else request.inpaint_model,
        seed=seed,
    )
    return request, [base if run is Method.REPLACE else inpainter for run in method.runs()]


def needs_crop(width: int, height: int, entry: ModelEntry) -> bool:
    """Whether `entry` cannot work on the whole `width`x`height` canvas (too many pixels, or not multiples of 8)."""
    m = entry.size_multiple
    return width * height > entry.max_pixels or width % m != 0 or height % m != 0


def with_crop_policy(request: InpaintRequest, manager: PipelineManager) -> tuple[InpaintRequest, str | None]:
    """The studio's policy for a canvas the model cannot take whole: inpaint only the box around the mask.

    Returns the request (with `only_masked` on where needed) and a note saying so, or None when nothing changed.
    `inpaint` itself never changes a request: it refuses such a size with a message naming both ways out.
    """
    if request.only_masked or request.image is None:
        return request, None
    width, height = _size(request.image)
    left, right, top, bottom = request.outpaint
    width, height = width + left + right, height + top + bottom
    entry = require(manager, INPAINT_ANY_MODEL, request.model)
    if not needs_crop(width, height, entry):
        return request, None
    note = (
        f"The image is {width}×{height} and {entry.name} works at {entry.native_size}×{entry.native_size}, "
        "so 'Only the masked area' was used."
    )
    return replace(request, only_masked=True), note


def _size(image) -> tuple[int, int]:
    if hasattr(image, "shape"):  # a numpy array (H, W[, C])
        return int(image.shape[1]), int(image.shape[0])
    return image.size


def validate(request: InpaintRequest, entries: list[ModelEntry], canvas_size: tuple[int, int]) -> None:
    """Raises a ValueError naming the parameter and the value received. `request` must be resolved."""
    require_text(request.prompt, "prompt", "type what to draw")
    sampler = Sampler.from_label(request.sampler)
    for entry in entries:
        if sampler.needs_distilled_model and not entry.supports_lcm:
            raise ValueError(
                f"`sampler` {sampler.label!r} needs an LCM-distilled model, and {entry.name!r} is not one; "
                "pick another sampler"
            )
    check_fields(request, "steps", "cfg_scale", "seed", "denoising_strength", "resample", "mask_blur")
    check_fields(request, "only_masked_padding")
    if int(request.steps * request.denoising_strength) < 1:
        raise ValueError(
            f"`denoising_strength` {request.denoising_strength} x `steps` {request.steps} leaves no denoising "
            "step; raise either"
        )
    for side, value in zip(SIDES, request.outpaint, strict=True):
        check(value, "outpaint", f"outpaint_{side}")
    width, height = canvas_size
    check_pixels(width, height)
    if request.only_masked:
        return  # the work area is scaled to each model's native size
    for entry in entries:
        m = entry.size_multiple
        if width % m or height % m:
            raise ValueError(
                f"`image` size must be divisible by {m} for {entry.name}, got {width}x{height}"
                + (" after outpainting" if any(request.outpaint) else "")
                + "; crop or resize it, or turn on 'only masked area' (which scales the work area)"
            )
        if width * height > entry.max_pixels:
            raise ValueError(
                f"`image` must have at most {entry.max_pixels} pixels for {entry.name} "
                f"(native {entry.native_size}x{entry.native_size}), got {width}x{height}; "
                "scale it down or turn on 'only masked area'"
            )
