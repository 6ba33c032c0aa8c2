"""Trains the bundled shapes model family on a CPU (a GPU is used when present, never required).

    python -m pipelines.shapes.train clip     # contrastive text/image pair  -> assets/models/shapes-clip
    python -m pipelines.shapes.train vae      # autoencoder                  -> assets/models/shapes-sd/vae
    python -m pipelines.shapes.train unet     # text-to-image UNet, text encoder tuned -> assets/models/shapes-sd
    python -m pipelines.shapes.train inpaint  # 9-channel inpainting UNet    -> assets/models/shapes-sd-inpaint
    python -m pipelines.shapes.train text     # shapes-sd's text encoder alone, to read other phrasings
    python -m pipelines.shapes.train inpaint-text  # the same for shapes-sd-inpaint's text encoder

Each run is seeded and resumable: it checkpoints to `runs/<model>/checkpoint.safetensors` every few
minutes and continues from there when started again. `--minutes` bounds the wall time of one run;
`--steps` the total number of optimiser steps. A log goes to `runs/<model>/log.jsonl`.
`unet --from-release` starts a new run from the released weights in `assets/` instead of from scratch (to
continue training in a later session, when `runs/` is gone); `clip --from-release` tunes the released text tower
only (the image tower, and so every image embedding, stays); `vae --from-release` the released decoder only (the
encoder, and so every latent, stays).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .configs import clip_config, unet_config, vae_config
from .data import draw_batch
from .phrasing import phrase_some
from .tokenizer import MAX_LENGTH, build_tokenizer, token_ids
from .world import COUNT_SIZE_SHARE

logger = logging.getLogger(__name__)
ASSETS = Path("assets/models")  # where released models go; --assets-dir overrides (tests)
RUNS = Path("runs")  # checkpoints and logs; --runs-dir overrides
LAYOUT_STEPS_FROM = 600  # --layout-focus draws t from [600, 1000): where the layout and relations are decided


@dataclass
class TrainConfig:
    model: str  # clip | vae | unet | inpaint
    steps: int  # total optimiser steps
    batch_size: int
    lr: float
    minutes: float = 90.0  # wall-time bound of this run; resume to continue
    seed: int = 0
    checkpoint_every_s: float = 180.0
    ema_decay: float = 0.999  # unet/inpaint only
    caption_drop: float = 0.15  # unet/inpaint: share of empty captions, for classifier-free guidance
    from_release: bool = False  # unet: from the released UNet and text encoder; clip: tune its text tower only
    zero_snr: bool = False  # unet/inpaint: zero-terminal-SNR schedule with v-prediction (Lin et al. 2024)
    two_object_fraction: float = 0.4  # unet/inpaint: share of two-object scenes in the training batches
    count_fraction: float = 0.0  # unet/inpaint: share of counts of one kind ("three blue squares")
    count_size_share: float = COUNT_SIZE_SHARE  # unet/inpaint: share of counts saying their size
    layout_focus: float = 0.0  # unet/inpaint: share of timesteps drawn from the noisiest ones, where layout is decided
    phrasing_share: float = 0.0  # unet/inpaint/clip: share of captions written by phrasing.phrase, not describe
    init_synonyms: bool = False  # unet --from-release: start each never-trained synonym's embedding from its word's
    anchor: float = 0.0  # text: weight of keeping the canonical captions' readings (`train_text`)
    snapshot_every: int = 0  # unet: every this many steps save the EMA pipeline to runs/<model>/snapshots/step-N
    started_from: str = ""  # free text recorded in training.json (which release this stage continued)


DEFAULTS = {
    "clip": TrainConfig("clip", steps=1500, batch_size=128, lr=5e-4),
    "vae": TrainConfig("vae", steps=1500, batch_size=16, lr=1e-3),
    "unet": TrainConfig("unet", steps=4000, batch_size=64, lr=3e-4),
    "inpaint": TrainConfig("inpaint", steps=1500, batch_size=64, lr=2e-4),
    # caption_drop: the share of empty captions, so that the empty prompt (guidance's unconditional input) keeps its
    # reading too
    "text": TrainConfig("text", steps=600, batch_size=32, lr=1e-4, ema_decay=0.998, caption_drop=0.15),
}
DEFAULTS["inpaint-text"] = replace(DEFAULTS["text"], model="inpaint-text")


def _lr_lambda(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup)))) * 0.9 + 0.1

    return factor


def training_batch(config: TrainConfig, seed: int, step: int):
    """`draw_batch` with the run's batch size and its shares of two-object scenes and counts."""
    return draw_batch(
        seed,
        step,
        config.batch_size,
        two_object_fraction=config.two_object_fraction,
        count_fraction=config.count_fraction,
        count_size_share=config.count_size_share,
    )


