"""Trains the bundled unCLIP decoder and prior (`assets/models/shapes-unclip`) on a CPU, in the Stable unCLIP layout.

    python -m pipelines.shapes.train_unclip decoder [--minutes 75] [--threads 1]   # run again to resume
    python -m pipelines.shapes.train_unclip prior [--minutes 40] [--threads 1]
    python -m pipelines.shapes.train_unclip decoder --from-release --phrasing-share 0.8   # its text encoder alone
    python -m pipelines.shapes.train_unclip card --scores bench/out/unclip.json     # the model card

The folder is a plain `StableUnCLIPImg2ImgPipeline` (the structure of stabilityai/stable-diffusion-2-1-unclip):
`image_encoder` is the vision tower of `shapes-clip` with its projection (64-d image embedding z_i),
`image_normalizer` holds the mean and std of z_i over training images, `image_noising_scheduler` noises z_i,
text encoder, tokenizer and VAE are those of `shapes-sd`, and the UNet is the `shapes-sd` UNet with a
`class_embed_type="projection"` embedding of the 2·64-d vector [noised z_i, sinusoid(noise_level)] added to the
time embedding. The new embedding's last layer starts at zero, so training starts from the text-to-image model.

Training feeds the image embedding exactly as `StableUnCLIPImg2ImgPipeline.noise_image_embeddings` does at
sampling time (normalise, `add_noise` at `noise_level`, unnormalise, append the noise level's sinusoid), with a
random noise level per example (more often low), the caption dropped most of the time (the decoder must rely
on z_i) and the whole image vector zeroed sometimes (that zero vector is the pipeline's unconditional input for
guidance). Seeded and resumable from `runs/unclip-decoder/checkpoint.safetensors`; the frozen parts are copied
to `runs/unclip-decoder/base/` on the first run so a later retraining of `shapes-sd` does not change them.

The prior (`train_prior`) is a `PriorTransformer` from caption to z_i, saved in the `prior*` sub-folders of the
same folder, in the component layout `StableUnCLIPPipeline` takes (see `pipelines.unclip.caption_to_image`).
"""

from __future__ import annotations

import argparse
import copy
import logging
from pathlib import Path

import torch
import torch.nn.functional as F

from . import train as shapes_train
from .data import draw_batch
from .phrasing import phrase_some
from .tokenizer import token_ids
from .train import TrainConfig, Trainer, _write_training_facts, distil_text_encoder, ema_step

logger = logging.getLogger(__name__)

EMBED_DIM = 64  # projection_dim of shapes-clip
NOISE_LEVELS = 1000  # image_noising_scheduler.num_train_timesteps


def decoder_config() -> TrainConfig:
    return TrainConfig(
        "unclip-decoder", steps=3600, batch_size=32, lr=2e-4, ema_decay=0.998, caption_drop=0.8
    )  # lr of the new class embedding; the rest of the UNet gets lr / 4


SOURCE = Path("assets/models")  # where shapes-sd and shapes-clip are read from; --source-dir overrides
IMAGE_DROP = 0.1  # share of examples whose whole image vector is zero (the guidance "unconditional" input)


def load_image_encoder(clip_folder: Path):
    """CLIPVisionModelWithProjection with the weights of a `CLIPModel` folder.

    transformers 5 can leave weights random when loading a CLIPModel checkpoint into the vision class, so
    the towers are built from the config and their state dicts loaded explicitly (strict).
    """
    from transformers import CLIPModel, CLIPVisionModelWithProjection

    clip = CLIPModel.from_pretrained(clip_folder, use_safetensors=True)
    encoder = CLIPVisionModelWithProjection(clip.config.vision_config)
    encoder.vision_model.load_state_dict(clip.vision_model.state_dict())
    encoder.visual_projection.load_state_dict(clip.visual_projection.state_dict())
    return encoder.eval()


def unclip_unet(base):
    """The text-to-image UNet `base` with a zero-initialised image-embedding ("projection" class) input."""
    from diffusers import UNet2DConditionModel

    config = dict(base.config)
    config.update(class_embed_type="projection", projection_class_embeddings_input_dim=2 * EMBED_DIM)
    unet = UNet2DConditionModel.from_config(config)
    missing, unexpected = unet.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("class_embedding.") for k in missing), (missing, unexpected)
    torch.nn.init.zeros_(unet.class_embedding.linear_2.weight)
    torch.nn.init.zeros_(unet.class_embedding.linear_2.bias)
    return unet


