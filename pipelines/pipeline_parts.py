"""The parts of `StableDiffusionPipeline.__call__` and `StableDiffusionXLPipeline.__call__` that the studio's own
denoising loops (the guidance lab, inpainting method (a)) reuse, so that they encode the prompt, condition the UNet
and decode exactly as the pipeline does on either family, and a cell or an image matches the plain call bit for bit.

SDXL's UNet takes, besides the token embeddings of its two text encoders, "added conditions": the pooled text
embedding of the second encoder and six time ids (original size, crop corner, target size; Podell et al. 2023).
`TextConditioning` carries both, so a loop batches conditionings without knowing which family it runs.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from PIL import Image


@dataclass(frozen=True)
class TextConditioning:
    """What the UNet is conditioned on, for a batch of images: token embeddings and, on SDXL, added conditions."""

    hidden_states: torch.Tensor  # (B, tokens, width)
    added: dict[str, torch.Tensor] = field(default_factory=dict)  # SDXL: {"text_embeds", "time_ids"}; SD: empty

    @staticmethod
    def cat(parts: list[TextConditioning]) -> TextConditioning:
        """One batch of several conditionings, in order."""
        return TextConditioning(
            torch.cat([p.hidden_states for p in parts]),
            {key: torch.cat([p.added[key] for p in parts]) for key in parts[0].added},
        )

    def unet_kwargs(self) -> dict:
        """Keyword arguments of `unet(x, t, **kwargs)`."""
        return {"encoder_hidden_states": self.hidden_states, "added_cond_kwargs": self.added or None}


def uses_added_conditions(unet) -> bool:
    """True for SDXL-style UNets (pooled text and time ids besides the token embeddings)."""
    return getattr(unet.config, "addition_embed_type", None) == "text_time"


@torch.no_grad()
def encode_text(
    pipe, prompt: str, negative_prompt: str | None, *, width: int, height: int
) -> tuple[TextConditioning, TextConditioning]:
    """(prompt, negative prompt) conditionings of one image each, as the pipeline's own call makes them with
    classifier-free guidance on. `negative_prompt=None` gives the pipeline's unconditional (∅): the empty prompt's
    embedding on SD, zeros on SDXL when its config says `force_zeros_for_empty_prompt`."""
    device = pipe._execution_device
    encoded = pipe.encode_prompt(
        prompt=prompt,
        device=device,
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
        negative_prompt=negative_prompt,
    )
    if not uses_added_conditions(pipe.unet):
        cond, uncond = encoded
        return TextConditioning(cond), TextConditioning(uncond)
    cond, uncond, pooled, negative_pooled = encoded
    if pipe.text_encoder_2 is None:
        projection_dim = int(pooled.shape[-1])
    else:
        projection_dim = pipe.text_encoder_2.config.projection_dim
    time_ids = pipe._get_add_time_ids(
        (height, width), (0, 0), (height, width), dtype=cond.dtype, text_encoder_projection_dim=projection_dim
    ).to(device)
    return (
        TextConditioning(cond, {"text_embeds": pooled, "time_ids": time_ids}),
        TextConditioning(uncond, {"text_embeds": negative_pooled, "time_ids": time_ids}),
    )


@contextmanager
def _vae_in_working_precision(vae):
    """SDXL's fp16 VAE overflows (its config says `force_upcast`): it works in fp32 for the call, as pipelines do."""
    upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    if upcast:
        vae.to(torch.float32)
    try:
        yield torch.float32 if upcast else vae.dtype
    finally:
        if upcast:
            vae.to(torch.float16)


def _latent_statistics(vae, like: torch.Tensor):
    """(mean, std) of latents normalised by `latents_mean`/`latents_std` (some SDXL-family VAEs), else None."""
    mean, std = getattr(vae.config, "latents_mean", None), getattr(vae.config, "latents_std", None)
    if mean is None or std is None:
        return None
    return torch.tensor(mean).view(1, -1, 1, 1).to(like), torch.tensor(std).view(1, -1, 1, 1).to(like)


@torch.no_grad()
def encode_pixels(pipe, image: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, H, W) in [−1, 1] → the latents the UNet works on (the posterior's mode, scaled)."""
    vae = pipe.vae
    with _vae_in_working_precision(vae) as dtype:
        latents = vae.encode(image.to(dtype)).latent_dist.mode()
        statistics = _latent_statistics(vae, latents)
        if statistics is not None:
            mean, std = statistics
            return ((latents - mean) * vae.config.scaling_factor / std).to(pipe.unet.dtype)
        return (latents * vae.config.scaling_factor).to(pipe.unet.dtype)


@torch.no_grad()
def decode_latents(pipe, latents: torch.Tensor, generator=None) -> torch.Tensor:
    """Latents → images (B, 3, H, W) in [−1, 1], as the pipeline decodes them."""
    vae = pipe.vae
    with _vae_in_working_precision(vae) as dtype:
        latents = latents.to(dtype)
        statistics = _latent_statistics(vae, latents)
        if statistics is not None:
            mean, std = statistics
            latents = latents * std / vae.config.scaling_factor + mean
        else:
            latents = latents / vae.config.scaling_factor
        return vae.decode(latents, return_dict=False, generator=generator)[0]


def latents_to_pixels(pipe, latents: torch.Tensor) -> torch.Tensor:
    """x_t → images (B, 3, H, W) in [−1, 1] as the pipeline's family decodes them: SD/SDXL's VAE, Kandinsky's MoVQ,
    or nothing for a pixel-space model (DeepFloyd IF), whose x_t already is an image."""
    if getattr(pipe, "vae", None) is not None:
        return decode_latents(pipe, latents)
    if getattr(pipe, "movq", None) is not None:
        return pipe.movq.decode(latents.to(pipe.movq.dtype), force_not_quantize=True)["sample"]
    return latents[:, :3]


def pixels_to_pil(images: torch.Tensor) -> list:
    """Images (B, 3, H, W) in [−1, 1] → PIL images."""
    array = (images / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().cpu().numpy()
    return [Image.fromarray((image * 255).round().astype("uint8")) for image in array]


def latents_to_pil(pipe, latents: torch.Tensor) -> list:
    """Latents → PIL images as the pipeline's own call ends them (its family's decoder, then the watermark when it has
    one): how a stopped run's last step becomes its result."""
    images = latents_to_pixels(pipe, latents)
    if getattr(pipe, "watermark", None) is not None:
        images = pipe.watermark.apply_watermark(images)
    return pixels_to_pil(images)