class Trainer:
    """The loop all models share: step, log, checkpoint, stop on time, resume."""

    def __init__(self, config: TrainConfig, modules: dict[str, torch.nn.Module], params) -> None:
        self.config = config
        self.modules = modules
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-4)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(200, config.steps))
        self.dir = RUNS / config.model
        self.dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint = self.dir / "checkpoint.safetensors"
        self.step = 0
        if self.checkpoint.exists():
            self.step = load_checkpoint(self.checkpoint, modules, self.optimizer)
            for _ in range(self.step):
                self.scheduler.step()
            logger.info("resumed %s at step %d", config.model, self.step)

    def run(self, loss_fn, after_step=None) -> bool:
        """Runs until `steps` or `minutes`; returns True when training is complete."""
        start = last_save = time.time()
        log = open(self.dir / "log.jsonl", "a")
        bar = tqdm(total=self.config.steps, initial=self.step, desc=self.config.model, mininterval=10)
        while self.step < self.config.steps and time.time() - start < self.config.minutes * 60:
            loss, metrics = loss_fn(self.step)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], 1.0)
            self.optimizer.step()
            self.scheduler.step()
            if after_step:
                after_step()
            self.step += 1
            bar.update(1)
            if self.step % 25 == 0:
                record = {
                    "step": self.step,
                    "loss": loss.item(),
                    "elapsed_s": round(time.time() - start, 1),
                    **metrics,
                }
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{float(loss):.4f}")
            if time.time() - last_save > self.config.checkpoint_every_s:
                save_checkpoint(self.checkpoint, self.step, self.modules, self.optimizer)
                last_save = time.time()
        save_checkpoint(self.checkpoint, self.step, self.modules, self.optimizer)
        bar.close()
        log.close()
        return self.step >= self.config.steps


def ema_step(pairs: list[tuple[torch.nn.Module, torch.nn.Module]], max_decay: float, step: int) -> None:
    """Moves each (ema, live) pair's EMA weights towards the live ones, with decay warming up to `max_decay`."""
    decay = min(max_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for ema, live in pairs:
            for e, p in zip(ema.parameters(), live.parameters()):
                e.lerp_(p, 1 - decay)


def _wall_minutes(model: str) -> float:
    """Total wall minutes over all runs of `model`, read from its log."""
    path = RUNS / model / "log.jsonl"
    if not path.exists():
        return 0.0
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    total, previous = 0.0, 0.0
    for record in records:
        elapsed = record["elapsed_s"]
        total += elapsed - previous if elapsed >= previous else elapsed
        previous = elapsed
    return total / 60


def _write_training_facts(folder: Path, config: TrainConfig, step: int) -> None:
    facts = {
        "model": config.model,
        "steps": step,
        "batch_size": config.batch_size,
        "learning_rate": config.lr,
        "seed": config.seed,
        "wall_minutes": round(_wall_minutes(config.model), 1),
        "hardware": f"{'CUDA' if torch.cuda.is_available() else 'CPU'}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }
    if config.from_release:
        facts["from_release"] = True
    if config.model in ("unet", "inpaint", "text", "inpaint-text"):
        facts["caption_drop"] = config.caption_drop
        facts["ema_decay"] = config.ema_decay
        facts["zero_terminal_snr_v_prediction"] = config.zero_snr
        facts["two_object_fraction"] = config.two_object_fraction
        if config.count_fraction:
            facts["count_fraction"] = config.count_fraction
            facts["count_size_share"] = config.count_size_share
        if config.layout_focus:
            facts["layout_focus"] = config.layout_focus
        if config.init_synonyms:
            facts["init_synonyms"] = True
        if config.anchor:
            facts["anchor"] = config.anchor
    if config.model == "vae" and config.from_release:
        facts |= {
            "trained": "decoder only",
            "count_fraction": config.count_fraction,
            "latent_noise": DECODER_LATENT_NOISE,
        }
    if config.phrasing_share:
        facts["phrasing_share"] = config.phrasing_share
        if config.model == "clip":
            facts["trained"] = "text tower only" if config.from_release else "both towers"
    if config.started_from:
        facts = {"model": facts.pop("model"), "started_from": config.started_from, **facts}
    (folder / "training.json").write_text(json.dumps(facts, indent=2) + "\n")


# --- CLIP ---------------------------------------------------------------------------------------------


def train_clip(config: TrainConfig) -> None:
    from transformers import CLIPImageProcessor, CLIPModel

    tokenizer = build_tokenizer()
    if config.from_release:
        # The text tower learns new phrasings; the image tower stays, so image embeddings (and their readers) stay.
        model = CLIPModel.from_pretrained(ASSETS / "shapes-clip", use_safetensors=True)
        model.vision_model.requires_grad_(False).eval()
        model.visual_projection.requires_grad_(False)
    else:
        model = CLIPModel(clip_config())
    trainer = Trainer(config, {"model": model}, [p for p in model.parameters() if p.requires_grad])

    def loss_fn(step: int):
        images, captions, examples = draw_batch(config.seed, step, config.batch_size)
        # Identical captions in one batch are true matches, not negatives: soft targets over them.
        same = torch.tensor([[a == b for b in captions] for a in captions], dtype=torch.float32)
        captions = phrase_some(captions, [e.scene for e in examples], config.phrasing_share, f"{config.seed} {step}")
        tokens = tokenizer(captions, padding="max_length", max_length=MAX_LENGTH, return_tensors="pt")
        out = model(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask, pixel_values=images)
        targets = same / same.sum(1, keepdim=True)
        logits = out.logits_per_text
        loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets.T)) / 2
        accuracy = (logits.argmax(1) == torch.arange(len(captions))).float().mean()
        return loss, {"accuracy": float(accuracy)}

    trainer.run(loss_fn)
    out = ASSETS / "shapes-clip"
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    CLIPImageProcessor(
        size={"shortest_edge": 64},
        crop_size={"height": 64, "width": 64},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    ).save_pretrained(out)
    _write_training_facts(out, config, trainer.step)


