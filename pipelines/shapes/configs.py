"""Architectures of the bundled shapes model family, in the same diffusers / transformers classes as the
real models, sized to train on a 2-core CPU."""

from __future__ import annotations

from transformers import CLIPConfig, CLIPTextConfig, CLIPVisionConfig

from .grammar import IMAGE_SIZE
from .tokenizer import MAX_LENGTH, build_tokenizer

LATENT_CHANNELS = 4
LATENT_SIZE = IMAGE_SIZE // 4  # the autoencoder downsamples 4x
TEXT_WIDTH = 128


def clip_config() -> CLIPConfig:
    tokenizer = build_tokenizer()
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_WIDTH,
        intermediate_size=2 * TEXT_WIDTH,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        projection_dim=64,
    )
    vision = CLIPVisionConfig(
        image_size=IMAGE_SIZE,
        patch_size=8,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=4,
        projection_dim=64,
    )
    return CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=64)


def vae_config() -> dict:
    return dict(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 64),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=8,
        sample_size=IMAGE_SIZE,
    )


def unet_config(in_channels: int = LATENT_CHANNELS) -> dict:
    """Text-to-image UNet; `in_channels=9` gives the inpainting layout (latents, mask, masked latents)."""
    return dict(
        sample_size=LATENT_SIZE,
        in_channels=in_channels,
        out_channels=LATENT_CHANNELS,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(64, 128, 128),
        layers_per_block=1,
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=8,
        norm_num_groups=32,
    )


def upscaler_unet_config(latent_size: int) -> dict:
    """The x4 upscaler's UNet (`train_upscaler.py`): latents and the noised low-resolution picture in, the picture's
    noise level as a class label; convolutional only, so it trains on crops and runs on the whole picture.

    The noise level is embedded like a timestep (sinusoids and an MLP, as DeepFloyd IF's stage II does), not as a
    table of `max_noise_level + 1` vectors: each table entry would see one example in 351, and neighbouring levels
    would learn nothing from each other."""
    return dict(
        sample_size=latent_size,
        in_channels=LATENT_CHANNELS + 3,  # latents, then the noised low-resolution picture
        out_channels=LATENT_CHANNELS,
        down_block_types=("DownBlock2D",) * 3,
        up_block_types=("UpBlock2D",) * 3,
        block_out_channels=(48, 96, 128),
        layers_per_block=2,
        mid_block_type=None,
        cross_attention_dim=TEXT_WIDTH,  # the text encoder's width; no block attends to it
        norm_num_groups=16,
        class_embed_type="timestep",
    )
