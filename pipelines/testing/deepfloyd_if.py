"""Tiny random-weight DeepFloyd IF folders: stage I (`IFPipeline`, 32x32 pixels from a T5 prompt) and stage II
(`IFSuperResolutionPipeline`, 32 -> 64 pixels, noise-augmented low-resolution input), as the Hub's IF-I/IF-II."""

from __future__ import annotations

from pathlib import Path

from .common import build_t5_tokenizer, tiny_t5_encoder

T5_DIM = 32


def _if_unet(**config):
    """A pixel-space UNet in IF's style: added-KV attention on the T5 states, scale-shift norms, 6 output
    channels (noise and learned variance range for 3 colour channels)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        **{
            "layers_per_block": 1,
            "block_out_channels": (32, 64),
            "down_block_types": ("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
            "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
            "up_block_types": ("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
            "out_channels": 6,
            "cross_attention_dim": 32,
            "encoder_hid_dim": T5_DIM,
            "attention_head_dim": 8,
            "addition_embed_type": "text",
            "addition_embed_type_num_heads": 2,
            "cross_attention_norm": "group_norm",
            "resnet_time_scale_shift": "scale_shift",
            "act_fn": "gelu",
            "norm_num_groups": 32,
            **config,
        }
    )


def _if_scheduler(**overrides):
    """IF's DDPM schedule: cosine betas, learned variance range, dynamic thresholding at ratio 0.95."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        **{
            "num_train_timesteps": 1000,
            "beta_schedule": "squaredcos_cap_v2",
            "thresholding": True,
            "dynamic_thresholding_ratio": 0.95,
            "sample_max_value": 1.0,
            "prediction_type": "epsilon",
            "variance_type": "learned_range",
            **overrides,
        }
    )


def build_tiny_if_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `IFPipeline` (stage I, 32x32) with a tiny T5 encoder and a word-level T5 tokenizer."""
    import torch
    from diffusers import IFPipeline

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_t5_tokenizer()
    pipe = IFPipeline(
        tokenizer=tokenizer,
        text_encoder=tiny_t5_encoder(len(tokenizer), T5_DIM),
        unet=_if_unet(sample_size=32, in_channels=3),
        scheduler=_if_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_if_stage2_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `IFSuperResolutionPipeline` (stage II, 64x64 from stage I's 32x32). Like
    DeepFloyd/IF-II-L it has no text encoder of its own: pass stage I's `prompt_embeds`."""
    import torch
    from diffusers import IFSuperResolutionPipeline

    folder = Path(folder)
    torch.manual_seed(seed)
    pipe = IFSuperResolutionPipeline(
        tokenizer=build_t5_tokenizer(),
        text_encoder=None,
        unet=_if_unet(
            sample_size=64,
            in_channels=6,  # the noisy image and the upscaled low-resolution image
            class_embed_type="timestep",  # the noise-augmentation level of the low-resolution image
            mid_block_scale_factor=1.414,
            time_embedding_act_fn="gelu",
            time_embedding_dim=32,
        ),
        scheduler=_if_scheduler(),
        image_noising_scheduler=_if_scheduler(thresholding=False, variance_type="fixed_small"),
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