# --- VAE ----------------------------------------------------------------------------------------------


DECODER_LATENT_NOISE = 0.1  # vae --from-release: latents jittered by this share of their std, as a UNet's are off


def train_vae(config: TrainConfig) -> None:
    """Trains the autoencoder; `from_release` tunes the released one's decoder alone.

    The released VAE was trained on one- and two-object scenes only and shifted the colours of large flat areas
    (three large squares: 23.4 dB against 36.9 on the held-out images). Its decoder is tuned on batches with counts
    (`--count-fraction`), on latents jittered by DECODER_LATENT_NOISE of their spread as a UNet's latents are; the
    encoder, and so every latent any UNet was trained on, stays as it was."""
    from diffusers import AutoencoderKL

    torch.manual_seed(config.seed)  # the initial weights and the posterior samples of a run from scratch
    out = ASSETS / "shapes-sd" / "vae"
    if config.from_release:
        vae = AutoencoderKL.from_pretrained(out, use_safetensors=True).requires_grad_(False)
        decoder = [vae.decoder, vae.post_quant_conv]
        for part in decoder:
            part.requires_grad_(True)
        params = [p for part in decoder for p in part.parameters()]
    else:
        vae = AutoencoderKL(**vae_config())
        params = list(vae.parameters())
    trainer = Trainer(config, {"vae": vae}, params)

    def loss_fn(step: int):
        images, _, _ = training_batch(config, config.seed, step)
        if config.from_release:  # the frozen encoder's latents, jittered; no KL term for a decoder alone
            generator = torch.Generator().manual_seed(config.seed * 7919 + step + 97)
            with torch.no_grad():
                latents = vae.encode(images).latent_dist.sample(generator)
                jitter = torch.randn(latents.shape, generator=generator)
                latents = latents + DECODER_LATENT_NOISE * latents.std() * jitter
            kl = 0.0
        else:
            posterior = vae.encode(images).latent_dist
            latents = posterior.sample()
            kl = 1e-6 * posterior.kl().mean()
        reconstruction = vae.decode(latents).sample
        mse = F.mse_loss(reconstruction, images)
        loss = F.l1_loss(reconstruction, images) + mse + kl
        psnr = 10 * math.log10(4.0 / max(mse.item(), 1e-10))  # range [-1, 1] has peak-to-peak 2
        return loss, {"psnr": round(psnr, 2)}

    trainer.run(loss_fn)
    if not config.from_release:
        # Latents are scaled to unit variance for the UNet, as Stable Diffusion's 0.18215 does.
        with torch.no_grad():
            images, _, _ = draw_batch(config.seed + 1, 0, 256)
            std = float(vae.encode(images).latent_dist.sample().std())
        vae.register_to_config(scaling_factor=round(1.0 / std, 5))
    vae.save_pretrained(out, safe_serialization=True)
    _write_training_facts(out, config, trainer.step)


