"""How well a x4 upscaler draws shapes-world pictures at 256x256, measured against the world's own 256 render.

    python -m pipelines.shapes.train_upscaler card   # measures `shapes-upscaler` and writes its card

Three measures on held-out scenes (attribute combinations no training image has), each beside bicubic
interpolation of the same 64x64 input:
- PSNR against `render.draw(layout, size=256)` of the same scene;
- the judge's verdict on the upscaled picture equals its verdict on the 64x64 input (every check the same);
- edge width: the 10-90 % rise, in 256-grid pixels, of the colour profile across each square's left and right
  sides (rows of the middle half, where no other shape is near); the world's render has ~1 px, bicubic ~4.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .grammar import BACKGROUND, COLOURS
from .judge import judge
from .render import draw
from .train_upscaler import FACTOR, HIGH
from .world import sample_example

PROFILE = 8  # pixels each side of an edge
EVAL_SEED = 123


@dataclass
class UpscalerScores:
    images: int
    psnr_db: float
    bicubic_psnr_db: float
    nearest_psnr_db: float
    judge_unchanged: float
    bicubic_judge_unchanged: float
    edge_width_px: float
    bicubic_edge_width_px: float
    reference_edge_width_px: float
    edges: int
    noise_level: int
    steps: int
    seconds_per_image: float


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def bicubic(low: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(low).resize((low.shape[1] * FACTOR, low.shape[0] * FACTOR), Image.BICUBIC))


def nearest(low: np.ndarray) -> np.ndarray:
    return low.repeat(FACTOR, axis=0).repeat(FACTOR, axis=1)


def _rise(profile: np.ndarray) -> float | None:
    """10-90 % rise distance of a 0 -> 1 profile (linear interpolation), None unless it starts low and ends high."""
    if profile[:2].max() > 0.1 or profile[-2:].min() < 0.9:
        return None

    def crossing(level: float) -> float:
        i = int(np.argmax(profile >= level))
        if i == 0:
            return 0.0
        a, b = profile[i - 1], profile[i]
        return i - 1 + (level - a) / max(b - a, 1e-6)

    return crossing(0.9) - crossing(0.1)


def edge_profiles(layout, size: int = HIGH):
    """(row, columns, background colour, object colour) across each square's left and right sides: the places
    where the world's render has a clean step (checked on the render itself by the caller)."""
    scale = size // 64
    for s in layout:
        if s.shape != "square":
            continue
        top, bottom = (s.y - s.radius) * scale, (s.y + s.radius + 1) * scale
        left, right = (s.x - s.radius) * scale, (s.x + s.radius + 1) * scale
        colour = np.array(COLOURS[s.colour], dtype=np.float64)
        quarter = (bottom - top) // 4
        for row in range(top + quarter, bottom - quarter, 2):
            if left - PROFILE >= 0:
                yield row, np.arange(left - PROFILE, left + PROFILE), colour
            if right + PROFILE <= size:
                yield row, np.arange(right + PROFILE - 1, right - PROFILE - 1, -1), colour


def edge_widths(image: np.ndarray, reference: np.ndarray, layout) -> list[float]:
    """Rise widths of `image` at every square side where `reference` (the world's render) has a clean step."""
    background = np.array(BACKGROUND, dtype=np.float64)
    widths = []
    for row, columns, colour in edge_profiles(layout, image.shape[0]):
        direction = colour - background
        norm = float(direction @ direction)
        if norm < 100:  # too little contrast to measure
            continue

        def projected(picture):
            return (picture[row, columns].astype(np.float64) - background) @ direction / norm

        if _rise(projected(reference)) is None:  # another shape is near: no clean step to compare with
            continue
        width = _rise(projected(image))
        if width is not None:
            widths.append(width)
    return widths


def held_out_scenes(count: int, seed: int = EVAL_SEED):
    rng = random.Random(seed)
    return [sample_example(rng, "held_out", two_object_fraction=0.5) for _ in range(count)]


def upscale_batches(pipe, pictures, noise_level: int, steps: int, batch: int = 8) -> list[Image.Image]:
    """Upscales (prompt, 64x64 picture) pairs with `pipe` (a StableDiffusionUpscalePipeline), `batch` at a time,
    picture i on seed i, guidance 1 (the bundled upscaler does not read the prompt)."""
    import torch

    out = []
    for first in range(0, len(pictures), batch):
        chunk = pictures[first : first + batch]
        with torch.inference_mode():
            out += pipe(
                prompt=[prompt for prompt, _ in chunk],
                image=[image for _, image in chunk],
                num_inference_steps=steps,
                guidance_scale=1.0,
                noise_level=noise_level,
                generator=[torch.Generator().manual_seed(first + i) for i in range(len(chunk))],
            ).images
    return out


