"""unCLIP (DALL-E 2, Ramesh et al. 2022): an image is a pair (CLIP image embedding z_i, noise x_T).

Runs on Stable unCLIP folders (`StableUnCLIPImg2ImgPipeline`: the bundled `shapes-unclip`, or
stabilityai/stable-diffusion-2-1-unclip), always through the pipeline's own call with `image_embeds=` and
`latents=`; only DDIM inversion is a loop of ours (diffusers has no inversion for this pipeline).

- Variations: z_i of the input image, decoded from fresh noise x_T (one seed per image). How far they stray:
  `noise_level` (Stable unCLIP noises z_i before decoding: 0 keeps it, 999 nearly erases it) and DDIM η
  (0 deterministic, 1 adds fresh noise each step).
- Interpolation: z_θ = slerp(z_1, z_2, θ) over whole vectors,
      ω = arccos(clamp(⟨z_1/|z_1|, z_2/|z_2|⟩, −1, 1)),
      slerp = sin((1−θ)ω)/sin ω · z_1 + sin(θω)/sin ω · z_2, lerp when sin ω ≈ 0,
  with x_T either fixed (one seed for every frame) or "inverted": x_T,k = DDIM inversion of image k under z_k,
  and x_T(θ) = slerp(x_T,1, x_T,2, θ), so that θ = 0 and θ = 1 reproduce the inputs. Both the inversions and
  the frames are guided (default 5): unguided, the inverted noise holds each frame on its nearer end image and
  the strip jumps half-way (shapes-unclip, 12 pairs × 7 frames: Spearman(θ, CLIP similarity to B) 0.82 at
  guidance 1, 0.93 at 5; end-point PSNR 36.8 vs 36.6 dB).
- Caption → image (when the folder has a prior): `StableUnCLIPPipeline` built from the decoder's components and a
  `PriorTransformer` (caption → z_i) in the folder's `prior*` sub-folders; its image can then be varied or edited.
- Text diffs: z_d = normalize(z_t(target) − z_t(source)) from the CLIP text tower paired with the image
  encoder; frames decode |z_i| · slerp(ẑ_i, z_d, θ) (z_i's norm is kept: the decoder was trained on it) from the
  image's own DDIM-inverted x_T, as DALL-E 2 does, so that the edit keeps the picture's layout (θ = 0 gives the
  image back). With a fixed seed's noise instead, red → blue at θ = 1 kept the shape in 0.44 of cases, not 1.00.

Nothing here imports gradio; errors are ValueErrors naming the parameter.
"""

from __future__ import annotations

import enum
import functools
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .errors import require_text
from .manager import PipelineManager
from .masks import normalise_image
from .models import UNCLIP, ModelEntry
from .samplers import Sampler
from .text_to_image import MAX_SEED, MAX_STEPS, StepInfo, decode_preview

logger = logging.getLogger(__name__)

MAX_VARIATIONS = 8
MAX_FRAMES = 16
MAX_NOISE_LEVEL = 999  # image_noising_scheduler has 1000 levels


class NoiseMode(enum.Enum):
    """x_T of the interpolation frames; the value is the UI label."""

    FIXED = "fixed"  # one seed's noise for every frame
    INVERTED = "inverted"  # slerp between the two inputs' DDIM-inverted noises (end points reproduce the inputs)

    @classmethod
    def from_label(cls, label: str | NoiseMode) -> NoiseMode:
        if isinstance(label, NoiseMode):
            return label
        for mode in cls:
            if str(label).strip().lower() in (mode.value, mode.name.lower()):
                return mode
        raise ValueError(f"`noise_mode` must be one of {[m.value for m in cls]}, got {label!r}")


# ----------------------------------------------------------------------------- maths


