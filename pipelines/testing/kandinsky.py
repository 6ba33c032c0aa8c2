"""Tiny random-weight Kandinsky 2.2 folders: the prior (caption -> CLIP image embedding) and the decoder (image
embedding -> 64x64 image through a MoVQ autoencoder), saved as two folders like the Hub's two repos."""

from __future__ import annotations

from pathlib import Path

from .common import tiny_text_config

EMBED_DIM = 32  # the CLIP image embedding z_i: the prior's output, the decoder's only condition


def tiny_clip_vision(projection_dim: int = EMBED_DIM, image_size: int = 32):
    """A 2-layer CLIP vision tower with projection (`CLIPVisionModelWithProjection`) on `image_size` pixels."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    return CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=image_size,
            patch_size=8,
            projection_dim=projection_dim,
        )
    )


def tiny_clip_image_processor(image_size: int = 32):
    from transformers import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )


def build_tiny_kandinsky22_prior_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight `KandinskyV22PriorPipeline`: a 1-layer `PriorTransformer` over the caption's CLIP
    text states (one position per token of the shapes tokenizer), CLIP text and vision towers, `UnCLIPScheduler`."""
    import torch
    from diffusers import KandinskyV22PriorPipeline, PriorTransformer, UnCLIPScheduler
    from transformers import CLIPTextModelWithProjection

    from ..shapes.tokenizer import MAX_LENGTH, build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    prior = PriorTransformer(
        num_attention_heads=2,
        attention_head_dim=16,
        embedding_dim=EMBED_DIM,  # = the text tower's width and projection: no input projection needed
        num_embeddings=MAX_LENGTH,
        num_layers=1,
    )
    with torch.no_grad():
        prior.clip_std.fill_(1.0)  # a unit spread, so post-processed embeddings stay near the model's outputs
    pipe = KandinskyV22PriorPipeline(
        prior=prior,
        image_encoder=tiny_clip_vision(),
        text_encoder=CLIPTextModelWithProjection(tiny_text_config(len(tokenizer))),
        tokenizer=tokenizer,
        scheduler=UnCLIPScheduler(
            variance_type="fixed_small_log",
            prediction_type="sample",
            num_train_timesteps=1000,
            clip_sample=True,
            clip_sample_range=10.0,
        ),
        image_processor=tiny_clip_image_processor(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_kandinsky22_folder(folder: str | Path, seed: int = 0, inpaint: bool = False) -> Path:
    """Saves a random-weight `KandinskyV22Pipeline` (the decoder): a UNet conditioned only on an image embedding
    (`encoder_hid_dim_type="image_proj"`, `addition_embed_type="image"`) predicting noise and variance (8 channels),
    a 2-level `VQModel` (MoVQ, 2x downsampling: 64x64 images, 32x32x4 latents), `DDPMScheduler`.

    With `inpaint`, the inpainting decoder (`KandinskyV22InpaintPipeline`, as kandinsky-2-2-decoder-inpaint): its UNet
    also takes the mask and the masked image's latents (9 input channels).
    """
    import torch
    from diffusers import (
        DDPMScheduler,
        KandinskyV22InpaintPipeline,
        KandinskyV22Pipeline,
        UNet2DConditionModel,
        VQModel,
    )

    folder = Path(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=9 if inpaint else 4,
        out_channels=8,  # epsilon and learned variance, as the Hub decoder
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        addition_embed_type="image",
        encoder_hid_dim=EMBED_DIM,
        encoder_hid_dim_type="image_proj",
        cross_attention_dim=32,
        attention_head_dim=8,
        resnet_time_scale_shift="scale_shift",
        class_embed_type=None,
        norm_num_groups=32,
    )
    movq = VQModel(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "AttnDownEncoderBlock2D"),
        up_block_types=("AttnUpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        norm_type="spatial",
        num_vq_embeddings=12,
        vq_embed_dim=4,
        sample_size=64,
    )
    scheduler = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        steps_offset=1,
        prediction_type="epsilon",
        thresholding=False,
    )
    pipeline_class = KandinskyV22InpaintPipeline if inpaint else KandinskyV22Pipeline
    pipeline_class(unet=unet, scheduler=scheduler, movq=movq).save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_kandinsky22_inpaint_folder(folder: str | Path, seed: int = 0) -> Path:
    """Saves a random-weight Kandinsky 2.2 inpainting decoder (`KandinskyV22InpaintPipeline`, 9-channel UNet)."""
    return build_tiny_kandinsky22_folder(folder, seed=seed, inpaint=True)
