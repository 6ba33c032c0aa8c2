"""Text to image: one typed request in, PIL images with their A1111 `parameters` out.

Lifecycle: check inputs → per-request pipeline with a fresh scheduler → seeded generators → the pipeline's
own denoising loop, watched by `callback_on_step_end` (progress, previews, Stop) → images + parameters.

Experts by noise level (eDiff-I, Balaji et al. 2022, https://arxiv.org/abs/2211.01324; SDXL's base + refiner,
Podell et al. 2023): with `refiner_switch` f < 1 the base model denoises the high-noise steps and the model's
refiner (its registry `extras["refiner"]`) the low-noise rest. As AUTOMATIC1111's "Refiner: switch at", f is a
fraction of the steps: the base runs the first k = round(steps · f) steps (halves round up), the refiner the
others. diffusers cuts by noise level instead (`denoising_end` / `denoising_start`: the base keeps the timesteps
t ≥ c, the refiner those below, with c = round(T · (1 − d)) for T training timesteps), so `refiner_split` turns k
into the d whose cutoff c lies just above step k's timestep. The base hands over its latents (x_t at step k)
unscaled and undecoded; the refiner adds no noise to them.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from PIL import Image

from .capabilities import TEXT_TO_IMAGE, UPSCALE_ACTION, require
from .errors import require_text
from .jobs import StepCounter, StepInfo, Stopped, takes_step_end_callback
from .limits import check, check_fields, concrete_seed
from .manager import PipelineManager
from .models import IMG2IMG, TXT2IMG, ModelEntry
from .pipeline_parts import latents_to_pil
from .png_info import GenerationParameters, attach, format_parameters
from .samplers import Sampler
from .upscale import UpscaleRequest, check_input_size, run_upscaler

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
    # "Refiner: switch at" f, 0 < f ≤ 1: the base draws the first round(steps·f) steps, the model's refiner
    # (`extras["refiner"]`, SDXL) the rest; None or 1 = the base alone
    refiner_switch: float | None = None
    # A second stage, off when None: an upscaler's registry name (pipelines/upscale.py) drawing every image 4x larger
    upscaler: str | None = None
    upscale_steps: int = 20
    upscale_noise_level: int = 20  # noise-conditioning augmentation of the first stage's images (Imagen)


@dataclass(frozen=True)
class TextToImageResult:
    images: list[Image.Image]  # each with `.info["parameters"]`
    parameters: list[str]  # A1111 text per image
    seed: int  # the seed actually used (resolved from -1)
    request: TextToImageRequest  # with width/height/seed resolved
    stopped_at: int | None = None  # the step Stop was honoured at, None when it ran to the end
    refiner: str | None = None  # the refiner that drew the low-noise steps, None when the base ran alone
    switched_at: int | None = None  # steps the base ran before the refiner took over (None: base alone)
    upscaled: bool = False  # the second stage ran (to the end or to Stop)


@dataclass(frozen=True)
class RefinerSplit:
    """How diffusers splits one run between the base (`denoising_end`) and the refiner (`denoising_start`)."""

    fraction: float  # d, passed as both `denoising_end` and `denoising_start`
    base_steps: int  # timesteps t ≥ c the base runs
    refiner_steps: int  # timesteps t < c the refiner runs


def base_steps(steps: int, switch: float) -> int:
    """k = round(steps · f), halves rounded up (the base's share of the steps, before any scheduler is involved)."""
    return math.floor(round(steps * switch, 9) + 0.5)


def uses_refiner(request: TextToImageRequest) -> bool:
    """Whether the refiner draws any step of `request` (f < 1 leaving it at least one step)."""
    f = request.refiner_switch
    return f is not None and f < 1 and base_steps(request.steps, f) < request.steps


def refiner_split(base_scheduler, refiner_scheduler, steps: int, switch: float) -> RefinerSplit:
    """The `denoising_end`/`denoising_start` fraction d that gives the base its round(steps · f) steps, and the steps
    each pipeline then runs, counted the way diffusers counts them (so progress totals match the UNet calls).

    Where two steps share a whole timestep (Karras sigmas at many steps, near the end) no cutoff separates them and
    the base runs fewer steps; the counts say so.

    Args:
        base_scheduler, refiner_scheduler: the request's schedulers (copies are set up; these stay untouched).
        steps: `num_inference_steps` of both calls.
        switch: f, with 1 ≤ round(steps · f) < steps.
    """
    k = base_steps(steps, switch)
    base_t = _timesteps(base_scheduler, steps)
    total = base_scheduler.config.num_train_timesteps
    # The smallest whole timestep above step k's (t_k, 0-based): the base keeps t_0 … t_{k-1}, the refiner t_k ….
    cutoff = min(max(math.floor(float(base_t[k])) + 1, 1), total - 1)
    fraction = 1 - cutoff / total
    # Counted as StableDiffusionXLPipeline (8.1) and StableDiffusionXLImg2ImgPipeline.get_timesteps count them.
    cut = int(round(total - fraction * total))
    base_count = int((base_t >= cut).sum())
    refiner_t = _timesteps(refiner_scheduler, steps)
    refiner_total = refiner_scheduler.config.num_train_timesteps
    refiner_cut = int(round(refiner_total - fraction * refiner_total))
    refiner_count = int((refiner_t < refiner_cut).sum())
    if refiner_scheduler.order == 2 and refiner_count % 2 == 0:
        refiner_count += 1
    return RefinerSplit(fraction=fraction, base_steps=base_count, refiner_steps=refiner_count)


def _timesteps(scheduler, steps: int) -> torch.Tensor:
    fresh = type(scheduler).from_config(scheduler.config)
    fresh.set_timesteps(steps, device="cpu")
    return fresh.timesteps


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


def validate(request: TextToImageRequest, entry: ModelEntry, refiner_models: Sequence[str] = ()) -> None:
    """Raises a ValueError naming the parameter and the value received for the first bad field.

    `request` must be resolved (width/height set). Nothing is silently fixed. `refiner_models`: the models that
    have a refiner, named when `entry` has none.
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
    check_refiner_switch(request, entry, refiner_models)


def check_refiner_switch(request: TextToImageRequest, entry: ModelEntry, refiner_models: Sequence[str] = ()) -> None:
    """Raises a ValueError unless `request.refiner_switch` is None, 1, or a switch `entry`'s refiner can take.

    `request.steps` must be checked already.
    """
    f = request.refiner_switch
    if f is None:
        return
    check(f, "refiner_switch")
    if f == 1:
        return
    if not entry.extras.get("refiner"):
        have = ", ".join(repr(name) for name in refiner_models) if refiner_models else "none is listed"
        raise ValueError(
            f"`refiner_switch` {f:g} needs a model with a refiner, and {entry.name!r} has none (models with one: "
            f"{have}); set it to 1 for no refiner"
        )
    if Sampler.from_label(request.sampler).needs_distilled_model:
        raise ValueError(
            f"`refiner_switch` {f:g} cannot go with the sampler {request.sampler!r}: the refiner is not "
            "LCM-distilled; set it to 1 for no refiner"
        )
    if base_steps(request.steps, f) < 1:
        raise ValueError(
            f"`refiner_switch` {f:g} leaves the base model no step of {request.steps}: "
            f"raise it to at least {0.5 / request.steps:.2g} or use more steps"
        )


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
        on_step: called after every denoising step from the generating thread; with a refiner, the steps of both
            models count as one job.
        stop: when set, generation ends at the next step boundary (the partly denoised images are returned), in
            the base's steps or the refiner's.
        preview_every: decode a preview every this many steps (0 = never).
        adjust_latents: called after step `i` (from 0) as `adjust_latents(pipeline, i, tensors)` and returns
            the latents the next step starts from (layout guidance). `tensors` holds the pipeline's step
            tensors: "latents", "prompt_embeds" (and SDXL's "add_text_embeds", "add_time_ids"), the
            conditioning ones as [negative; positive] under classifier-free guidance. With a refiner it sees the
            base's steps only.

    Returns:
        images (PIL, `.info["parameters"]` set), their parameter texts, and the seed used.
    """
    # 1. Check inputs
    entry = require(manager, TEXT_TO_IMAGE, request.model)
    request = resolve(request, entry)
    validate(request, entry, models_with_refiner(manager))
    refiner = refiner_entry(manager, entry) if uses_refiner(request) else None
    upscaler = require(manager, UPSCALE_ACTION, request.upscaler, "upscaler") if request.upscaler else None
    if upscaler is not None:
        check_fields(request, "upscale_steps", "upscale_noise_level")
        check_input_size(request.width, request.height, upscaler)
    stages = (entry, refiner, upscaler)
    return manager.run(_generate, manager, stages, request, on_step, stop, preview_every, adjust_latents)


def models_with_refiner(manager: PipelineManager) -> list[str]:
    """The text-to-image models whose registry entry names a refiner."""
    return [name for name in manager.registry.names(TXT2IMG) if manager.registry.get(name).extras.get("refiner")]


def refiner_entry(manager: PipelineManager, entry: ModelEntry) -> ModelEntry:
    """`entry`'s refiner, when it is a listed image-to-image model (the manager loads only listed models)."""
    refiner = manager.extra_entry(entry, "refiner")
    if refiner is None or refiner.name not in manager.registry.names(IMG2IMG):
        raise ValueError(
            f"`refiner_switch` needs the refiner of {entry.name!r} ({entry.extras.get('refiner')!r}) as a listed "
            "image-to-image model: list its folder as a model of its own in the config and name that model in "
            "`extras = { refiner = ... }`"
        )
    return refiner


def _generate(manager, stages, request, on_step, stop, preview_every, adjust_latents) -> TextToImageResult:
    entry, refiner, upscaler = stages
    # 2. Per-request pipelines: shared weights, fresh schedulers; the refiner's step split (eDiff-I experts)
    pipe = manager.request_pipeline(entry.name, TXT2IMG, request.sampler)
    split = None
    if refiner is not None:
        refiner_pipe = manager.request_pipeline(refiner.name, IMG2IMG, request.sampler)
        split = refiner_split(pipe.scheduler, refiner_pipe.scheduler, request.steps, request.refiner_switch)
        if split.refiner_steps == 0:  # only when the two schedulers' configs differ: the base draws every step
            split = refiner = None
    if split is not None:
        logger.info("%s: %d steps, then %s: %d", entry.name, split.base_steps, refiner.name, split.refiner_steps)

    # 3. Seeds: one CPU generator per image, so a seed gives the same image on any device
    generators = [torch.Generator("cpu").manual_seed(request.seed + i) for i in range(request.batch_size)]

    # 4. Step callback: progress over both stages, previews, Stop (and the latent hook while steps remain)
    total = request.steps if split is None else split.base_steps + split.refiner_steps
    counter = StepCounter(total + (request.upscale_steps if upscaler else 0), on_step, stop, preview_every)
    if upscaler is not None:
        counter.stage = f"{entry.name}: drawing"
    count_step = counter.pipeline_callback()

    def callback(pipeline, i, t, kwargs):
        kwargs = count_step(pipeline, i, t, kwargs)
        if adjust_latents is not None and counter.stopped_at is None and i + 1 < request.steps:
            kwargs["latents"] = adjust_latents(pipeline, i, kwargs)
        return kwargs

    # 5. Denoising loop (the pipelines' own): the base alone, or the base to d and the refiner from d
    common = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt or None,
        "num_inference_steps": request.steps,
        "guidance_scale": request.cfg_scale,
        "num_images_per_prompt": request.batch_size,
        "generator": generators,
    }
    with torch.inference_mode():
        try:
            if takes_step_end_callback(pipe):
                out = pipe(
                    **common,
                    width=request.width,
                    height=request.height,
                    callback_on_step_end=callback,
                    callback_on_step_end_tensor_inputs=pipe._callback_tensor_inputs if adjust_latents else ["latents"],
                    **({} if split is None else {"denoising_end": split.fraction, "output_type": "latent"}),
                )
            else:  # DeepFloyd IF: the older per-step callback, and no latent hook
                out = pipe(
                    **common, width=request.width, height=request.height, callback=counter.legacy_callback(pipe)
                )
        except Stopped:  # raised out of a loop that cannot be interrupted (IF, Kandinsky 2.2's decoder)
            out = None
        if out is None:  # Stopped: the step's latents, decoded
            images = latents_to_pil(pipe, counter.last_latents)
        elif split is None:
            images = out.images
        elif counter.stopped_at is not None:  # Stop in the base's steps: its partly denoised latents, decoded
            images = latents_to_pil(pipe, out.images)
        else:
            images = refiner_pipe(
                **common,
                image=out.images,  # x_t at the switch, unscaled: the refiner adds no noise (`denoising_start`)
                denoising_start=split.fraction,
                callback_on_step_end=count_step,
                callback_on_step_end_tensor_inputs=["latents"],
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
                refiner=refiner.name if refiner is not None else "",
                refiner_switch=request.refiner_switch if refiner is not None else None,
            )
        )
        attach(image, text)
        texts.append(text)

    # 7. The second stage (cascaded super-resolution), unless Stop came in the first
    upscaled = upscaler is not None and counter.stopped_at is None
    if upscaled:
        counter.stage = f"{upscaler.name}: upscaling x4"
        second = UpscaleRequest(
            images=tuple(images),
            prompt=request.prompt,
            model=upscaler.name,
            steps=request.upscale_steps,
            upscale_noise_level=request.upscale_noise_level,
            cfg_scale=request.cfg_scale,
            seed=request.seed,
        )
        images = run_upscaler(manager, upscaler, second, counter)
        texts = [image.info["parameters"] for image in images]
    return TextToImageResult(
        images=list(images),
        parameters=texts,
        seed=request.seed,
        request=request,
        stopped_at=counter.stopped_at,
        refiner=refiner.name if refiner is not None else None,
        switched_at=split.base_steps if split is not None else None,
        upscaled=upscaled,
    )
