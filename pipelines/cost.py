"""How long a request will hold a GPU, estimated before it runs: ZeroGPU's `duration` (shorter requests are queued
first; a run that outlasts its duration is ended), and anything else that wants a rough cost.

The estimate counts UNet evaluations (steps × images × 2 under classifier-free guidance, per method) and scales them
by the pixels drawn: seconds = BASE + SECONDS_PER_MEGAPIXEL_EVALUATION × evaluations × megapixels, clamped.
"""

from __future__ import annotations

from .guidance.calibration import renders_per_search
from .guidance.grid import NOT_CALIBRATED, GuidanceGridRequest
from .guidance.methods import GuidanceMethod
from .inpaint.request import InpaintRequest, Method
from .paint_with_words import PaintWithWordsRequest
from .text_to_image import TextToImageRequest
from .unclip import CaptionRequest, InterpolationRequest, TextDiffRequest, VariationsRequest
from .upscale import UpscaleRequest

BASE_SECONDS = 15  # model placement, VAE decode, CLIP scores, Python around the loop
SECONDS_PER_MEGAPIXEL_EVALUATION = 0.12  # a UNet pass over one megapixel image (SDXL-size UNet, bf16, an A100 slice)
STEERING_COST = 1.75  # paint with words' layout steering, measured by bench.paint_with_words
MIN_SECONDS, MAX_SECONDS = 20, 300


def unet_evaluations(request) -> float:
    """UNet passes over one image's latent that `request` takes (guided passes count twice)."""
    if isinstance(request, PaintWithWordsRequest):
        plain = request.steps * request.batch_size * _guided(request.cfg_scale)
        return plain * (STEERING_COST if request.steer_layout else 1.0)
    if isinstance(request, TextToImageRequest):
        first = request.steps * request.batch_size * _guided(request.cfg_scale)
        # the second stage's passes are over 4x the sides: 16x the pixels
        second = (
            request.upscale_steps * request.batch_size * _guided(request.cfg_scale) * 16 if request.upscaler else 0
        )
        return first + second
    if isinstance(request, GuidanceGridRequest):
        return request.steps * _grid_passes(request)
    if isinstance(request, InpaintRequest):
        steps = request.steps * request.denoising_strength * _guided(request.cfg_scale)
        runs = Method.from_label(request.method).runs()
        total = 0.0
        for run in runs:  # (a) redraws the first half of its steps `resample` times
            total += steps * (1 + (request.resample - 1) / 2) if run is Method.REPLACE else steps
        return total
    if isinstance(request, VariationsRequest):
        return request.count * request.steps * _guided(request.cfg_scale)
    if isinstance(request, InterpolationRequest):
        return (request.frames + 2) * request.steps * _guided(request.cfg_scale)  # + the two inversions
    if isinstance(request, TextDiffRequest):
        return (request.frames + 1) * request.steps * _guided(request.cfg_scale)  # + one inversion
    if isinstance(request, UpscaleRequest):  # over the upscaler's output size (its native size)
        return request.steps * len(request.images) * _guided(request.cfg_scale)
    if isinstance(request, CaptionRequest):
        return request.prior_steps * 0.1 + request.steps * _guided(request.cfg_scale)  # the prior is tiny
    raise TypeError(f"no cost model for {type(request).__name__}")


def estimate_seconds(request, native_size: int) -> int:
    """Seconds of GPU time `request` should need, for a model drawing `native_size`² when the request names no size."""
    width = getattr(request, "width", None) or native_size
    height = getattr(request, "height", None) or native_size
    seconds = BASE_SECONDS + SECONDS_PER_MEGAPIXEL_EVALUATION * unet_evaluations(request) * width * height / 1e6
    return int(min(MAX_SECONDS, max(MIN_SECONDS, round(seconds))))


def _grid_passes(request: GuidanceGridRequest) -> float:
    """UNet passes per step of a lab grid: per cell 2 (3 for a row that perturbs the UNet: PAG, SEG, SLG), and a
    calibrated row renders every candidate strength of its search."""
    per_cell = renders_per_search() if request.calibrate else 1
    passes = 0.0
    for label in set(request.methods):
        method = GuidanceMethod.from_label(label)
        cells = len(set(request.strengths)) * len(set(request.intervals))
        renders = cells * (1 if method in NOT_CALIBRATED else per_cell)
        passes += renders * (3 if method.spec.perturbs_unet else 2)
    return passes


def _guided(cfg_scale: float) -> int:
    return 2 if cfg_scale > 1 else 1