def _base_components(base_dir: Path, assets: Path):
    """Frozen components, snapshotted from the released models on the first run."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPTextModel, CLIPVisionModelWithProjection

    if not (base_dir / "done").exists():
        sd = assets / "shapes-sd"
        AutoencoderKL.from_pretrained(sd / "vae").save_pretrained(base_dir / "vae")
        CLIPTextModel.from_pretrained(sd / "text_encoder").save_pretrained(base_dir / "text_encoder")
        AutoTokenizer.from_pretrained(sd / "tokenizer").save_pretrained(base_dir / "tokenizer")
        UNet2DConditionModel.from_pretrained(sd / "unet", dtype=torch.float32).save_pretrained(base_dir / "unet")
        load_image_encoder(assets / "shapes-clip").save_pretrained(base_dir / "image_encoder")
        CLIPImageProcessor.from_pretrained(assets / "shapes-clip").save_pretrained(base_dir / "feature_extractor")
        (base_dir / "done").write_text("ok\n")
    return (
        AutoencoderKL.from_pretrained(base_dir / "vae").eval().requires_grad_(False),
        CLIPTextModel.from_pretrained(base_dir / "text_encoder").eval().requires_grad_(False),
        AutoTokenizer.from_pretrained(base_dir / "tokenizer"),
        UNet2DConditionModel.from_pretrained(base_dir / "unet", dtype=torch.float32),
        CLIPVisionModelWithProjection.from_pretrained(base_dir / "image_encoder").eval().requires_grad_(False),
        CLIPImageProcessor.from_pretrained(base_dir / "feature_extractor"),
    )


def _embedding_stats(image_encoder, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of z_i over 1,024 training images (what SD 2.1 unCLIP's normalizer holds for OpenCLIP)."""
    with torch.no_grad():
        embeds = torch.cat([image_encoder(draw_batch(seed + 99, i, 256)[0]).image_embeds for i in range(4)])
    return embeds.mean(0, keepdim=True), embeds.std(0, keepdim=True)


def image_noising_scheduler():
    from diffusers import DDPMScheduler

    # As in stable-diffusion-2-1-unclip's image_noising_scheduler.
    return DDPMScheduler(num_train_timesteps=NOISE_LEVELS, beta_schedule="squaredcos_cap_v2")


def noised_class_labels(embeds, noise_levels, normalizer, noising, generator) -> torch.Tensor:
    """[unscale(add_noise(scale(z_i), noise_level)), sinusoid(noise_level)] per example — the same vector
    `StableUnCLIPImg2ImgPipeline.noise_image_embeddings` builds, but with a noise level per example."""
    from diffusers.models.embeddings import get_timestep_embedding

    noise = torch.randn(embeds.shape, generator=generator)
    noised = normalizer.unscale(noising.add_noise(normalizer.scale(embeds), noise, noise_levels))
    sinusoid = get_timestep_embedding(noise_levels, embeds.shape[-1], flip_sin_to_cos=True, downscale_freq_shift=0)
    return torch.cat([noised, sinusoid], dim=1)


def training_class_labels(embeds, normalizer, noising, generator) -> torch.Tensor:
    """The decoder's image input for a training batch: each z_i noised to a level drawn more often low
    (floor(1000·u²)), and the whole vector zeroed IMAGE_DROP of the time (the unconditional input for guidance)."""
    n = len(embeds)
    levels = (NOISE_LEVELS * torch.rand(n, generator=generator) ** 2).long().clamp(max=NOISE_LEVELS - 1)
    class_labels = noised_class_labels(embeds, levels, normalizer, noising, generator)
    return class_labels * (torch.rand(n, generator=generator) >= IMAGE_DROP).float()[:, None]


def decoder_noise_scheduler():
    from diffusers import DDPMScheduler

    # SD's own schedule, epsilon prediction: the decoder started from the stage-1 shapes-sd UNet.
    return DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)


