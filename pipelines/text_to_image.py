"""Text to image: one typed request in, PIL images with their A1111 `parameters` out.

Lifecycle: check inputs → per-request pipeline with a fresh scheduler → seeded generators → the pipeline's
own denoising loop, watched by `callback_on_step_end` (progress, previews, Stop) → images + parameters.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from PIL import Image

from .errors import require_text
from .jobs import StepCounter, StepInfo
from .limits import check_fields, concrete_seed
from .manager import PipelineManager
from .models import TXT2IMG, ModelEntry
from .png_info import GenerationParameters, attach, format_parameters
from .samplers import Sampler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextToImageRequest:
    """Everything that decides the images. Defaults live here and nowhere else."""

    prompt: str
    negative_prompt: str = ""
    model: str | None = None  # registry name; None = the default (bundled) model
    sampler: str = Sampler.DPMPP_2M.label  # a WebUI sampler label, see pipelines/samplers.py
    steps: int = 20  # denoising steps (limits: pipelines/limits.py)
    cfg_scale: float = 5.0  # classifier-free guidance scale s (1 = plain conditional sampling)
    seed: int = -1  # -1 = random; image i of a batch uses seed + i
    width: int | None = None  # None = the model's native size
    height: int | None = None
    batch_size: int = 1  # images per request


@dataclass(frozen=True)
class TextToImageResult:
    images: list[Image.Image]  # each with `.info["parameters"]`
    parameters: list[str]  # A1111 text per image
    seed: int  # the seed actually used (resolved from -1)
    request: TextToImageRequest  # with width/height/seed resolved
    stopped_at: int | None = None  # the step Stop was honoured at, None when it ran to the end


def resolve(request: TextToImageRequest, entry: ModelEntry) -> TextToImageRequest:
    """Fills the model-dependent defaults (size) and draws a seed for -1, without changing anything else."""
    seed = concrete_seed(request.seed)
    return replace(
        request,
        model=entry.name,
        seed=seed,
        width=request.width or entry.native_size,
        height=request.height or entry.native_size,
    )


def validate(request: TextToImageRequest, entry: ModelEntry) -> None:
    """Raises a ValueError naming the parameter and the value received for the first bad field.

    `request` must be resolved (width/height set). Nothing is silently fixed.
    """
    require_text(request.prompt, "prompt", "type what to draw")
    sampler = Sampler.from_label(request.sampler)
    if sampler.needs_distilled_model and not entry.supports_lcm:
        raise ValueError(
            f"`sampler` {sampler.label!r} needs an LCM-distilled model, and {entry.name!r} is not one; "
            "pick another sampler"
        )
    check_fields(request, "steps", "cfg_scale", "seed", "batch_size")
    check_size(request.width, request.height, entry)


def check_size(width: object, height: object, entry: ModelEntry) -> None:
    """Raises a ValueError unless `width`x`height` is a size `entry` can draw (multiples, pixel cap)."""
    m = entry.size_multiple
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or value < m:
            raise ValueError(f"`{name}` must be an integer of at least {m}, got {value!r}")
        if value % m:
            raise ValueError(f"`{name}` must be divisible by {m} for {entry.name}, got {value}")
    if width * height > entry.max_pixels:
        raise ValueError(
            f"`width`x`height` must be at most {entry.max_pixels} pixels for {entry.name} "
            f"(native {entry.native_size}x{entry.native_size}), got {width}x{height}"
        )


def text_to_image(
    manager: PipelineManager,
    request: TextToImageRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
    adjust_latents: Callable[[Any, int, dict[str, torch.Tensor]], torch.Tensor] | None = None,
) -> TextToImageResult:
    """Generates `request.batch_size` images.

    Args:
        manager: loads the model (lazily) and serialises work on the device.
        request: what to draw; validated here, errors name the parameter.
        on_step: called after every denoising step from the generating thread.
        stop: when set, generation ends at the next step boundary (the partly denoised images are returned).
        preview_every: decode a preview every this many steps (0 = never).
        adjust_latents: called after step `i` (from 0) as `adjust_latents(pipeline, i, tensors)` and returns
            the latents the next step starts from (layout guidance). `tensors` holds the pipeline's step
            tensors: "latents", "prompt_embeds" (and SDXL's "add_text_embeds", "add_time_ids"), the
            conditioning ones as [negative; positive] under classifier-free guidance.

    Returns:
        images (PIL, `.info["parameters"]` set), their parameter texts, and the seed used.
    """
    # 1. Check inputs
    entry = manager.entry(request.model, TXT2IMG)
    request = resolve(request, entry)
    validate(request, entry)
    return manager.run(_generate, manager, entry, request, on_step, stop, preview_every, adjust_latents)


def _generate(manager, entry, request, on_step, stop, preview_every, adjust_latents) -> TextToImageResult:
    # 2. A per-request pipeline: shared weights, fresh scheduler
    pipe = manager.request_pipeline(entry.name, TXT2IMG, request.sampler)

    # 3. Seeds: one CPU generator per image, so a seed gives the same image on any device
    generators = [torch.Generator("cpu").manual_seed(request.seed + i) for i in range(request.batch_size)]

    # 4. Step callback: progress, previews, Stop (and the latent hook while steps remain)
    counter = StepCounter(request.steps, on_step, stop, preview_every)
    count_step = counter.pipeline_callback()

    def callback(pipeline, i, t, kwargs):
        kwargs = count_step(pipeline, i, t, kwargs)
        if adjust_latents is not None and counter.stopped_at is None and i + 1 < request.steps:
            kwargs["latents"] = adjust_latents(pipeline, i, kwargs)
        return kwargs

    # 5. Denoising loop (the pipeline's own)
    with torch.inference_mode():
        images = pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            num_inference_steps=request.steps,
            guidance_scale=request.cfg_scale,
            width=request.width,
            height=request.height,
            num_images_per_prompt=request.batch_size,
            generator=generators,
            callback_on_step_end=callback,
            callback_on_step_end_tensor_inputs=pipe._callback_tensor_inputs if adjust_latents else ["latents"],
        ).images

    # 6. Parameters on every image
    texts = []
    for i, image in enumerate(images):
        text = format_parameters(
            GenerationParameters(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt,
                steps=request.steps,
                sampler=Sampler.from_label(request.sampler).label,
                cfg_scale=request.cfg_scale,
                seed=request.seed + i,
                width=request.width,
                height=request.height,
                model=entry.name,
            )
        )
        attach(image, text)
        texts.append(text)
    return TextToImageResult(
        images=list(images),
        parameters=texts,
        seed=request.seed,
        request=request,
        stopped_at=counter.stopped_at,
    )
