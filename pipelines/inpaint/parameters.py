"""The A1111-style `parameters` text of an inpainted image."""

from __future__ import annotations

from ..models import ModelEntry
from ..png_info import GenerationParameters, format_parameters
from ..samplers import Sampler
from .request import InpaintRequest, Method


def inpaint_parameters(request: InpaintRequest, entry: ModelEntry, run: Method, shape) -> str:
    """The text for the image `run` made with `entry` on a canvas of `shape` (H, W, ...)."""
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
    extra = [f"Denoising strength: {request.denoising_strength:g}", f"Mask blur: {request.mask_blur}"]
    if run is Method.REPLACE and request.resample > 1:
        extra.append(f"Resample passes: {request.resample}")
    if request.only_masked:
        extra.append(f"Inpaint area: Only masked, Masked area padding: {request.only_masked_padding}")
    extra.append(f'Inpaint method: "{run.label}"')
    return text + ", " + ", ".join(extra)
