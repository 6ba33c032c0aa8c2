"""A tiny random-weight Stable unCLIP folder (`StableUnCLIPImg2ImgPipeline`), laid out as the bundled
`shapes-unclip` and stabilityai/stable-diffusion-2-1-unclip, optionally with the bundled layout's prior."""

from __future__ import annotations

from pathlib import Path

from .common import sd_scheduler_config, tiny_text_config, tiny_unet, tiny_vae
from .kandinsky import tiny_clip_image_processor, tiny_clip_vision

EMBED_DIM = 32  # CLIP image embedding width; the UNet's class embedding takes it twice (embedding + noise level)


def build_tiny_unclip_folder(folder: str | Path, seed: int = 0, with_prior: bool = True) -> Path:
    """Saves a random-weight `StableUnCLIPImg2ImgPipeline` to `folder`: a CLIP vision tower (64x64 input) whose
    noised, normalised image embedding enters the UNet as a class embedding, the 64x64 VAE and a CLIP text tower.

    With `with_prior`, also the `prior*` sub-folders the bundled `shapes-unclip` carries for caption -> image
    (a `PriorTransformer`, its CLIP text tower with projection, tokenizer and DDPM scheduler).
    """
    import torch
    from diffusers import DDIMScheduler, DDPMScheduler, PriorTransformer, StableUnCLIPImg2ImgPipeline
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from ..shapes.tokenizer import MAX_LENGTH, build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    pipe = StableUnCLIPImg2ImgPipeline(
        feature_extractor=tiny_clip_image_processor(64),
        image_encoder=tiny_clip_vision(EMBED_DIM, image_size=64),
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=EMBED_DIM),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2", clip_sample=True),
        tokenizer=tokenizer,
        text_encoder=CLIPTextModel(tiny_text_config(len(tokenizer))),
        unet=tiny_unet(
            cross_attention_dim=32,
            class_embed_type="projection",
            projection_class_embeddings_input_dim=2 * EMBED_DIM,
        ),
        scheduler=DDIMScheduler(**sd_scheduler_config()),
        vae=tiny_vae(),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    if with_prior:
        prior_text = tiny_text_config(len(tokenizer))
        prior_text.projection_dim = EMBED_DIM
        CLIPTextModelWithProjection(prior_text).save_pretrained(folder / "prior_text_encoder")
        tokenizer.save_pretrained(folder / "prior_tokenizer")
        PriorTransformer(
            num_attention_heads=2,
            attention_head_dim=16,
            embedding_dim=EMBED_DIM,
            num_embeddings=MAX_LENGTH,
            num_layers=1,
            encoder_hid_proj_type=None,  # the text states are already EMBED_DIM wide, as in shapes-unclip
        ).save_pretrained(folder / "prior", safe_serialization=True)
        DDPMScheduler(
            beta_schedule="squaredcos_cap_v2", clip_sample=True, clip_sample_range=5.0, prediction_type="sample"
        ).save_pretrained(folder / "prior_scheduler")
    return folder


def build_tiny_clip_folder(folder: str | Path, seed: int = 0, projection_dim: int = EMBED_DIM) -> Path:
    """Saves a random-weight transformers `CLIPModel` folder (text and vision towers, tokenizer, image processor),
    the format of the bundled `shapes-clip` and openai/clip-vit-base-patch32: the CLIP a model's `clip` names for
    CLIP scores, CLIP guidance and unCLIP text diffs (whose embeddings must be `projection_dim` wide, as the
    unCLIP model's image embeddings)."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    from ..shapes.tokenizer import build_tokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    vision = tiny_clip_vision(projection_dim, image_size=64).config
    config = CLIPConfig(
        text_config=tiny_text_config(len(tokenizer)).to_dict(),
        vision_config=vision.to_dict(),
        projection_dim=projection_dim,
    )
    CLIPModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    tiny_clip_image_processor(64).save_pretrained(folder)
    return folder