def train_decoder(config: TrainConfig) -> None:
    from diffusers import DDIMScheduler, StableUnCLIPImg2ImgPipeline
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer

    torch.manual_seed(config.seed)
    run_dir = shapes_train.RUNS / config.model
    vae, text_encoder, tokenizer, base_unet, image_encoder, feature_extractor = _base_components(
        run_dir / "base", SOURCE
    )
    unet = unclip_unet(base_unet)
    del base_unet
    normalizer = StableUnCLIPImageNormalizer(embedding_dim=EMBED_DIM)
    mean, std = _embedding_stats(image_encoder, config.seed)
    with torch.no_grad():
        normalizer.mean.copy_(mean)
        normalizer.std.copy_(std)
    normalizer.requires_grad_(False)
    noising = image_noising_scheduler()
    ema_unet = copy.deepcopy(unet).requires_grad_(False)
    noise_scheduler = decoder_noise_scheduler()
    snr = noise_scheduler.alphas_cumprod / (1 - noise_scheduler.alphas_cumprod)
    new = [p for n, p in unet.named_parameters() if n.startswith("class_embedding.")]
    old = [p for n, p in unet.named_parameters() if not n.startswith("class_embedding.")]
    params = [{"params": new, "lr": config.lr}, {"params": old, "lr": config.lr / 4}]
    trainer = Trainer(config, {"unet": unet, "ema_unet": ema_unet}, params)
    scale = vae.config.scaling_factor
    with torch.no_grad():
        empty = text_encoder(token_ids(tokenizer, [""]))[0]

    def loss_fn(step: int):
        generator = torch.Generator().manual_seed(config.seed * 7919 + step + 31)
        images, captions, _ = draw_batch(config.seed + 5, step, config.batch_size)
        n = len(captions)
        with torch.no_grad():
            latents = vae.encode(images).latent_dist.sample(generator) * scale
            # 1. z_i noised to a random level per example, the whole vector zeroed sometimes
            class_labels = training_class_labels(image_encoder(images).image_embeds, normalizer, noising, generator)
            # 2. caption mostly dropped: empty-prompt context
            drop = torch.rand(n, generator=generator) < config.caption_drop
            kept = text_encoder(token_ids(tokenizer, [c for c, d in zip(captions, drop.tolist()) if not d] or [""]))[0]
            context = empty.expand(n, -1, -1).clone()
            if (~drop).any():
                context[~drop] = kept
        noise = torch.randn(latents.shape, generator=generator)
        t = torch.randint(0, 1000, (n,), generator=generator)
        noisy = noise_scheduler.add_noise(latents, noise, t)
        prediction = unet(noisy, t, context, class_labels=class_labels).sample
        weights = torch.clamp(snr[t], max=5.0) / snr[t]  # min-SNR-5, as train.py
        loss = (weights * F.mse_loss(prediction, noise, reduction="none").mean(dim=(1, 2, 3))).mean()
        return loss, {}

    trainer.run(loss_fn, after_step=lambda: ema_step([(ema_unet, unet)], config.ema_decay, trainer.step))

    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableUnCLIPImg2ImgPipeline(
        feature_extractor=feature_extractor,
        image_encoder=image_encoder,
        image_normalizer=normalizer,
        image_noising_scheduler=noising,
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        unet=ema_unet,
        scheduler=scheduler,
        vae=vae,
    )
    out = shapes_train.ASSETS / "shapes-unclip"
    pipe.save_pretrained(out, safe_serialization=True)
    # The UNet is stored in half precision like shapes-sd's; diffusers loads it back as float32.
    ema_unet.to(torch.float16).save_pretrained(out / "unet", safe_serialization=True)
    _write_training_facts(out / "unet", config, trainer.step)
    logger.info("saved %s at step %d", out, trainer.step)


def decoder_text_config() -> TrainConfig:
    # caption_drop: the share of empty captions, so that the empty prompt (guidance's unconditional input) keeps its
    # reading too
    return TrainConfig("unclip-decoder-text", steps=600, batch_size=32, lr=1e-4, ema_decay=0.998, caption_drop=0.15)


