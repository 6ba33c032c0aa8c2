"""What the unCLIP actions share: the result, input checks, z_i encoding, decoding through the pipeline's own call,
and DDIM inversion (x_T of an image under its z_i). Steps and Stop are counted over a whole job by
`pipelines.jobs.StepCounter`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from PIL import Image

from ..capabilities import UNCLIP_ACTIONS, require
from ..jobs import StepCounter
from ..limits import LIMITS, check_fields, concrete_seed
from ..manager import PipelineManager
from ..masks import normalise_image
from ..models import UNCLIP, ModelEntry
from ..png_info import GenerationParameters, attach, format_parameters
from ..samplers import Sampler


@dataclass(frozen=True)
class UnclipResult:
    """What every unCLIP action returns."""

    images: list[Image.Image]
    labels: list[str]  # a caption per image ("seed 12", "θ = 0.50")
    seed: int  # the seed used (resolved from -1)
    request: object  # the request with model and seed resolved
    stopped_at: int | None = None  # the step Stop was honoured at; `images` holds the finished ones
    thetas: list[float] | None = None  # interpolation / text diff: θ of each image

    def __post_init__(self) -> None:
        for image, label in zip(self.images, self.labels):
            attach(image, parameters_text(self.request, label, image.size))


_ACTION_NAMES = {
    "VariationsRequest": "variations",
    "InterpolationRequest": "interpolation",
    "TextDiffRequest": "text diff",
    "CaptionRequest": "caption to image",
}
_PROMPT_FIELDS = ("caption", "source_caption", "target_caption", "image", "image_a", "image_b")
_SHARED_FIELDS = ("steps", "cfg_scale", "seed", "model")


def parameters_text(request, label: str, size: tuple[int, int]) -> str:
    """The A1111-style PNG parameters of one unCLIP image: what it was made from, the shared settings, then the
    action's own ones and this image's label ("seed 12", "θ = 0.50")."""
    if hasattr(request, "caption"):
        first = request.caption
    elif hasattr(request, "source_caption"):
        first = f"{request.source_caption} -> {request.target_caption}"
    else:
        first = "(from an image)"
    shared = GenerationParameters(
        prompt=first,
        steps=request.steps,
        sampler="DDIM",
        cfg_scale=request.cfg_scale,
        seed=request.seed,
        width=size[0],
        height=size[1],
        model=request.model,
    )
    settings = [f"unCLIP: {_ACTION_NAMES.get(type(request).__name__, type(request).__name__)}"]
    for f in fields(request):
        if f.name not in _PROMPT_FIELDS + _SHARED_FIELDS:
            value = getattr(request, f.name)
            shown = f"{value:g}" if isinstance(value, float) else value
            settings.append(f"{f.name.replace('_', ' ').capitalize()}: {shown}")
    settings.append(f"Image: {label}")
    return format_parameters(shared) + ", " + ", ".join(settings)


def resolve(manager: PipelineManager, request):
    """Every unCLIP action's first step: (its model's entry, `request` checked and resolved).

    Checks the fields every unCLIP request has (steps, cfg_scale, seed), then names the model and draws a seed for
    -1 with room for a batch of variations.
    """
    entry = unclip_entry(manager, request.model)
    check_fields(request, "steps", "cfg_scale", "seed")
    seed = concrete_seed(request.seed, int(LIMITS["variations"].high))
    return entry, replace(request, model=entry.name, seed=seed)


def load_image(value, name: str) -> Image.Image:
    """`value` as an RGB image, or a ValueError that names the parameter `name`."""
    if value is None:
        raise ValueError(f"`{name}` is missing: upload an image (or send one from another tab)")
    try:
        return Image.fromarray(normalise_image(value))
    except ValueError as e:
        raise ValueError(str(e).replace("`image`", f"`{name}`")) from e


def unclip_entry(manager: PipelineManager, name: str | None) -> ModelEntry:
    """The registry entry of an unCLIP model (None = the default one); a ValueError for any other kind."""
    return require(manager, UNCLIP_ACTIONS, name)


def unclip_pipe(manager: PipelineManager, entry: ModelEntry):
    """The model's pipeline with DDIM: η is a DDIM parameter, and the inversion mirrors DDIM steps."""
    return manager.request_pipeline(entry.name, UNCLIP, Sampler.DDIM)


@torch.no_grad()
def encode_image(pipe, image: Image.Image) -> torch.Tensor:
    """z_i: the pipeline's own CLIP image encoder on its own preprocessing, (1, D), not normalised."""
    pixels = pipe.feature_extractor(images=image, return_tensors="pt").pixel_values
    encoder = pipe.image_encoder
    return encoder(pixels.to(encoder.device, encoder.dtype)).image_embeds


def decode(pipe, embeds, request, generator, progress: StepCounter, latents=None, eta=0.0, noise_level=0, size=None):
    """One image from z (1, D) through the pipeline's own call (`image_embeds=`, `latents=`)."""
    return pipe(
        prompt="",
        image_embeds=embeds,
        latents=latents,
        noise_level=noise_level,
        num_inference_steps=request.steps,
        guidance_scale=request.cfg_scale,
        eta=eta,
        height=size,
        width=size,
        generator=generator,
        callback=progress.legacy_callback(pipe),
        callback_steps=1,
    ).images[0]


@torch.no_grad()
def ddim_invert(
    pipe,
    image: Image.Image,
    embeds: torch.Tensor,
    steps: int,
    cfg_scale: float,
    seed: int,
    size,
    progress: StepCounter | None = None,
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
    guided = cfg_scale > 1.0
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
            eps = uncond + cfg_scale * (cond - uncond)
        latents = inverse.step(eps, t, latents).prev_sample
        if progress is not None:
            progress.tick()
    return latents