# --- UNet ---------------------------------------------------------------------------------------------


def _random_masks(step: int, layouts: list, size: int) -> torch.Tensor:
    """Training masks for the inpainting UNet, one per example: 10 % the whole image (text to image), 45 % one
    object's bounding box plus a random margin (what a user erases to replace a thing), 45 % GLIDE's random
    rectangles (anything else). With rectangles alone the model learned that a masked area is mostly background
    and often filled a removed object's box with nothing.

    Args:
        layouts: each example's drawn `PlacedShape`s.
    Returns (B, 1, size, size) with 1 where the image is to be generated.
    """
    generator = torch.Generator().manual_seed(10_000_019 + step)
    masks = torch.zeros(len(layouts), 1, size, size)
    for i, layout in enumerate(layouts):
        kind = float(torch.rand((), generator=generator))
        if kind < 0.1:
            masks[i] = 1
        elif kind < 0.55:
            shape = layout[int(torch.randint(0, len(layout), (), generator=generator))]
            r = shape.radius + int(torch.randint(1, 7, (), generator=generator))
            masks[i, :, max(shape.y - r, 0) : shape.y + r + 1, max(shape.x - r, 0) : shape.x + r + 1] = 1
        else:
            h, w = (torch.randint(size // 8, size, (2,), generator=generator)).tolist()
            y = int(torch.randint(0, size - h + 1, (), generator=generator))
            x = int(torch.randint(0, size - w + 1, (), generator=generator))
            masks[i, :, y : y + h, x : x + w] = 1
    return masks


def _schedule(zero_snr: bool) -> dict:
    """SD's noise schedule; with `zero_snr`, rescaled so that t = T is pure noise (Lin et al. 2024, "Common
    diffusion noise schedules and sample steps are flawed"), which needs v-prediction and sampling from t = T."""
    schedule = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    if zero_snr:
        schedule.update(rescale_betas_zero_snr=True, prediction_type="v_prediction", timestep_spacing="trailing")
    return schedule


def sample_timesteps(n: int, generator: torch.Generator, layout_focus: float = 0.0) -> torch.Tensor:
    """Uniform training timesteps, of which a `layout_focus` share is redrawn from [LAYOUT_STEPS_FROM, 1000)."""
    t = torch.randint(0, 1000, (n,), generator=generator)
    if layout_focus:
        focused = torch.rand(n, generator=generator) < layout_focus
        t = torch.where(focused, torch.randint(LAYOUT_STEPS_FROM, 1000, (n,), generator=generator), t)
    return t


def release_uses_zero_snr(sd: Path) -> bool:
    """Whether the released `shapes-sd` at `sd` is the zero-terminal-SNR, v-prediction kind (its scheduler says)."""
    schedule = json.loads((sd / "scheduler" / "scheduler_config.json").read_text())
    return bool(schedule.get("rescale_betas_zero_snr", False)) and schedule.get("prediction_type") == "v_prediction"


def train_unet(config: TrainConfig, inpaint: bool = False) -> None:
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPModel, CLIPTextModel

    torch.manual_seed(config.seed)
    sd = ASSETS / "shapes-sd"
    vae = AutoencoderKL.from_pretrained(sd / "vae", use_safetensors=True).eval().requires_grad_(False)
    tokenizer = build_tokenizer()
    if inpaint or config.from_release:
        # Continued training (and the inpainting UNet) keeps the released model's noise schedule and prediction type:
        # training a v-prediction release on the epsilon objective silently turns it into another model.
        released = ASSETS / "shapes-sd-inpaint" if inpaint and config.from_release else sd
        config.zero_snr = release_uses_zero_snr(released)
    if inpaint and config.from_release:
        text_encoder = CLIPTextModel.from_pretrained(released / "text_encoder", use_safetensors=True)
        unet = UNet2DConditionModel.from_pretrained(released / "unet", use_safetensors=True, dtype=torch.float32)
    elif inpaint:
        text_encoder = CLIPTextModel.from_pretrained(sd / "text_encoder", use_safetensors=True)
        base = UNet2DConditionModel.from_pretrained(sd / "unet", use_safetensors=True)
        unet = UNet2DConditionModel(**unet_config(in_channels=9))
        state = base.state_dict()
        weight = state["conv_in.weight"]
        state["conv_in.weight"] = torch.cat([weight, torch.zeros(weight.shape[0], 5, *weight.shape[2:])], dim=1)
        unet.load_state_dict(state)
    elif config.from_release:
        text_encoder = CLIPTextModel.from_pretrained(sd / "text_encoder", use_safetensors=True)
        unet = UNet2DConditionModel.from_pretrained(sd / "unet", use_safetensors=True, dtype=torch.float32)
    else:
        # The text tower of the bundled CLIP starts the text encoder (as SD starts from OpenAI's CLIP).
        clip = CLIPModel.from_pretrained(ASSETS / "shapes-clip", use_safetensors=True)
        text_encoder = CLIPTextModel(clip.config.text_config)
        text_encoder.load_state_dict(clip.text_model.state_dict())
        unet = UNet2DConditionModel(**unet_config())
    if config.init_synonyms:
        init_synonym_embeddings(text_encoder, tokenizer)
    grow_vocabulary(text_encoder, tokenizer, config.seed)
    ema_unet, ema_text = copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(text_encoder).requires_grad_(False)
    noise_scheduler = DDPMScheduler(**_schedule(config.zero_snr))
    alphas = noise_scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    if config.zero_snr:
        # Min-SNR-5 for the v objective, floored at 1 so that t = T (SNR 0, where the layout is decided) counts fully.
        weights_by_t = torch.clamp(snr + 1, max=5.0) / (snr + 1)
    else:
        # Min-SNR-5 weighting (Hang et al. 2023) for faster convergence of the epsilon objective.
        weights_by_t = torch.clamp(snr, max=5.0) / snr
    params = [
        {"params": unet.parameters(), "lr": config.lr},
        {"params": text_encoder.parameters(), "lr": config.lr / 3},
    ]
    modules = {"unet": unet, "text_encoder": text_encoder, "ema_unet": ema_unet, "ema_text": ema_text}
    trainer = Trainer(config, modules, params)
    scale = vae.config.scaling_factor

    def loss_fn(step: int):
        generator = torch.Generator().manual_seed(config.seed * 7919 + step)
        images, captions, examples = training_batch(config, config.seed, step)
        captions = phrase_some(captions, [e.scene for e in examples], config.phrasing_share, f"{config.seed} {step}")
        drop = torch.rand(len(captions), generator=generator) < config.caption_drop
        captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
        with torch.no_grad():
            latents = vae.encode(images).latent_dist.sample(generator) * scale
        context = text_encoder(token_ids(tokenizer, captions))[0]
        noise = torch.randn(latents.shape, generator=generator)
        # (draws the same numbers as the HIGH_T environment variable that stood in for --layout-focus before)
        t = sample_timesteps(len(captions), generator, config.layout_focus)
        noisy = noise_scheduler.add_noise(latents, noise, t)
        if inpaint:
            masks = _random_masks(step, [e.layout for e in examples], images.shape[-1])
            with torch.no_grad():
                masked = vae.encode(images * (masks < 0.5)).latent_dist.mode() * scale
            small = F.interpolate(masks, size=latents.shape[-2:])
            noisy = torch.cat([noisy, small, masked], dim=1)
        prediction = unet(noisy, t, context).sample
        target = noise_scheduler.get_velocity(latents, noise, t) if config.zero_snr else noise
        loss = (weights_by_t[t] * F.mse_loss(prediction, target, reduction="none").mean(dim=(1, 2, 3))).mean()
        return loss, {}

    pairs = [(ema_unet, unet), (ema_text, text_encoder)]

    def after_step() -> None:
        ema_step(pairs, config.ema_decay, trainer.step)
        done = trainer.step + 1  # the trainer counts the step after this call
        if config.snapshot_every and done % config.snapshot_every == 0:
            folder = trainer.dir / "snapshots" / f"step-{done}"
            _save_sd_folder(ema_unet, ema_text, vae, tokenizer, config, done, inpaint, root=folder)
            logger.info("snapshot at step %d in %s", done, folder)

    trainer.run(loss_fn, after_step=after_step)
    _save_sd_folder(ema_unet, ema_text, vae, tokenizer, config, trainer.step, inpaint)


def read_as_canonical_loss(predict, canonical_context, phrased_context, latents, t, noise_scheduler, generator):
    """Distillation that teaches a text encoder to read each phrasing as the original encoder reads the canonical
    caption: the frozen denoiser's prediction `predict(noisy, t, context)` from `canonical_context` (the original
    encoder's reading of the canonical caption) is the target for its prediction from `phrased_context` (the tuned
    encoder's reading of the phrasing), on the same noisy latents."""
    with torch.no_grad():
        noisy = noise_scheduler.add_noise(latents, torch.randn(latents.shape, generator=generator), t)
        target = predict(noisy, t, canonical_context)
    return F.mse_loss(predict(noisy, t, phrased_context), target)


def train_text(config: TrainConfig, inpaint: bool = False) -> None:
    """Tunes the released `shapes-sd`'s text encoder alone (`inpaint`: `shapes-sd-inpaint`'s) to read other
    phrasings as it reads the canonical caption, by distillation (`read_as_canonical_loss`); the UNet and VAE stay
    frozen. Trained jointly with the UNet on phrased captions, stage 14 drew paraphrased pairs of objects right 0.76
    of the time against 0.88 canonical: the UNet's words were learned on the canonical captions and other phrasings
    reached it less sharply. This closed that gap (-0.03) but the shared encoder's canonical readings moved too:
    two objects 0.88 -> 0.82 (0.78 with pairs said the other way round).

    `anchor` adds that weight times the drift of the canonical captions' hidden states (and the empty prompt's) from
    the original encoder's: the denoiser's loss alone holds them only through the UNet, and they drifted by 1 % of
    their energy in 600 steps. At 0.05 the canonical scores held (0.95 / 0.87) and the two-object gap stayed -0.08."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(config.seed)
    folder = ASSETS / ("shapes-sd-inpaint" if inpaint else "shapes-sd")
    vae = AutoencoderKL.from_pretrained(folder / "vae", use_safetensors=True).eval().requires_grad_(False)
    unet = UNet2DConditionModel.from_pretrained(folder / "unet", use_safetensors=True, dtype=torch.float32)
    unet.eval().requires_grad_(False)
    text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", use_safetensors=True)
    tokenizer = build_tokenizer()
    if config.count_fraction and text_encoder.config.vocab_size < len(tokenizer):
        # The teacher would read "three" through a row its UNet never learned: there is nothing to distil.
        raise SystemExit(
            f"{folder.name}'s text encoder predates the counting words; train its UNet on counts first "
            "(--count-fraction), or leave --count-fraction out here"
        )
    config.zero_snr = release_uses_zero_snr(folder)
    noise_scheduler = DDPMScheduler(**_schedule(config.zero_snr))
    scale = vae.config.scaling_factor

    def denoiser(images, examples, generator, step):
        with torch.no_grad():
            latents = vae.encode(images).latent_dist.sample(generator) * scale
        predict = lambda noisy, t, context: unet(noisy, t, context).sample  # noqa: E731
        if inpaint:
            masks = _random_masks(step, [e.layout for e in examples], images.shape[-1])
            with torch.no_grad():
                masked = vae.encode(images * (masks < 0.5)).latent_dist.mode() * scale
            extra = torch.cat([F.interpolate(masks, size=latents.shape[-2:]), masked], dim=1)
            predict = lambda noisy, t, context: unet(torch.cat([noisy, extra], dim=1), t, context).sample  # noqa: E731
        t = sample_timesteps(len(images), generator, config.layout_focus)
        return predict, latents, t

    # Half the phrased pairs are said the other way round ("b below a" read as "a above b"), as people do: the
    # teacher's canonical reading says what picture they ask for.
    distil_text_encoder(
        config,
        text_encoder,
        tokenizer,
        denoiser,
        noise_scheduler,
        folder / "text_encoder",
        data_seeds=(29, 71),
        converse_share=0.5,
    )


def distil_text_encoder(
    config: TrainConfig,
    text_encoder,
    tokenizer,
    denoiser,
    noise_scheduler,
    save_to: Path,
    data_seeds: tuple[int, int],
    converse_share: float = 0.0,
) -> None:
    """The loop `train text` and the unCLIP decoder's text tuning share: a frozen teacher copy of `text_encoder`
    reads each batch's canonical captions, the live encoder their phrasings (`config.phrasing_share` of them,
    `converse_share` of the pairs said the other way round), and `read_as_canonical_loss` pulls the second towards
    the first through the frozen denoiser; `config.anchor` also holds the live encoder's reading of the canonical
    captions. Saves the EMA encoder to `save_to`, with its training facts.

    `denoiser(images, examples, generator, step)` returns `(predict, latents, t)` for a batch: `predict(noisy, t,
    context)` is the frozen model's prediction. `data_seeds` offset the batch seed and the step generator's seed."""
    text_encoder.train()
    teacher = copy.deepcopy(text_encoder).eval().requires_grad_(False)
    ema_text = copy.deepcopy(text_encoder).requires_grad_(False)
    trainer = Trainer(config, {"text_encoder": text_encoder, "ema_text": ema_text}, text_encoder.parameters())
    batch_offset, generator_offset = data_seeds

    def loss_fn(step: int):
        generator = torch.Generator().manual_seed(config.seed * 7919 + step + generator_offset)
        images, captions, examples = training_batch(config, config.seed + batch_offset, step)
        scenes = [e.scene for e in examples]
        key = f"{config.seed} {step}"
        phrased = phrase_some(captions, scenes, config.phrasing_share, key, converse_share=converse_share)
        drop = (torch.rand(len(captions), generator=generator) < config.caption_drop).tolist()
        captions, phrased = (["" if d else c for c, d in zip(texts, drop)] for texts in (captions, phrased))
        predict, latents, t = denoiser(images, examples, generator, step)
        with torch.no_grad():
            canonical = teacher(token_ids(tokenizer, captions))[0]
        phrasing = text_encoder(token_ids(tokenizer, phrased))[0]
        loss = read_as_canonical_loss(predict, canonical, phrasing, latents, t, noise_scheduler, generator)
        if not config.anchor:
            return loss, {}
        drift = F.mse_loss(text_encoder(token_ids(tokenizer, captions))[0], canonical)
        return loss + config.anchor * drift, {"drift": drift.item()}

    trainer.run(loss_fn, after_step=lambda: ema_step([(ema_text, text_encoder)], config.ema_decay, trainer.step))
    ema_text.save_pretrained(save_to, safe_serialization=True)
    _write_training_facts(save_to, config, trainer.step)
    logger.info("saved the text encoder in %s at step %d", save_to, trainer.step)


def init_synonym_embeddings(text_encoder, tokenizer) -> list[str]:
    """Copies each synonym's token embedding from the word it folds into (`grammar.SYNONYMS`: "box" from "square",
    "beneath" from "below"...), and "one" from "a". Only words that `describe` never writes are touched, so the
    canonical captions encode exactly as before; returns the words changed."""
    from .grammar import SYNONYMS

    pairs = dict(SYNONYMS) | {"one": "a"}
    table = text_encoder.get_input_embeddings().weight
    changed = []
    with torch.no_grad():
        for word, canonical in pairs.items():
            table[tokenizer.convert_tokens_to_ids(word)] = table[tokenizer.convert_tokens_to_ids(canonical)]
            changed.append(word)
    logger.info("synonym embeddings initialised from their words: %s", ", ".join(changed))
    return changed


def grow_vocabulary(text_encoder, tokenizer, seed: int) -> list[str]:
    """Adds embedding rows for the words a released text encoder predates (the counting words, appended last to the
    vocabulary): each plural starts from its singular ("boxes" from "box"), each number from "one" plus a little
    seeded noise, so that "two" and "three" can part. Rows of known words are untouched; returns the words added."""
    from .grammar import NUMBERS, PLURALS

    old = text_encoder.get_input_embeddings().weight.shape[0]
    if old >= len(tokenizer):
        return []
    text_encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    table = text_encoder.get_input_embeddings().weight
    noise = torch.Generator().manual_seed(seed)
    added = tokenizer.convert_ids_to_tokens(list(range(old, len(tokenizer))))
    with torch.no_grad():
        for word in added:
            source = table[tokenizer.convert_tokens_to_ids(PLURALS.get(word, "one"))]
            jitter = 0.3 * source.norm() / source.numel() ** 0.5 if word in NUMBERS else 0.0
            table[tokenizer.convert_tokens_to_ids(word)] = source + jitter * torch.randn(source.shape, generator=noise)
    logger.info("text encoder vocabulary grown from %d to %d: %s", old, len(tokenizer), ", ".join(added))
    return added


def _save_sd_folder(
    unet, text_encoder, vae, tokenizer, config: TrainConfig, step: int, inpaint: bool, root: Path | None = None
) -> None:
    """Saves the pipeline folder into `root` (default: ASSETS, the release) as shapes-sd or shapes-sd-inpaint."""
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionInpaintPipeline, StableDiffusionPipeline

    scheduler = DPMSolverMultistepScheduler(**_schedule(config.zero_snr), algorithm_type="dpmsolver++", solver_order=2)
    cls = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    pipe = cls(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    out = (root or ASSETS) / ("shapes-sd-inpaint" if inpaint else "shapes-sd")
    pipe.save_pretrained(out, safe_serialization=True)
    # The UNet is stored in half precision (12 MB instead of 24); diffusers loads it back as float32. A copy is
    # halved, so that a snapshot taken mid-run leaves the EMA weights in full precision.
    copy.deepcopy(unet).to(torch.float16).save_pretrained(out / "unet", safe_serialization=True)
    _write_training_facts(out / "unet", config, step)


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=sorted(DEFAULTS))
    parser.add_argument("--steps", type=int, help="total optimiser steps (default per model)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="peak learning rate (default per model; lower to fine-tune)")
    parser.add_argument("--minutes", type=float, default=90.0, help="wall-time bound of this run")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--from-release",
        action="store_true",
        help="unet, inpaint, clip, vae (its decoder): start from the released weights",
    )
    parser.add_argument("--assets-dir", type=Path, default=ASSETS, help="where to save the released models")
    parser.add_argument("--zero-snr", action="store_true", help="unet: zero-terminal-SNR, v-prediction")
    parser.add_argument("--runs-dir", type=Path, default=RUNS, help="where to keep checkpoints and logs")
    parser.add_argument("--seed", type=int, default=0, help="data and initialisation seed (vary it to continue a run)")
    parser.add_argument(
        "--two-object-fraction", type=float, default=0.4, help="unet/inpaint: share of two-object training scenes"
    )
    parser.add_argument(
        "--count-fraction", type=float, default=0.0, help="unet/inpaint/vae: share of counts ('three blue squares')"
    )
    parser.add_argument(
        "--count-size-share",
        type=float,
        default=COUNT_SIZE_SHARE,
        help="unet/inpaint: share of the counts whose caption says their size ('three large blue squares')",
    )
    parser.add_argument(
        "--layout-focus",
        type=float,
        default=0.0,
        help=f"unet/inpaint: share of timesteps drawn from t >= {LAYOUT_STEPS_FROM} (layout, relations)",
    )
    parser.add_argument(
        "--phrasing-share",
        type=float,
        default=0.0,
        help="unet/inpaint/clip: share of captions written in a random phrasing the grammar reads (phrasing.py)",
    )
    parser.add_argument(
        "--init-synonyms",
        action="store_true",
        help="unet --from-release: never-trained synonyms' embeddings start from their words' ('box' <- 'square')",
    )
    parser.add_argument(
        "--anchor", type=float, default=0.0, help="text: weight of keeping the canonical captions' readings"
    )
    parser.add_argument("--snapshot-every", type=int, default=0, help="unet: save the EMA pipeline every N steps")
    parser.add_argument("--started-from", default="", help="text recorded in training.json: what this stage continued")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The model's defaults with what the command line sets."""
    config = replace(DEFAULTS[args.model])
    config.minutes = args.minutes
    if args.steps:
        config.steps = args.steps
    if args.batch_size:
        config.batch_size = args.batch_size
    if args.lr:
        config.lr = args.lr
    config.from_release = args.from_release
    config.zero_snr = args.zero_snr
    config.seed = args.seed
    config.two_object_fraction = args.two_object_fraction
    config.layout_focus = args.layout_focus
    config.count_fraction = args.count_fraction
    config.count_size_share = args.count_size_share
    config.phrasing_share = args.phrasing_share
    config.init_synonyms = args.init_synonyms
    config.snapshot_every = args.snapshot_every
    config.anchor = args.anchor
    config.started_from = args.started_from
    return config


def main() -> None:
    global ASSETS, RUNS
    args = argument_parser().parse_args()
    ASSETS, RUNS = args.assets_dir, args.runs_dir
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = config_from_args(args)
    trainers = {
        "clip": train_clip,
        "vae": train_vae,
        "unet": train_unet,
        "inpaint": partial(train_unet, inpaint=True),
        "text": train_text,
        "inpaint-text": partial(train_text, inpaint=True),
    }
    trainers[args.model](config)


if __name__ == "__main__":
    main()