def train_decoder_text(config: TrainConfig) -> None:
    """Tunes the released decoder's text encoder alone to read other phrasings as it reads the canonical caption
    (`decoder --from-release`).

    The decoder reads the caption beside z_i, through the text encoder of the `shapes-sd` it started from, which
    knew only the canonical captions: with the prior's z_i right, "The blue box." still drew the wrong thing (and
    drew it right when the decoder was handed "a blue square"). So the target is exactly that: the frozen decoder's
    prediction with the original text encoder on the canonical caption, for the tuned one on any phrasing of it, and
    on the empty prompt (guidance's unconditional input) as before (distillation; the decoder's own denoising loss,
    tried first, moved the text side too little to help; `read_as_canonical_loss`). The UNet, VAE and image side stay
    frozen.
    """
    from diffusers import StableUnCLIPImg2ImgPipeline

    torch.manual_seed(config.seed)
    folder = shapes_train.ASSETS / "shapes-unclip"
    pipe = StableUnCLIPImg2ImgPipeline.from_pretrained(folder, use_safetensors=True, dtype=torch.float32)
    for frozen in (pipe.unet, pipe.vae, pipe.image_encoder, pipe.image_normalizer):
        frozen.eval().requires_grad_(False)
    scale = pipe.vae.config.scaling_factor

    def denoiser(images, examples, generator, step):
        with torch.no_grad():
            latents = pipe.vae.encode(images).latent_dist.sample(generator) * scale
            class_labels = training_class_labels(
                pipe.image_encoder(images).image_embeds, pipe.image_normalizer, pipe.image_noising_scheduler, generator
            )
            t = torch.randint(0, 1000, (len(images),), generator=generator)
        predict = lambda noisy, t, context: pipe.unet(noisy, t, context, class_labels=class_labels).sample  # noqa: E731
        return predict, latents, t

    distil_text_encoder(
        config,
        pipe.text_encoder,
        pipe.tokenizer,
        denoiser,
        decoder_noise_scheduler(),
        folder / "text_encoder",
        data_seeds=(13, 53),
    )


# --- prior: caption -> z_i ----------------------------------------------------------------------------


def prior_config() -> TrainConfig:
    return TrainConfig("unclip-prior", steps=2000, batch_size=64, lr=3e-4, ema_decay=0.998, caption_drop=0.1)


def prior_scheduler():
    from diffusers import DDPMScheduler

    # As stable-diffusion-2-1-unclip-small's prior_scheduler (Karlo): cosine schedule, the prior predicts z_i itself.
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="sample",
        clip_sample=True,
        clip_sample_range=5.0,
    )


def load_prior_text_encoder(clip_folder: Path):
    """CLIPTextModelWithProjection with the text tower of a `CLIPModel` folder (loaded explicitly, as above)."""
    from transformers import CLIPModel, CLIPTextModelWithProjection

    clip = CLIPModel.from_pretrained(clip_folder, use_safetensors=True)
    encoder = CLIPTextModelWithProjection(clip.config.text_config)
    encoder.text_model.load_state_dict(clip.text_model.state_dict())
    encoder.text_projection.load_state_dict(clip.text_projection.state_dict())
    return encoder.eval()


def train_prior(config: TrainConfig) -> None:
    """A `PriorTransformer` (Karlo / Stable unCLIP layout) that maps a caption to a CLIP image embedding.

    Conditioning as `StableUnCLIPPipeline` feeds it: the text tower's projected embedding (`proj_embedding`) and its
    last hidden states (width 128 = the prior's inner width, so no input projection) with the attention mask.
    It predicts the normalised z_i (x0) from a noised one; the caption is dropped `caption_drop` of the time
    for classifier-free guidance.
    """
    from diffusers import PriorTransformer
    from transformers import AutoTokenizer

    from .tokenizer import MAX_LENGTH

    torch.manual_seed(config.seed)
    clip_folder = SOURCE / "shapes-clip"
    text_encoder = load_prior_text_encoder(clip_folder).requires_grad_(False)
    image_encoder = load_image_encoder(clip_folder).requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(clip_folder)
    width = text_encoder.config.hidden_size
    prior = PriorTransformer(
        num_attention_heads=4,
        attention_head_dim=width // 4,
        num_layers=6,
        embedding_dim=EMBED_DIM,
        num_embeddings=MAX_LENGTH,
        additional_embeddings=4,
        encoder_hid_proj_type=None,
    )
    mean, std = _embedding_stats(image_encoder, config.seed)
    with torch.no_grad():
        prior.clip_mean.copy_(mean)
        prior.clip_std.copy_(std)
    prior.clip_mean.requires_grad_(False)
    prior.clip_std.requires_grad_(False)
    ema = copy.deepcopy(prior).requires_grad_(False)
    scheduler = prior_scheduler()
    trainer = Trainer(config, {"prior": prior, "ema_prior": ema}, [p for p in prior.parameters() if p.requires_grad])

    def loss_fn(step: int):
        generator = torch.Generator().manual_seed(config.seed * 7919 + step + 77)
        images, captions, examples = draw_batch(config.seed + 9, step, config.batch_size)
        captions = phrase_some(captions, [e.scene for e in examples], config.phrasing_share, f"{config.seed} {step}")
        drop = (torch.rand(len(captions), generator=generator) < config.caption_drop).tolist()
        captions = ["" if d else c for c, d in zip(captions, drop)]
        with torch.no_grad():
            target = (image_encoder(images).image_embeds - mean) / std
            tokens = tokenizer(captions, padding="max_length", max_length=MAX_LENGTH, return_tensors="pt")
            text = text_encoder(tokens.input_ids)
        noise = torch.randn(target.shape, generator=generator)
        t = torch.randint(0, 1000, (len(captions),), generator=generator)
        noisy = scheduler.add_noise(target, noise, t)
        predicted = prior(
            noisy,
            timestep=t,
            proj_embedding=text.text_embeds,
            encoder_hidden_states=text.last_hidden_state,
            attention_mask=tokens.attention_mask.bool(),
        ).predicted_image_embedding
        loss = F.mse_loss(predicted, target)
        cosine = F.cosine_similarity(predicted * std + mean, target * std + mean).mean()
        return loss, {"cosine": round(float(cosine), 4)}

    trainer.run(loss_fn, after_step=lambda: ema_step([(ema, prior)], config.ema_decay, trainer.step))
    out = shapes_train.ASSETS / "shapes-unclip"
    ema.save_pretrained(out / "prior", safe_serialization=True)
    text_encoder.save_pretrained(out / "prior_text_encoder")
    tokenizer.save_pretrained(out / "prior_tokenizer")
    scheduler.save_pretrained(out / "prior_scheduler")
    _write_training_facts(out / "prior", config, trainer.step)
    logger.info("saved the prior in %s at step %d", out, trainer.step)


