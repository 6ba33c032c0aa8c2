"""Tiny random-weight Stable Diffusion 1.x, 2.x and inpainting folders (64x64 images, 16x16x4 latents)."""

from __future__ import annotations

from pathlib import Path

from .common import sd_scheduler_config, tiny_text_config, tiny_unet, tiny_vae


def build_tiny_sd_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `StableDiffusionPipeline` (SD 1.x: epsilon prediction) to `folder` (safetensors, no
    safety checker). Same format as the bundled shapes models: 64x64 images, a VAE with 4x downsampling, a small
    CLIP text encoder and the shapes-world word-level tokenizer."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    unet = tiny_unet(cross_attention_dim=32)
    vae = tiny_vae()
    text_encoder = CLIPTextModel(tiny_text_config(len(tokenizer)))
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=DDIMScheduler(**sd_scheduler_config()),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_sd2_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight SD 2.x `StableDiffusionPipeline`: v-prediction, linear attention projections and
    per-block head counts as in SD 2.1, a GELU text tower (OpenCLIP's activation)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_config = tiny_text_config(len(tokenizer))
    text_config.hidden_act = "gelu"
    pipe = StableDiffusionPipeline(
        unet=tiny_unet(cross_attention_dim=32, use_linear_projection=True, attention_head_dim=(2, 4)),
        vae=tiny_vae(),
        text_encoder=CLIPTextModel(text_config),
        tokenizer=tokenizer,
        scheduler=DDIMScheduler(**sd_scheduler_config(prediction_type="v_prediction")),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_sd_inpaint_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `StableDiffusionInpaintPipeline`: the UNet takes 9 channels (4 noisy latents,
    1 mask, 4 masked-image latents), as SD inpainting's does."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionInpaintPipeline
    from transformers import CLIPTextModel

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    pipe = StableDiffusionInpaintPipeline(
        unet=tiny_unet(cross_attention_dim=32, in_channels=9),
        vae=tiny_vae(),
        text_encoder=CLIPTextModel(tiny_text_config(len(tokenizer))),
        tokenizer=tokenizer,
        scheduler=DDIMScheduler(**sd_scheduler_config()),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