def slerp(a: torch.Tensor, b: torch.Tensor, theta: float, eps: float = 1e-4) -> torch.Tensor:
    """Spherical interpolation between two tensors taken as whole vectors (all elements at once).

    Args:
        a, b: tensors of the same shape (an embedding (1, D) or a latent (1, C, H, W)).
        theta: 0 gives `a`, 1 gives `b`.
        eps: below this sin ω the two directions are (anti)parallel and plain lerp is used.

    For |a| = |b| the result keeps that norm for every θ (a lerp would shrink it mid-way).
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp needs tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    a64, b64 = a.double(), b.double()
    dot = torch.clamp((a64 / a64.norm()).flatten() @ (b64 / b64.norm()).flatten(), -1.0, 1.0)
    omega = torch.arccos(dot)
    sin_omega = torch.sin(omega)
    if float(sin_omega) < eps:
        out = (1 - theta) * a64 + theta * b64
    else:
        out = (torch.sin((1 - theta) * omega) * a64 + torch.sin(theta * omega) * b64) / sin_omega
    return out.to(a.dtype)


# ----------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class VariationsRequest:
    """Variations of one image. Defaults live here and nowhere else."""

    image: Image.Image | np.ndarray | None
    model: str | None = None  # registry name of a Stable unCLIP model; None = the bundled one
    count: int = 4  # images, 1..8; image i uses seed + i
    noise_level: int = 0  # 0..999: noise added to z_i before decoding (further from the input when higher)
    eta: float = 0.0  # DDIM η, 0..1: 0 = deterministic per seed, 1 = fresh noise at every step
    steps: int = 20  # DDIM steps, 1..150
    guidance_scale: float = 5.0  # classifier-free guidance on the image embedding (1 = none), 0..30
    seed: int = -1  # -1 = random


@dataclass(frozen=True)
class InterpolationRequest:
    """A strip of frames between two images."""

    image_a: Image.Image | np.ndarray | None
    image_b: Image.Image | np.ndarray | None
    model: str | None = None
    frames: int = 7  # 2..16, θ = 0, 1/(k−1), ..., 1
    noise_mode: str = NoiseMode.INVERTED.value  # "fixed" or "inverted"
    steps: int = 20  # DDIM steps (also of the inversion), 1..150
    guidance_scale: float = 5.0  # of the inversions and of every frame; 1 = none (frames then cling to the ends)
    seed: int = -1  # the fixed noise (fixed mode) and the embedding noise


@dataclass(frozen=True)
class TextDiffRequest:
    """An edit by a text difference: frames at θ = 0 .. `theta`."""

    image: Image.Image | np.ndarray | None
    source_caption: str  # what the image shows ("a red circle")
    target_caption: str  # what it should show ("a blue circle")
    model: str | None = None
    theta: float = 0.75  # the last frame's θ, 0..1 (0 = the image's own embedding)
    frames: int = 4  # 1..16 frames at θ = linspace(0, theta) (just `theta` when 1)
    steps: int = 20
    guidance_scale: float = 5.0
    seed: int = -1  # the embedding noise; x_T is the image's DDIM inversion, the same for every frame


@dataclass(frozen=True)
class CaptionRequest:
    """A picture from a caption: the prior draws z_i, the decoder draws the image."""

    caption: str
    model: str | None = None
    prior_steps: int = 25  # DDPM steps of the prior, 1..150
    prior_guidance_scale: float = 4.0  # classifier-free guidance of the prior, 0..30
    steps: int = 20  # DDIM steps of the decoder
    guidance_scale: float = 5.0  # decoder guidance on the image embedding
    seed: int = -1


@dataclass(frozen=True)
class UnclipResult:
    images: list[Image.Image]
    labels: list[str]  # a caption per image ("seed 12", "θ = 0.50")
    seed: int  # the seed used (resolved from -1)
    request: object  # the request with model and seed resolved
    stopped: bool = False  # Stop ended the run; `images` holds the finished ones
    thetas: list[float] | None = None  # interpolation / text diff: θ of each image


# ----------------------------------------------------------------------------- checks


def _check_common(request, entry: ModelEntry) -> None:
    if not isinstance(request.steps, int) or not 1 <= request.steps <= MAX_STEPS:
        raise ValueError(f"`steps` must be an integer from 1 to {MAX_STEPS}, got {request.steps!r}")
    if not 0 <= request.guidance_scale <= 30:
        raise ValueError(f"`guidance_scale` must be from 0 to 30, got {request.guidance_scale!r}")
    if not isinstance(request.seed, int) or not -1 <= request.seed <= MAX_SEED:
        raise ValueError(f"`seed` must be -1 (random) or an integer from 0 to {MAX_SEED}, got {request.seed!r}")


def _image(value, name: str) -> Image.Image:
    if value is None:
        raise ValueError(f"`{name}` is missing: upload an image (or send one from another tab)")
    try:
        return Image.fromarray(normalise_image(value))
    except ValueError as e:
        raise ValueError(str(e).replace("`image`", f"`{name}`")) from e


def _resolve(request, entry: ModelEntry):
    seed = request.seed if request.seed != -1 else random.randint(0, MAX_SEED - MAX_VARIATIONS)
    return replace(request, model=entry.name, seed=seed)


# ----------------------------------------------------------------------------- pipeline helpers


class _Stopped(Exception):
    """Raised from the step callback to end a run at a step boundary."""


class _Progress:
    """Turns the pipeline's per-call step callbacks into one progress count over the whole job."""

    def __init__(self, total: int, on_step, stop: threading.Event | None, preview_every: int) -> None:
        self.total, self.done = total, 0
        self.on_step, self.stop, self.preview_every = on_step, stop, preview_every

    def callback(self, pipe):
        def step(i: int, t, latents: torch.Tensor) -> None:
            self.tick(pipe, latents)

        return step

    def tick(self, pipe=None, latents: torch.Tensor | None = None) -> None:
        self.done += 1
        if self.on_step is not None:
            preview = None
            image_latents = latents is not None and latents.ndim == 4  # a prior's steps carry z_i, not an image
            if self.preview_every and image_latents and self.done % self.preview_every == 0:
                preview = decode_preview(pipe, latents)
            self.on_step(StepInfo(step=self.done, total=self.total, preview=preview))
        if self.stop is not None and self.stop.is_set() and self.done < self.total:
            raise _Stopped