CARD = """---
license: mit
library_name: diffusers
tags: [shapes-world, tiny, cpu, unclip]
---
# shapes-unclip: a tiny Stable unCLIP decoder for the shapes world

A plain `StableUnCLIPImg2ImgPipeline` folder, the layout of stabilityai/stable-diffusion-2-1-unclip, so the studio's
unCLIP code runs both: `image_encoder` is the vision tower of `shapes-clip` with its projection (64-d CLIP image
embedding z_i; weights copied exactly), `feature_extractor` its preprocessing, `image_normalizer` the mean and std of
z_i over 1,024 training images, `image_noising_scheduler` a 1,000-level cosine DDPM schedule for Stable unCLIP's
`noise_level`, text encoder, tokenizer and VAE those of `shapes-sd`, a DDIM scheduler, and a
`UNet2DConditionModel` (fp16 weights) that is the `shapes-sd` UNet plus a `class_embed_type="projection"` input
(2·64 → time-embedding width) for [noised z_i, sinusoid(noise_level)]. That input starts at zero, so training
started from the text-to-image model.

Training feeds z_i exactly as the pipeline does at sampling time (`noise_image_embeddings`: normalise, noise to a
random level drawn as ⌊1000·u²⌋, unnormalise, append the level's sinusoid), drops the caption {caption_drop:.0%} of
the time (the decoder must draw from z_i) and zeroes the whole image vector {image_drop:.0%} of the time (the
pipeline's unconditional input for guidance).

{prior_text}

Load: `StableUnCLIPImg2ImgPipeline.from_pretrained(folder)`; `pipe(image=pil_image)` gives a variation.

Parameters: {parameters:,} (all weights as safetensors).

## Training data
{world} The unCLIP scores use drawn one-object scenes of every colour and shape instead (`bench/unclip.py`),
except the prior's, which uses the captions "a <colour> <shape>".

## Training
| fact | value |
|---|---|
{facts}
{more_facts}
Reproduce (seeded, resumable from `runs/unclip-decoder/checkpoint.safetensors`):
```
python -m pipelines.shapes.train_unclip decoder --minutes 75 --threads 1   # again to resume, until 3,600 steps
python -m pipelines.shapes.train_unclip prior --minutes 40 --threads 1 --phrasing-share 0.6
python -m pipelines.shapes.train_unclip decoder --from-release --phrasing-share 0.8 --threads 1   # its text encoder
python -m bench.unclip --json bench/out/unclip.json
python -m pipelines.shapes.train_unclip card --scores bench/out/unclip.json
```

## Scores (`python -m bench.unclip`)
{title}

| measure | value | target |
|---|---|---|
{scores}
"""

