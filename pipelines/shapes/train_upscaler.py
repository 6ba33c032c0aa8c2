"""Trains the bundled x4 upsampler (`assets/models/shapes-upscaler`): 64x64 shapes-world pictures -> 256x256.

    python -m pipelines.shapes.train_upscaler train [--minutes 60] [--threads 1]   # run again to resume
    python -m pipelines.shapes.train_upscaler card                                  # measure, write the card

The folder is a plain `StableDiffusionUpscalePipeline` (the structure of stabilityai/stable-diffusion-x4-upscaler),
the cascade's second stage of GLIDE, DALL-E 2 and Imagen: the low-resolution picture, noised to `noise_level` by
`low_res_scheduler`, is concatenated to the latents (UNet `in_channels` = 4 + 3) and the noise level is a class
label (`num_class_embeds`), so the model learns to ignore that much noise in its input: noise-conditioning
augmentation (Ho et al. 2021, Imagen), which lets it tolerate a base model's artefacts.

- The VAE is `shapes-sd`'s (a 4x autoencoder, so a 256x256 picture has 64x64 latents, the size of the input), its
  latents rescaled inside `quant_conv` / `post_quant_conv` so the pipeline's fixed `scaling_factor` 0.08333 gives
  them the scale `shapes-sd`'s UNet sees; the decoder is unchanged.
- The UNet has no attention: it is convolutional, so it trains on 128x128 crops (32x32 latents) and runs on the
  whole picture. The text encoder and tokenizer are `shapes-sd`'s, for the pipeline's prompt input; the UNet does
  not read the prompt (the picture says everything a shapes prompt would), so guidance scale 1 is its setting.
- Training pairs are the world's own renders of one scene at 64 and at 256 (`render.draw(size=256)`).
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import train as shapes_train
from .checkpoint import read_checkpoint
from .configs import upscaler_unet_config
from .data import batch_rng, images_to_tensor
from .render import draw
from .train import TrainConfig, Trainer, _write_training_facts, ema_step
from .world import sample_example

logger = logging.getLogger(__name__)
SOURCE = Path("assets/models")  # where shapes-sd is (its VAE, text encoder and tokenizer); --source-dir overrides
FACTOR = 4
HIGH = 256  # the upscaler's output side on shapes-world pictures
CROP = 128  # training crops of the 256 render (32x32 latents); the input crop is CROP / 4
PIPELINE_SCALING = 0.08333  # StableDiffusionUpscalePipeline resets any other VAE scaling factor to this
MAX_NOISE_LEVEL = 350  # as stable-diffusion-x4-upscaler
TWO_OBJECT_FRACTION = 0.5


def upscaler_config() -> TrainConfig:
    return TrainConfig("upscaler", steps=3000, batch_size=16, lr=3e-4, ema_decay=0.999)


def schedulers():
    """(sampling scheduler, training noise schedule, low-resolution noising), as the SD x4 upscaler has them."""
    from diffusers import DDIMScheduler, DDPMScheduler

    common = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    sampling = DDIMScheduler(
        **common, prediction_type="v_prediction", clip_sample=False, set_alpha_to_one=False, steps_offset=1
    )
    training = DDPMScheduler(**common, prediction_type="v_prediction")
    low_res = DDPMScheduler(beta_start=0.0001, beta_end=0.02, beta_schedule="linear", num_train_timesteps=1000)
    return sampling, training, low_res


def rescaled_vae(vae):
    """`vae` with latents k times larger, k = its scaling factor / 0.08333, so that latents x 0.08333 are what
    latents x its own factor were; reconstructions are unchanged (the decoder's input is divided by k again)."""
    k = vae.config.scaling_factor / PIPELINE_SCALING
    channels = vae.config.latent_channels
    with torch.no_grad():
        vae.quant_conv.weight[:channels] *= k  # the posterior's mean ...
        vae.quant_conv.bias[:channels] *= k
        vae.quant_conv.bias[channels:] += 2 * math.log(k)  # ... and its log-variance
        vae.post_quant_conv.weight /= k
    vae.register_to_config(scaling_factor=PIPELINE_SCALING)
    return vae


def loss_weights(snr: torch.Tensor) -> torch.Tensor:
    """Per-example weights of the v-prediction loss: min-SNR-5 (Hang et al. 2023) with a floor of 1 on the
    equivalent x0 weight, i.e. clamp(snr, 1, 5) / (snr + 1).

    Plain min-SNR gives the noisiest steps almost no weight (0.005 at t = 999), which suits a generator, whose
    x0 there is a guess. An upsampler's x0 is in its input: the first sampling steps set each object's colour
    from it, and without the floor they learned so little that whole objects came out in a neighbouring colour."""
    return torch.clamp(snr, min=1.0, max=5.0) / (snr + 1)


def warm_start(unet: torch.nn.Module, checkpoint: Path) -> tuple[int, list[str]]:
    """Loads the live UNet weights of another run's checkpoint into `unet`, those whose names and shapes match;
    returns (that run's step, the names of the parameters left as initialised)."""
    step, tensors = read_checkpoint(checkpoint)
    prefix = "unet/"
    own = unet.state_dict()
    found = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    matching = {k: v for k, v in found.items() if k in own and own[k].shape == v.shape}
    unet.load_state_dict(matching, strict=False)
    return step, sorted(set(own) - set(matching))


def scene_pair(rng: random.Random, split: str = "train") -> tuple[np.ndarray, np.ndarray, object]:
    """One scene drawn by the world at 64 and at 256 pixels: (low, high, example)."""
    example = sample_example(rng, split, TWO_OBJECT_FRACTION)
    return example.image, draw(example.layout, size=HIGH), example


def crop_batch(seed: int, step: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Aligned random crops: (low (B, 3, 32, 32), high (B, 3, 128, 128)) in [-1, 1]."""
    rng = batch_rng(seed, step)
    lows, highs = [], []
    small = CROP // FACTOR
    for _ in range(batch_size):
        low, high, _ = scene_pair(rng)
        x, y = rng.randrange(0, low.shape[1] - small + 1), rng.randrange(0, low.shape[0] - small + 1)
        lows.append(low[y : y + small, x : x + small])
        highs.append(high[y * FACTOR : (y + small) * FACTOR, x * FACTOR : (x + small) * FACTOR])
    return images_to_tensor(lows), images_to_tensor(highs)


def _base_components(source: Path):
    from diffusers import AutoencoderKL
    from transformers import AutoTokenizer, CLIPTextModel

    folder = source / "shapes-sd"
    vae = rescaled_vae(AutoencoderKL.from_pretrained(folder / "vae")).requires_grad_(False).eval()
    text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder").requires_grad_(False).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
    return vae, text_encoder, tokenizer


def train(config: TrainConfig, init_from: Path | None = None) -> None:
    """Trains (or resumes) the upscaler; `init_from`, another run's checkpoint, seeds a fresh run's UNet."""
    from diffusers import StableDiffusionUpscalePipeline, UNet2DConditionModel

    torch.manual_seed(config.seed)
    vae, text_encoder, tokenizer = _base_components(SOURCE)
    unet = UNet2DConditionModel(**upscaler_unet_config(HIGH // FACTOR))
    if init_from is not None:
        step, fresh = warm_start(unet, init_from)
        logger.info("started from %s; left as initialised: %s", init_from, ", ".join(fresh) or "nothing")
        config.started_from = config.started_from or (
            f"the UNet of an earlier run at step {step}" + (f", except {', '.join(fresh)}" if fresh else "")
        )
    ema_unet = copy.deepcopy(unet).requires_grad_(False)
    sampling, noise_schedule, low_res = schedulers()
    trainer = Trainer(config, {"unet": unet, "ema_unet": ema_unet}, unet.parameters())
    alphas = noise_schedule.alphas_cumprod
    snr = alphas / (1 - alphas)
    context = torch.zeros(1, 1, unet.config.cross_attention_dim)  # read by no block

    def loss_fn(step: int):
        generator = torch.Generator().manual_seed(config.seed * 7919 + step + 31)
        low, high = crop_batch(config.seed, step, config.batch_size)
        n = len(low)
        with torch.no_grad():
            latents = vae.encode(high).latent_dist.mode() * vae.config.scaling_factor
            levels = torch.randint(0, MAX_NOISE_LEVEL + 1, (n,), generator=generator)
            noised_low = low_res.add_noise(low, torch.randn(low.shape, generator=generator), levels)
        noise = torch.randn(latents.shape, generator=generator)
        t = torch.randint(0, 1000, (n,), generator=generator)
        noisy = noise_schedule.add_noise(latents, noise, t)
        target = noise_schedule.get_velocity(latents, noise, t)
        inputs = torch.cat([noisy, noised_low], dim=1)
        prediction = unet(inputs, t, context.expand(n, -1, -1), class_labels=levels).sample
        loss = (loss_weights(snr[t]) * F.mse_loss(prediction, target, reduction="none").mean(dim=(1, 2, 3))).mean()
        return loss, {}

    trainer.run(loss_fn, after_step=lambda: ema_step([(ema_unet, unet)], config.ema_decay, trainer.step))

    pipe = StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=ema_unet,
        low_res_scheduler=low_res,
        scheduler=sampling,
        max_noise_level=MAX_NOISE_LEVEL,
    )
    out = shapes_train.ASSETS / "shapes-upscaler"
    pipe.save_pretrained(out, safe_serialization=True)
    _write_training_facts(out / "unet", config, trainer.step)
    logger.info("saved %s at step %d", out, trainer.step)


def main() -> None:
    global SOURCE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["train", "card"], help="train (resumable), or measure and write the card")
    parser.add_argument("--steps", type=int, help="total optimiser steps")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--minutes", type=float, default=70.0, help="wall-time bound of this run")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--assets-dir", type=Path, default=shapes_train.ASSETS, help="where shapes-upscaler goes")
    parser.add_argument("--source-dir", type=Path, default=SOURCE, help="where shapes-sd is")
    parser.add_argument("--runs-dir", type=Path, default=shapes_train.RUNS)
    parser.add_argument(
        "--init-from", type=Path, help="a fresh run starts from this checkpoint's UNet (weights whose shapes match)"
    )
    args = parser.parse_args()
    shapes_train.ASSETS, shapes_train.RUNS, SOURCE = args.assets_dir, args.runs_dir, args.source_dir
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.action == "card":
        from .upscaler_quality import write_card

        write_card(shapes_train.ASSETS / "shapes-upscaler")
        return
    config = upscaler_config()
    config.minutes, config.seed = args.minutes, args.seed
    if args.steps:
        config.steps = args.steps
    if args.batch_size:
        config.batch_size = args.batch_size
    train(config, args.init_from)


if __name__ == "__main__":
    main()
