"""Tiny random-weight SDXL base and refiner folders (64x64 images, the shapes-world tokenizer)."""

from __future__ import annotations

from pathlib import Path

from .common import tiny_text_config, tiny_unet, tiny_vae

TIME_EMBED_DIM = 8  # addition_time_embed_dim: width of each embedded time id


def _sdxl_scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)


def build_tiny_sdxl_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `StableDiffusionXLPipeline` to `folder`: two text encoders, a UNet with SDXL's
    added text/time conditions, the same 64x64 VAE and word-level tokenizer as `build_tiny_sd_folder`."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_config = tiny_text_config(len(tokenizer))
    unet = tiny_unet(
        cross_attention_dim=64,  # both encoders' hidden states side by side
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED_DIM,
        projection_class_embeddings_input_dim=32 + 6 * TIME_EMBED_DIM,  # pooled text + six time ids
    )
    vae = tiny_vae()
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=_sdxl_scheduler(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_sdxl_refiner_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight SDXL refiner (`StableDiffusionXLImg2ImgPipeline`) to `folder`, laid out as
    stabilityai/stable-diffusion-xl-refiner-1.0: only the second (projection) text encoder, and time ids with an
    aesthetic score instead of the target size (`requires_aesthetics_score=True`: five ids, not six)."""
    import torch
    from diffusers import StableDiffusionXLImg2ImgPipeline
    from transformers import CLIPTextModelWithProjection

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    unet = tiny_unet(
        cross_attention_dim=32,  # text_encoder_2's hidden states only
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED_DIM,
        projection_class_embeddings_input_dim=32 + 5 * TIME_EMBED_DIM,  # pooled text + original size, crop, score
    )
    pipe = StableDiffusionXLImg2ImgPipeline(
        vae=tiny_vae(),
        text_encoder=None,
        text_encoder_2=CLIPTextModelWithProjection(tiny_text_config(len(tokenizer))),
        tokenizer=None,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=_sdxl_scheduler(),
        requires_aesthetics_score=True,
        force_zeros_for_empty_prompt=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_sdxl_inpaint_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight SDXL inpainting model (`StableDiffusionXLInpaintPipeline`, as
    diffusers/stable-diffusion-xl-1.0-inpainting-0.1): the base's layout with a 9-channel UNet."""
    import torch
    from diffusers import StableDiffusionXLInpaintPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_config = tiny_text_config(len(tokenizer))
    unet = tiny_unet(
        in_channels=9,  # noisy latents, mask, masked-image latents
        cross_attention_dim=64,
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED_DIM,
        projection_class_embeddings_input_dim=32 + 6 * TIME_EMBED_DIM,
    )
    pipe = StableDiffusionXLInpaintPipeline(
        vae=tiny_vae(),
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=_sdxl_scheduler(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