def measure(pipe, count: int = 64, noise_level: int = 20, steps: int = 20, batch: int = 8) -> UpscalerScores:
    """Upscales `count` held-out scenes' 64x64 renders with `pipe` (a StableDiffusionUpscalePipeline)."""
    import time

    examples = held_out_scenes(count)
    start = time.perf_counter()
    pictures = [(e.caption, Image.fromarray(e.image)) for e in examples]
    images = upscale_batches(pipe, pictures, noise_level, steps, batch)
    seconds = (time.perf_counter() - start) / count
    ours, cubic, blocks, kept, kept_cubic = [], [], [], [], []
    widths, cubic_widths, reference_widths = [], [], []
    for example, image in zip(examples, images):
        upscaled, reference, baseline = np.asarray(image), draw(example.layout, size=HIGH), bicubic(example.image)
        ours.append(psnr(upscaled, reference))
        cubic.append(psnr(baseline, reference))
        blocks.append(psnr(nearest(example.image), reference))
        before = judge(example.image, example.caption).checks
        kept.append(judge(upscaled, example.caption).checks == before)
        kept_cubic.append(judge(baseline, example.caption).checks == before)
        widths += edge_widths(upscaled, reference, example.layout)
        cubic_widths += edge_widths(baseline, reference, example.layout)
        reference_widths += edge_widths(reference, reference, example.layout)
    return UpscalerScores(
        images=count,
        psnr_db=round(float(np.mean(ours)), 2),
        bicubic_psnr_db=round(float(np.mean(cubic)), 2),
        nearest_psnr_db=round(float(np.mean(blocks)), 2),
        judge_unchanged=round(float(np.mean(kept)), 3),
        bicubic_judge_unchanged=round(float(np.mean(kept_cubic)), 3),
        edge_width_px=round(float(np.median(widths)), 2) if widths else float("nan"),
        bicubic_edge_width_px=round(float(np.median(cubic_widths)), 2) if cubic_widths else float("nan"),
        reference_edge_width_px=round(float(np.median(reference_widths)), 2) if reference_widths else float("nan"),
        edges=len(reference_widths),
        noise_level=noise_level,
        steps=steps,
        seconds_per_image=round(seconds, 3),
    )


CARD = """---
library_name: diffusers
pipeline_tag: image-to-image
tags: [super-resolution, upscaler, shapes-world, cascade]
---
# shapes-upscaler

A x4 diffusion upsampler for the shapes world, 64x64 -> 256x256: the cascade's second stage (GLIDE, DALL-E 2,
Imagen), in the `StableDiffusionUpscalePipeline` format of `stabilityai/stable-diffusion-x4-upscaler`. The
low-resolution picture, noised to `noise_level` (0-350), is concatenated to the latents; the noise level is the
UNet's class label (noise-conditioning augmentation). {parameters:,} parameters; `shapes-sd`'s VAE (rescaled to the
pipeline's latent scale 0.08333), text encoder and tokenizer. The UNet has no attention and does not read the
prompt: use guidance scale 1.

{world}

Trained on pairs of the world's own renders of one scene at 64 and 256 pixels, on 128x128 crops, with a uniform
noise level per example.

## Scores

Held-out scenes' 64x64 renders, upscaled ({steps} DDIM steps, noise level {noise_level}, guidance 1), against the
world's 256x256 render of the same scene; bicubic interpolation of the same input beside it.

| measure | shapes-upscaler | bicubic |
|---|---|---|
| PSNR vs the 256 render (dB) | {psnr_db} | {bicubic_psnr_db} |
| judge's verdict unchanged (share of {images} images) | {judge_unchanged} | {bicubic_judge_unchanged} |
| edge width, px (the render's: {reference_edge_width_px}) | {edge_width_px} | {bicubic_edge_width_px} |
| seconds per image, this machine's CPU | {seconds_per_image} | |

Edge width: the 10-90 % rise of the colour profile across squares' left and right sides, in 256-grid pixels,
median of {edges} profiles.

Nearest-neighbour enlargement scores {nearest_psnr_db} dB: the world draws squares on its 64-pixel grid, so at 256
they are exact 4x4 blocks of the 64 render, and PSNR is dominated by the flat areas, which any upscaler that keeps
colours gets right; it is not a sharper picture (its circles and triangles are staircases).

## Reproduce

```
python -m pipelines.shapes.train_upscaler train   # resumable: run again to continue
python -m pipelines.shapes.train_upscaler card    # these scores
```

## Training facts

| fact | value |
|---|---|
{facts}
"""


def write_card(folder: Path) -> UpscalerScores:
    """Measures the upscaler in `folder`, writes `scores.json` and the model card (README.md)."""
    from diffusers import StableDiffusionUpscalePipeline

    from .model_cards import WORLD, _facts, _parameters

    pipe = StableDiffusionUpscalePipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    scores = measure(pipe)
    (folder / "scores.json").write_text(json.dumps(asdict(scores), indent=2) + "\n")
    text = CARD.format(
        parameters=_parameters(folder / "unet"),
        world=WORLD,
        facts=_facts(folder / "unet" / "training.json"),
        **asdict(scores),
    )
    (folder / "README.md").write_text(text)
    return scores
