"""Cascaded super-resolution (GLIDE, DALL-E 2, Imagen): a second diffusion model that draws a 4x larger image
conditioned on the low-resolution one.

The low-resolution image is first noised to `noise_level` (noise-conditioning augmentation, Ho et al. 2021 "Cascaded
Diffusion Models"; Imagen): the upsampler was trained on low-resolution images noised to random levels and told the
level, so at sampling time a small level lets it ignore the base model's own artefacts instead of copying them.

Two families: Stable Diffusion's x4 upscaler (`StableDiffusionUpscalePipeline`: latents at the input's resolution with
the noised image concatenated, a VAE that decodes 4x) and DeepFloyd IF stage II (`IFSuperResolutionPipeline`, pixel
space). Both take the older per-step `callback`, so Stop raises out of the call and the step's latents are decoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from PIL import Image

from .capabilities import UPSCALE_ACTION, require
from .jobs import StepCounter, StepInfo, Stopped
from .limits import check_fields, concrete_seed
from .manager import PipelineManager
from .models import TXT2IMG, UPSCALE, ModelEntry
from .pipeline_parts import latents_to_pil
from .png_info import GenerationParameters, attach, format_parameters, parse_parameters, read_parameters

FACTOR = 4  # both families' output side over input side (SD x4: the VAE's 4x; IF stage II: 64 -> 256)
SIDE_MULTIPLE = 8  # the input's sides: the UNets halve the input's resolution up to 3 times


@dataclass(frozen=True)
class UpscaleRequest:
    """Everything that decides the upscaled images."""

    images: tuple[Image.Image, ...]  # the low-resolution images (one batch, the same size)
    prompt: str = ""  # what they show: both upscalers are text-conditioned ("" = unconditioned)
    model: str | None = None  # an upscaler's registry name; None = the default one
    steps: int = 20
    upscale_noise_level: int = 20  # noise-conditioning augmentation level of the low-resolution image
    cfg_scale: float = 5.0
    seed: int = -1  # image i uses seed + i


@dataclass(frozen=True)
class UpscaleResult:
    images: list[Image.Image]  # each with `.info["parameters"]`: the input's own, plus the upscale stage
    request: UpscaleRequest  # with model and seed resolved
    stopped_at: int | None = None


def validate(request: UpscaleRequest, entry: ModelEntry) -> None:
    """Raises a ValueError naming the field for the first bad one."""
    if not request.images:
        raise ValueError("`images` is empty: give the picture to upscale")
    sizes = {image.size for image in request.images}
    if len(sizes) > 1:
        raise ValueError(f"`images` must all be the same size, got {sorted(sizes)}")
    check_input_size(*next(iter(sizes)), entry)
    check_fields(request, "steps", "cfg_scale", "seed", "upscale_noise_level")


def check_noise_level(request: UpscaleRequest, entry: ModelEntry, pipe) -> None:
    """Raises a ValueError when the noise level is above what the loaded upscaler was trained on."""
    highest = max_noise_level(pipe)
    if request.upscale_noise_level > highest:
        got = request.upscale_noise_level
        raise ValueError(f"`upscale_noise_level` must be at most {highest} for {entry.name}, got {got}")


def check_input_size(width: int, height: int, entry: ModelEntry) -> None:
    """Raises a ValueError unless `entry` can upscale a `width`x`height` image."""
    if width % SIDE_MULTIPLE or height % SIDE_MULTIPLE:
        raise ValueError(
            f"`image` sides must be multiples of {SIDE_MULTIPLE} for {entry.name}, got {width}x{height}: crop it"
        )
    if width * height * FACTOR**2 > entry.max_pixels:
        side = int((entry.max_pixels / FACTOR**2) ** 0.5)
        raise ValueError(
            f"`image` {width}x{height} would upscale to {width * FACTOR}x{height * FACTOR}, more than {entry.name} "
            f"draws ({entry.max_pixels} pixels): give at most about {side}x{side}"
        )


def upscale(
    manager: PipelineManager,
    request: UpscaleRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UpscaleResult:
    """Upscales `request.images` 4x (the job contract of `pipelines/jobs.py`)."""
    entry = require(manager, UPSCALE_ACTION, request.model)
    request = replace(request, model=entry.name, seed=concrete_seed(request.seed))
    validate(request, entry)

    def work() -> UpscaleResult:
        counter = StepCounter(request.steps, on_step, stop, preview_every)
        images = run_upscaler(manager, entry, request, counter)
        return UpscaleResult(images, request, counter.stopped_at)

    return manager.run(work)


def run_upscaler(manager: PipelineManager, entry: ModelEntry, request: UpscaleRequest, counter: StepCounter):
    """The upscaler's own loop on one batch, counted by `counter` (its steps may be part of a longer job: text to
    image's second stage). Returns the upscaled images with their parameters. Hold the device lock."""
    pipe = manager.request_pipeline(entry.name, UPSCALE)
    check_noise_level(request, entry, pipe)
    width, height = request.images[0].size
    generators = [torch.Generator("cpu").manual_seed(request.seed + i) for i in range(len(request.images))]
    kwargs = {}
    if type(pipe).__name__ == "IFSuperResolutionPipeline":
        kwargs = {"height": height * FACTOR, "width": width * FACTOR}
    with torch.inference_mode():
        prompt = prompt_inputs(manager, entry, pipe, request.prompt, len(request.images))
        try:
            images = pipe(
                **prompt,
                image=[image.convert("RGB") for image in request.images],  # RGBA, L, CMYK uploads too
                num_inference_steps=request.steps,
                guidance_scale=effective_guidance(pipe, request.cfg_scale),
                noise_level=request.upscale_noise_level,
                generator=generators,
                callback=counter.legacy_callback(pipe),
                callback_steps=1,
                **kwargs,
            ).images
        except Stopped:
            images = latents_to_pil(pipe, counter.last_latents)
    sampler = type(pipe.scheduler).__name__.removesuffix("Scheduler")
    return [
        attach(image, upscaled_parameters(source, request, i, sampler))
        for i, (source, image) in enumerate(zip(request.images, images))
    ]