NO_PRIOR = (
    "There is no prior (caption → z_i) in this folder: text diffs use the CLIP text tower's embeddings directly."
)
PRIOR = """**Prior** (caption → z_i) in the sub-folders `prior` (`PriorTransformer`, 6 layers, width 128,
{parameters:,} parameters, Karlo / Stable unCLIP layout: it predicts the normalised z_i, and `clip_mean`/`clip_std`
hold the training statistics), `prior_text_encoder` (`CLIPTextModelWithProjection`, the text tower of
`shapes-clip`), `prior_tokenizer` and `prior_scheduler` (cosine DDPM, `prediction_type="sample"`).
`StableUnCLIPPipeline(prior_tokenizer=..., prior_text_encoder=..., prior=..., prior_scheduler=..., **decoder
components)` draws from a caption (`pipelines.unclip.caption_to_image`); `StableUnCLIPImg2ImgPipeline.from_pretrained`
ignores these sub-folders. The caption was dropped 10 % of the time for classifier-free guidance, and written in a
random other phrasing the grammar reads 60 % of the time. The decoder also reads the caption, through the text
encoder of the `shapes-sd` it started from, which knew only canonical captions: that text encoder alone was then
tuned (`decoder --from-release`, UNet frozen) so that the decoder predicts for any phrasing what it predicted for
the canonical caption, and for the empty prompt what it did before. `bench.unclip`'s prior + decoder row, the 18
captions in other phrasings: 0.50 before, 0.67 with the new prior, 0.94 with both (canonical 0.89 throughout), as
read by the judge of before 2026-12-07; the current judge reads the released models 1.00 (canonical 0.94)."""


def write_card(folder: Path, scores_path: Path | None) -> None:
    """Writes `folder/README.md` from its training facts and the benchmark's JSON."""
    import json

    from .model_cards import WORLD, _facts, _parameters, facts_sections

    scores = json.loads(scores_path.read_text()) if scores_path and scores_path.exists() else {"title": "", "rows": []}
    config = decoder_config()
    has_prior = (folder / "prior" / "config.json").is_file()
    prior_text = PRIOR.format(parameters=_parameters(folder / "prior")) if has_prior else NO_PRIOR
    more_facts = facts_sections(
        [
            ("Prior", folder / "prior" / "training.json"),
            ("Decoder text encoder (tuned on other phrasings)", folder / "text_encoder" / "training.json"),
        ]
    )
    text = CARD.format(
        prior_text=prior_text,
        more_facts=more_facts,
        caption_drop=config.caption_drop,
        image_drop=IMAGE_DROP,
        parameters=_parameters(folder),
        world=WORLD,
        facts=_facts(folder / "unet" / "training.json"),
        title=scores["title"],
        scores="\n".join("| " + " | ".join(row) + " |" for row in scores["rows"]) or "| (not measured) | | |",
    )
    (folder / "README.md").write_text(text)


def main() -> None:
    global SOURCE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=["decoder", "prior", "card"], help="what to train (or write the card)")
    parser.add_argument("--scores", type=Path, help="card: the JSON of `python -m bench.unclip --json`")
    parser.add_argument("--steps", type=int, help="total optimiser steps")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--minutes", type=float, default=70.0, help="wall-time bound of this run")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--assets-dir", type=Path, default=shapes_train.ASSETS, help="where shapes-unclip goes")
    parser.add_argument("--source-dir", type=Path, default=SOURCE, help="where shapes-sd and shapes-clip are")
    parser.add_argument("--runs-dir", type=Path, default=shapes_train.RUNS)
    parser.add_argument(
        "--phrasing-share", type=float, default=0.0, help="share of captions in a random phrasing (phrasing.py)"
    )
    parser.add_argument(
        "--from-release",
        action="store_true",
        help="decoder: tune the released decoder's text encoder alone (UNet and image side frozen)",
    )
    args = parser.parse_args()
    shapes_train.ASSETS, shapes_train.RUNS, SOURCE = args.assets_dir, args.runs_dir, args.source_dir
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.model == "card":
        write_card(shapes_train.ASSETS / "shapes-unclip", args.scores)
        return
    if args.from_release and args.model != "decoder":
        parser.error("--from-release goes with decoder (it tunes the released decoder's text encoder)")
    if args.model == "prior":
        config, train = prior_config(), train_prior
    elif args.from_release:
        config, train = decoder_text_config(), train_decoder_text
        config.started_from = "the released shapes-unclip decoder; its text encoder alone tuned"
    else:
        config, train = decoder_config(), train_decoder
    config.minutes = args.minutes
    if args.steps:
        config.steps = args.steps
    if args.batch_size:
        config.batch_size = args.batch_size
    config.phrasing_share = args.phrasing_share
    train(config)


if __name__ == "__main__":
    main()
