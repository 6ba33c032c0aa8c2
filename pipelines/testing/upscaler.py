"""A tiny random-weight Stable Diffusion x4 upscaler folder (`StableDiffusionUpscalePipeline`), laid out as
stabilityai/stable-diffusion-x4-upscaler: the low-resolution image concatenated to the latents (7 UNet input
channels), its noise-augmentation level as the UNet's class label, a VAE with 4x downsampling, so the latents are at
the input's resolution and the output is 4x it."""

from __future__ import annotations

from pathlib import Path

from .common import sd_scheduler_config, tiny_text_config, tiny_unet, tiny_vae


def build_tiny_sd_upscaler_folder(folder: str | Path, seed: int = 0) -> Path:
    import torch
    from diffusers import DDIMScheduler, DDPMScheduler, StableDiffusionUpscalePipeline
    from transformers import CLIPTextModel

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    vae = tiny_vae()
    vae.register_to_config(scaling_factor=0.08333)  # the x4 upscaler's
    pipe = StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=CLIPTextModel(tiny_text_config(len(tokenizer))),
        tokenizer=tokenizer,
        unet=tiny_unet(in_channels=7, num_class_embeds=1000, cross_attention_dim=32, sample_size=64),
        low_res_scheduler=DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.0001, beta_end=0.02),
        scheduler=DDIMScheduler(**sd_scheduler_config(prediction_type="v_prediction")),
        max_noise_level=350,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