@torch.no_grad()
def encode_image(pipe, image: Image.Image) -> torch.Tensor:
    """z_i: the pipeline's own CLIP image encoder on its own preprocessing, (1, D), not normalised."""
    pixels = pipe.feature_extractor(images=image, return_tensors="pt").pixel_values
    encoder = pipe.image_encoder
    return encoder(pixels.to(encoder.device, encoder.dtype)).image_embeds


def _decode(pipe, embeds, request, generator, progress: _Progress, latents=None, eta=0.0, noise_level=0, size=None):
    """One image from z (1, D) through the pipeline's own call (`image_embeds=`, `latents=`)."""
    return pipe(
        prompt="",
        image_embeds=embeds,
        latents=latents,
        noise_level=noise_level,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance_scale,
        eta=eta,
        height=size,
        width=size,
        generator=generator,
        callback=progress.callback(pipe),
        callback_steps=1,
    ).images[0]


@torch.no_grad()
def ddim_invert(
    pipe,
    image: Image.Image,
    embeds: torch.Tensor,
    steps: int,
    guidance_scale: float,
    seed: int,
    size,
    progress: _Progress | None = None,
):
    """x_T of `image` by DDIM inversion under its embedding (the reverse of the pipeline's DDIM decode).

    The conditioning is built exactly as the pipeline builds it for `image_embeds` with the same `generator`
    seed (`noise_image_embeddings` at level 0 draws a tiny noise), so decoding x_T gives `image` back.
    `progress` ticks once per inversion step, so Stop also ends an inversion.
    """
    from diffusers import DDIMInverseScheduler

    device, dtype = pipe.unet.device, pipe.unet.dtype
    # 1. x0: VAE latent of the image at the output size
    pixels = pipe.image_processor.preprocess(image.resize((size, size), Image.BICUBIC)).to(device, pipe.vae.dtype)
    latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
    # 2. Conditioning: empty prompt, noised image embedding (+ zeros for the unconditional half)
    guided = guidance_scale > 1.0
    prompt_embeds, negative = pipe.encode_prompt("", device, 1, guided)
    class_labels = pipe.noise_image_embeddings(
        embeds.to(device, dtype), noise_level=0, generator=torch.Generator("cpu").manual_seed(seed)
    )
    if guided:
        prompt_embeds = torch.cat([negative, prompt_embeds])
        class_labels = torch.cat([torch.zeros_like(class_labels), class_labels])
    # 3. Inversion loop: x_{t} -> x_{t+1} with the same ε_θ the decode uses
    inverse = DDIMInverseScheduler.from_config(pipe.scheduler.config)
    inverse.set_timesteps(steps, device=device)
    latents = latents.to(dtype)
    for t in inverse.timesteps:
        model_input = torch.cat([latents] * 2) if guided else latents
        eps = pipe.unet(model_input, t, encoder_hidden_states=prompt_embeds, class_labels=class_labels).sample
        if guided:
            uncond, cond = eps.chunk(2)
            eps = uncond + guidance_scale * (cond - uncond)
        latents = inverse.step(eps, t, latents).prev_sample
        if progress is not None:
            progress.tick()
    return latents


