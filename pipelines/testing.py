"""A tiny randomly initialised Stable Diffusion folder, for tests and benchmarks (offline, seconds on a CPU).

Same format as the bundled shapes models: 64x64 images, a VAE with 4x downsampling (16x16x4 latents),
a small CLIP text encoder and the shapes-world word-level tokenizer.
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_sd_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `StableDiffusionPipeline` to `folder` (safetensors, no safety checker)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel

    from .shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    unet = _tiny_unet(cross_attention_dim=32)
    vae = _tiny_vae()
    text_encoder = CLIPTextModel(_tiny_text_config(len(tokenizer)))
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_sdxl_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `StableDiffusionXLPipeline` to `folder`: two text encoders, a UNet with SDXL's
    added text/time conditions, the same 64x64 VAE and word-level tokenizer as `build_tiny_sd_folder`."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from .shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_config = _tiny_text_config(len(tokenizer))
    unet = _tiny_unet(
        cross_attention_dim=64,  # both encoders' hidden states side by side
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8,  # pooled text + six time ids
    )
    vae = _tiny_vae()
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def _tiny_vae():
    """64x64 images <-> 16x16x4 latents, random weights."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 32, 64),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=64,
    )


def _tiny_text_config(vocab_size: int):
    """A 2-layer, 32-wide CLIP text tower over the shapes-world tokenizer's ids."""
    from transformers import CLIPTextConfig

    from .shapes.tokenizer import MAX_LENGTH

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        projection_dim=32,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )


def _tiny_unet(**config):
    """A 2-level UNet on 16x16x4 latents with cross-attention at 16x16; `config` adds or overrides settings."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        **{
            "sample_size": 16,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (32, 64),
            "layers_per_block": 1,
            "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
            "attention_head_dim": 8,
            "norm_num_groups": 32,
            **config,
        }
    )