def prompt_inputs(manager: PipelineManager, entry: ModelEntry, pipe, prompt: str, count: int) -> dict:
    """The prompt as the upscaler takes it: the text, or, for an IF stage II without a text encoder of its own (as
    DeepFloyd ships it), the embeddings of the IF stage I model whose `stage_2` it is."""
    if getattr(pipe, "text_encoder", None) is not None:
        return {"prompt": [prompt] * count}
    stage_1 = _stage_1_of(manager, entry)
    if stage_1 is None:
        raise ValueError(
            f"{entry.name} has no text encoder of its own: it reads the prompt through its IF stage I model, and no "
            f'listed IF model names it as its `stage_2` (add `extras = {{ stage_2 = "{entry.name}" }}` to one)'
        )
    encoder = manager.pipeline(stage_1.name, TXT2IMG)
    cond, uncond = encoder.encode_prompt(
        prompt, do_classifier_free_guidance=True, num_images_per_prompt=count, device=pipe._execution_device
    )
    return {"prompt_embeds": cond, "negative_prompt_embeds": uncond}


def _stage_1_of(manager: PipelineManager, entry: ModelEntry) -> ModelEntry | None:
    """The IF stage I model whose `stage_2` is `entry`, if one is listed."""
    for candidate in manager.registry.entries():
        if candidate.family == "if":
            stage_2 = manager.extra_entry(candidate, "stage_2")
            if stage_2 is not None and stage_2.name == entry.name:
                return candidate
    return None


def reads_prompt(pipe) -> bool:
    """Whether the upscaler's UNet attends to the text at all (the bundled shapes upscaler does not)."""
    config = pipe.unet.config
    return any("CrossAttn" in block for block in (*config.down_block_types, *config.up_block_types)) or (
        config.mid_block_type is not None and "CrossAttn" in config.mid_block_type
    )


def effective_guidance(pipe, cfg_scale: float) -> float:
    """`cfg_scale`, or 1 for an upscaler that does not read the prompt: its conditional and unconditional
    predictions are the same, so guidance would only double the UNet's work for the same picture."""
    return cfg_scale if reads_prompt(pipe) else 1.0


def max_noise_level(pipe) -> int:
    """The highest augmentation level the upscaler was trained with."""
    configured = getattr(pipe.config, "max_noise_level", None)
    if configured is not None:
        return int(configured)
    return int(pipe.image_noising_scheduler.config.num_train_timesteps) - 1


def upscaled_parameters(source: Image.Image, request: UpscaleRequest, index: int, sampler: str) -> str:
    """The low-resolution image's own parameters with the upscale stage added; for an image without them, the
    upscaler's run itself."""
    text = read_parameters(source)
    try:
        base = parse_parameters(text) if text else None
    except ValueError:
        base = None
    seed = request.seed + index
    if base is None:
        width, height = source.size
        return format_parameters(
            GenerationParameters(
                prompt=request.prompt,
                steps=request.steps,
                sampler=sampler,
                cfg_scale=request.cfg_scale,
                seed=seed,
                width=width * FACTOR,
                height=height * FACTOR,
                model=request.model,
                upscaler=request.model,
                upscale_noise_level=request.upscale_noise_level,
            )
        )
    return format_parameters(
        replace(
            base,
            upscaler=request.model,
            upscale_steps=request.steps,
            upscale_noise_level=request.upscale_noise_level,
            upscale_cfg_scale=request.cfg_scale,
            upscale_seed=seed,
        )
    )