def _pipe(manager: PipelineManager, entry: ModelEntry):
    # DDIM: η is a DDIM parameter and inversion mirrors DDIM steps
    return manager.request_pipeline(entry.name, UNCLIP, Sampler.DDIM)


def _entry(manager: PipelineManager, name: str | None) -> ModelEntry:
    entry = manager.entry(name, UNCLIP)
    if UNCLIP not in entry.tasks:
        raise ValueError(
            f"`model` must be an unCLIP model ({', '.join(manager.registry.names(UNCLIP))}), got {name!r}"
        )
    return entry


# ----------------------------------------------------------------------------- variations


def variations(
    manager: PipelineManager,
    request: VariationsRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """`request.count` images from the input's CLIP image embedding, each from its own seed.

    Args:
        on_step: called after every denoising step (counted over all images) from the generating thread.
        stop: when set, the run ends at the next step; the finished images are returned.
        preview_every: decode a preview every this many steps (0 = never).
    """
    # 1. Check inputs
    entry = _entry(manager, request.model)
    request = _resolve(request, entry)
    image = _image(request.image, "image")
    _check_common(request, entry)
    if not isinstance(request.count, int) or not 1 <= request.count <= MAX_VARIATIONS:
        raise ValueError(f"`count` must be an integer from 1 to {MAX_VARIATIONS}, got {request.count!r}")
    if not isinstance(request.noise_level, int) or not 0 <= request.noise_level <= MAX_NOISE_LEVEL:
        raise ValueError(f"`noise_level` must be an integer from 0 to {MAX_NOISE_LEVEL}, got {request.noise_level!r}")
    if not 0 <= request.eta <= 1:
        raise ValueError(f"`eta` must be from 0 to 1, got {request.eta!r}")

    def work() -> UnclipResult:
        pipe = _pipe(manager, entry)
        progress = _Progress(request.count * request.steps, on_step, stop, preview_every)
        # 2. Encode the image: z_i
        embeds = encode_image(pipe, image)
        images, labels = [], []
        try:
            for i in range(request.count):
                # 3. Decode from fresh noise: seed + i
                generator = torch.Generator("cpu").manual_seed(request.seed + i)
                images.append(
                    _decode(
                        pipe,
                        embeds,
                        request,
                        generator,
                        progress,
                        eta=request.eta,
                        noise_level=request.noise_level,
                        size=entry.native_size,
                    )
                )
                labels.append(f"seed {request.seed + i}")
        except _Stopped:
            return UnclipResult(images, labels, request.seed, request, stopped=True)
        return UnclipResult(images, labels, request.seed, request)

    return manager.run(work)


# ----------------------------------------------------------------------------- interpolation


def interpolate(
    manager: PipelineManager,
    request: InterpolationRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """`request.frames` images along θ ∈ [0, 1] between two images (see the module docstring)."""
    # 1. Check inputs
    entry = _entry(manager, request.model)
    request = _resolve(request, entry)
    image_a, image_b = _image(request.image_a, "image_a"), _image(request.image_b, "image_b")
    _check_common(request, entry)
    mode = NoiseMode.from_label(request.noise_mode)
    if not isinstance(request.frames, int) or not 2 <= request.frames <= MAX_FRAMES:
        raise ValueError(f"`frames` must be an integer from 2 to {MAX_FRAMES}, got {request.frames!r}")
    thetas = [i / (request.frames - 1) for i in range(request.frames)]
    size = entry.native_size

    def work() -> UnclipResult:
        pipe = _pipe(manager, entry)
        inversions = 2 if mode is NoiseMode.INVERTED else 0
        progress = _Progress((request.frames + inversions) * request.steps, on_step, stop, preview_every)
        images, labels = [], []
        try:
            # 2. Encode both images: z_1, z_2
            z1, z2 = encode_image(pipe, image_a), encode_image(pipe, image_b)
            # 3. Noise: fixed, or each image's DDIM inversion
            if mode is NoiseMode.INVERTED:
                noises = []
                for image, z in ((image_a, z1), (image_b, z2)):
                    guidance, seed = request.guidance_scale, request.seed
                    noises.append(ddim_invert(pipe, image, z, request.steps, guidance, seed, size, progress))
            else:
                latent_size = size // pipe.vae_scale_factor
                shape = (1, pipe.unet.config.in_channels, latent_size, latent_size)
                fixed = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(request.seed))
                fixed = fixed.to(pipe.unet.device, pipe.unet.dtype) * pipe.scheduler.init_noise_sigma
            # 4. Decode each frame: slerp of embeddings (and of inverted noises)
            for theta in thetas:
                latents = slerp(*noises, theta) if mode is NoiseMode.INVERTED else fixed.clone()
                generator = torch.Generator("cpu").manual_seed(request.seed)
                images.append(_decode(pipe, slerp(z1, z2, theta), request, generator, progress, latents, size=size))
                labels.append(f"θ = {theta:.2f}")
        except _Stopped:
            return UnclipResult(images, labels, request.seed, request, True, thetas[: len(images)])
        return UnclipResult(images, labels, request.seed, request, thetas=thetas)

    return manager.run(work)


# ----------------------------------------------------------------------------- text diffs


def text_embedding_pair(manager: PipelineManager, entry: ModelEntry, source: str, target: str) -> torch.Tensor:
    """z_d = normalize(z_t(target) − z_t(source)) from the CLIP text tower paired with the image encoder."""
    scorer = manager.clip_scorer(entry)
    if scorer is None:
        raise ValueError(
            f"text diffs need the CLIP text tower that matches {entry.name}'s image encoder ({entry.clip}); "
            "it is not available on this machine"
        )
    z_source, z_target = scorer.text_embeddings([source, target])
    diff = z_target - z_source
    if float(diff.norm()) < 1e-6:
        raise ValueError(f"`target_caption` must differ in meaning from `source_caption`, got {target!r} twice")
    return torch.nn.functional.normalize(diff, dim=-1)[None]


def text_diff(
    manager: PipelineManager,
    request: TextDiffRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """Edits an image by the text difference target − source (see the module docstring)."""
    # 1. Check inputs
    entry = _entry(manager, request.model)
    request = _resolve(request, entry)
    image = _image(request.image, "image")
    _check_common(request, entry)
    require_text(request.source_caption, "source_caption", "say what the image shows, e.g. “a red circle”")
    require_text(request.target_caption, "target_caption", "say what it should show, e.g. “a blue circle”")
    if not 0 <= request.theta <= 1:
        raise ValueError(f"`theta` must be from 0 to 1, got {request.theta!r}")
    if not isinstance(request.frames, int) or not 1 <= request.frames <= MAX_FRAMES:
        raise ValueError(f"`frames` must be an integer from 1 to {MAX_FRAMES}, got {request.frames!r}")
    if request.frames == 1:
        thetas = [float(request.theta)]
    else:
        thetas = [request.theta * i / (request.frames - 1) for i in range(request.frames)]

    def work() -> UnclipResult:
        pipe = _pipe(manager, entry)
        # 2. Encode: z_i from the image, z_d from the captions
        z_i = encode_image(pipe, image)
        z_d = text_embedding_pair(manager, entry, request.source_caption, request.target_caption)
        if z_d.shape != z_i.shape:
            raise ValueError(
                f"the CLIP text tower of {entry.name} ({entry.clip}) gives {z_d.shape[-1]}-d embeddings but its image "
                f"encoder {z_i.shape[-1]}-d: configure the matching CLIP pair for text diffs"
            )
        z_d = z_d.to(z_i.device, z_i.dtype)
        norm = z_i.norm()
        progress = _Progress((len(thetas) + 1) * request.steps, on_step, stop, preview_every)
        images, labels = [], []
        try:
            # 3. x_T: the image's DDIM inversion under z_i, unguided (DALL-E 2 keeps it fixed while z moves)
            inverted = ddim_invert(pipe, image, z_i, request.steps, 1.0, request.seed, entry.native_size, progress)
            # 4. Decode |z_i| · slerp(ẑ_i, z_d, θ) from the inverted noise
            for theta in thetas:
                embeds = norm * slerp(z_i / norm, z_d, theta)
                generator = torch.Generator("cpu").manual_seed(request.seed)
                images.append(
                    _decode(pipe, embeds, request, generator, progress, inverted.clone(), size=entry.native_size)
                )
                labels.append(f"θ = {theta:.2f}")
        except _Stopped:
            return UnclipResult(images, labels, request.seed, request, True, thetas[: len(images)])
        return UnclipResult(images, labels, request.seed, request, thetas=thetas)

    return manager.run(work)


def has_prior(entry: ModelEntry) -> bool:
    """Whether the model folder holds a prior (caption -> z_i) next to the decoder."""
    return entry.is_local and (Path(entry.source) / "prior" / "config.json").is_file()


@functools.lru_cache(maxsize=2)
def _prior_parts(folder: str, device: str, dtype: torch.dtype) -> tuple:
    """(tokenizer, text encoder with projection, PriorTransformer, scheduler config) of a folder, loaded once."""
    from diffusers import DDPMScheduler, PriorTransformer
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    root = Path(folder)
    tokenizer = AutoTokenizer.from_pretrained(root / "prior_tokenizer", local_files_only=True)
    text_encoder = CLIPTextModelWithProjection.from_pretrained(
        root / "prior_text_encoder", dtype=dtype, local_files_only=True
    )
    prior = PriorTransformer.from_pretrained(root / "prior", dtype=dtype, local_files_only=True)
    config = DDPMScheduler.load_config(root / "prior_scheduler")
    return (
        tokenizer,
        text_encoder.to(device).eval().requires_grad_(False),
        prior.to(device).eval().requires_grad_(False),
        config,
    )


def caption_to_image(
    manager: PipelineManager,
    request: CaptionRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """One image from a caption with the prior + decoder (`StableUnCLIPPipeline`, sharing the decoder's weights)."""
    # 1. Check inputs
    entry = _entry(manager, request.model)
    request = _resolve(request, entry)
    require_text(request.caption, "caption", "type what to draw")
    if not has_prior(entry):
        raise ValueError(f"{entry.name} has no prior (caption -> image embedding): upload an image instead")
    _check_common(request, entry)
    if not isinstance(request.prior_steps, int) or not 1 <= request.prior_steps <= MAX_STEPS:
        raise ValueError(f"`prior_steps` must be an integer from 1 to {MAX_STEPS}, got {request.prior_steps!r}")

    def work() -> UnclipResult:
        from diffusers import DDPMScheduler, StableUnCLIPPipeline

        base = _pipe(manager, entry)
        tokenizer, text_encoder, prior, scheduler_config = _prior_parts(
            entry.source, str(base.unet.device), base.unet.dtype
        )
        # 2. The text-to-image pipeline on the decoder's own components (no copy of the weights)
        pipe = StableUnCLIPPipeline(
            prior_tokenizer=tokenizer,
            prior_text_encoder=text_encoder,
            prior=prior,
            prior_scheduler=DDPMScheduler.from_config(scheduler_config),
            image_normalizer=base.image_normalizer,
            image_noising_scheduler=base.image_noising_scheduler,
            tokenizer=base.tokenizer,
            text_encoder=base.text_encoder,
            unet=base.unet,
            scheduler=base.scheduler,
            vae=base.vae,
        )
        pipe.set_progress_bar_config(disable=True)
        progress = _Progress(request.prior_steps + request.steps, on_step, stop, preview_every)
        # 3. Prior then decoder, the pipeline's own loops
        try:
            image = pipe(
                prompt=request.caption,
                prior_num_inference_steps=request.prior_steps,
                prior_guidance_scale=request.prior_guidance_scale,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance_scale,
                height=entry.native_size,
                width=entry.native_size,
                generator=torch.Generator("cpu").manual_seed(request.seed),
                callback=progress.callback(pipe),
                callback_steps=1,
            ).images[0]
        except _Stopped:
            return UnclipResult([], [], request.seed, request, stopped=True)
        return UnclipResult([image], [request.caption], request.seed, request)

    return manager.run(work)


def best_caption(manager: PipelineManager, model: str | None, image, candidates: list[str]) -> str:
    """The candidate caption the model's CLIP finds closest to `image` (to prefill a text diff's source)."""
    entry = _entry(manager, model)
    scorer = manager.clip_scorer(entry)
    if scorer is None or not candidates:
        return ""
    return manager.run(scorer.best_captions, [_image(image, "image")], candidates)[0]


# ----------------------------------------------------------------------------- shapes-world helpers


def example_image(caption: str, seed: int = 0) -> Image.Image:
    """A shapes-world picture of `caption` (drawn, not generated): a ready input for the demos."""
    from .shapes.grammar import parse_caption
    from .shapes.render import draw
    from .shapes.world import layout_one, layout_two

    scene = parse_caption(caption)
    rng = random.Random(seed)
    layout = layout_one(scene.objects[0], rng) if scene.relation is None else layout_two(scene, rng)
    return Image.fromarray(draw(layout))


def shapes_captions() -> list[str]:
    """Candidate captions for the text-diff source: every colour-shape pair, with and without a place."""
    from .shapes.grammar import COLOURS, PLACES, SHAPES, Scene, ShapeSpec, describe

    captions = []
    for colour in COLOURS:
        for shape in SHAPES:
            captions.append(describe(Scene((ShapeSpec(colour, shape),))))
            captions += [describe(Scene((ShapeSpec(colour, shape, None, p),))) for p in PLACES]
    return captions


def save_gif(frames: list[Image.Image], path, seconds_per_frame: float = 0.25, bounce: bool = True) -> None:
    """Writes the frames as a looping GIF (there and back when `bounce`), scaled up ×4 with crisp pixels."""
    if not frames:
        raise ValueError("`frames` is empty: compute an interpolation first")
    scale = max(1, 256 // max(frames[0].size))
    big = [f.convert("RGB").resize((f.width * scale, f.height * scale), Image.NEAREST) for f in frames]
    sequence = big + big[-2:0:-1] if bounce and len(big) > 2 else big
    sequence[0].save(
        path, save_all=True, append_images=sequence[1:], duration=int(seconds_per_frame * 1000), loop=0, disposal=2
    )
