"""What the unCLIP actions share: limits, the result, input checks, the step/Stop counter over a whole job,
z_i encoding, decoding through the pipeline's own call, and DDIM inversion (x_T of an image under its z_i)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace

import torch
from PIL import Image

from ..manager import PipelineManager
from ..masks import normalise_image
from ..models import UNCLIP, ModelEntry
from ..samplers import Sampler
from ..text_to_image import MAX_SEED, MAX_STEPS, StepInfo, decode_preview

MAX_VARIATIONS = 8
MAX_FRAMES = 16
MAX_NOISE_LEVEL = 999  # image_noising_scheduler has 1000 levels


@dataclass(frozen=True)
class UnclipResult:
    """What every unCLIP action returns."""

    images: list[Image.Image]
    labels: list[str]  # a caption per image ("seed 12", "θ = 0.50")
    seed: int  # the seed used (resolved from -1)
    request: object  # the request with model and seed resolved
    stopped: bool = False  # Stop ended the run; `images` holds the finished ones
    thetas: list[float] | None = None  # interpolation / text diff: θ of each image


def check_common(request, entry: ModelEntry) -> None:
    """Checks the fields every unCLIP request has: steps, guidance_scale, seed."""
    if not isinstance(request.steps, int) or not 1 <= request.steps <= MAX_STEPS:
        raise ValueError(f"`steps` must be an integer from 1 to {MAX_STEPS}, got {request.steps!r}")
    if not 0 <= request.guidance_scale <= 30:
        raise ValueError(f"`guidance_scale` must be from 0 to 30, got {request.guidance_scale!r}")
    if not isinstance(request.seed, int) or not -1 <= request.seed <= MAX_SEED:
        raise ValueError(f"`seed` must be -1 (random) or an integer from 0 to {MAX_SEED}, got {request.seed!r}")


def load_image(value, name: str) -> Image.Image:
    """`value` as an RGB image, or a ValueError that names the parameter `name`."""
    if value is None:
        raise ValueError(f"`{name}` is missing: upload an image (or send one from another tab)")
    try:
        return Image.fromarray(normalise_image(value))
    except ValueError as e:
        raise ValueError(str(e).replace("`image`", f"`{name}`")) from e


def resolve_seed(request, entry: ModelEntry):
    """`request` with the model's registry name and a concrete seed (-1 draws one)."""
    seed = request.seed if request.seed != -1 else random.randint(0, MAX_SEED - MAX_VARIATIONS)
    return replace(request, model=entry.name, seed=seed)


def unclip_entry(manager: PipelineManager, name: str | None) -> ModelEntry:
    """The registry entry of an unCLIP model (None = the default one); a ValueError for any other kind."""
    entry = manager.entry(name, UNCLIP)
    if UNCLIP not in entry.tasks:
        raise ValueError(
            f"`model` must be an unCLIP model ({', '.join(manager.registry.names(UNCLIP))}), got {name!r}"
        )
    return entry


def unclip_pipe(manager: PipelineManager, entry: ModelEntry):
    """The model's pipeline with DDIM: η is a DDIM parameter, and the inversion mirrors DDIM steps."""
    return manager.request_pipeline(entry.name, UNCLIP, Sampler.DDIM)


class Stopped(Exception):
    """Raised from the step callback to end a run at a step boundary."""


class Progress:
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
            raise Stopped


@torch.no_grad()
def encode_image(pipe, image: Image.Image) -> torch.Tensor:
    """z_i: the pipeline's own CLIP image encoder on its own preprocessing, (1, D), not normalised."""
    pixels = pipe.feature_extractor(images=image, return_tensors="pt").pixel_values
    encoder = pipe.image_encoder
    return encoder(pixels.to(encoder.device, encoder.dtype)).image_embeds


def decode(pipe, embeds, request, generator, progress: Progress, latents=None, eta=0.0, noise_level=0, size=None):
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
    progress: Progress | None = None,
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
