"""Building blocks the tiny family folders share: a 64x64 VAE, a small CLIP text tower, a 2-level UNet and two
offline tokenizers (the shapes-world CLIP-style one, and a T5-style one for DeepFloyd IF)."""

from __future__ import annotations

from pathlib import Path

T5_MAX_LENGTH = 77  # IFPipeline pads and truncates prompts to 77 tokens whatever the tokenizer says


def folder_bytes(folder: str | Path) -> int:
    """Bytes of the weights (.safetensors) under `folder`."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*.safetensors"))


def tiny_vae():
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


def tiny_text_config(vocab_size: int, hidden_size: int = 32):
    """A 2-layer CLIP text tower (32 wide by default) over the shapes-world tokenizer's ids."""
    from transformers import CLIPTextConfig

    from ..shapes.tokenizer import MAX_LENGTH

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        projection_dim=32,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )


def tiny_unet(**config):
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


def sd_scheduler_config(**overrides) -> dict:
    """Stable Diffusion's training schedule (scaled-linear betas 0.00085..0.012), as its Hub folders ship it."""
    return {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "clip_sample": False,
        "set_alpha_to_one": False,
        "steps_offset": 1,
        **overrides,
    }


def build_t5_tokenizer():
    """A T5-style word-level tokenizer over the shapes-world vocabulary, saved and reloaded offline.

    Ids 0-2 are T5's `<pad>`, `</s>`, `<unk>`; a prompt ends with `</s>` and has no start token, as T5's does.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from ..shapes.grammar import VOCABULARY

    pad, eos, unk = "<pad>", "</s>", "<unk>"
    vocab = {token: i for i, token in enumerate([pad, eos, unk, *VOCABULARY])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single=f"$A {eos}", special_tokens=[(eos, vocab[eos])])
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=pad, eos_token=eos, unk_token=unk, model_max_length=T5_MAX_LENGTH
    )


def tiny_t5_encoder(vocab_size: int, d_model: int = 32):
    """A 2-layer T5 encoder (`T5EncoderModel`, the DeepFloyd IF text encoder's class)."""
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(
        T5Config(
            vocab_size=vocab_size,
            d_model=d_model,
            d_kv=8,
            d_ff=2 * d_model,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
