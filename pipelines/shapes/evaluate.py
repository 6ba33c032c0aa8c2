"""Scores the bundled shapes models on the held-out prompt set and prints one table.

    python -m pipelines.shapes.evaluate            # print the table
    python -m pipelines.shapes.evaluate --write    # also write eval.json and the model cards

Held-out prompts use attribute combinations never drawn in training (see `world.py`), at fixed seeds
and the studio's default settings for the bundled model (DPM++ 2M, 20 steps, CFG scale 5).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from .grammar import PLACES, Scene, ShapeSpec, describe
from .judge import judge
from .world import held_out_prompts, sample_example

logger = logging.getLogger(__name__)
ASSETS = Path("assets/models")
DEFAULT_STEPS = 20
DEFAULT_CFG = 5.0
SEEDS = (0, 1, 2, 3)


def load_text_to_image(folder: Path):
    """The bundled text-to-image pipeline, loaded the way any diffusers folder is."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline.from_pretrained(folder, use_safetensors=True, local_files_only=True)


def generate(pipe, prompt: str, seeds=SEEDS, steps: int = DEFAULT_STEPS, cfg: float = DEFAULT_CFG) -> list[np.ndarray]:
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    result = pipe(
        prompt,
        num_images_per_prompt=len(seeds),
        generator=generators,
        num_inference_steps=steps,
        guidance_scale=cfg,
        output_type="np",
    )
    return [(image * 255).round().astype(np.uint8) for image in result.images]


def text_to_image_scores(pipe, prompts: list[str], seeds=SEEDS, steps=DEFAULT_STEPS, cfg=DEFAULT_CFG) -> dict:
    """Judge pass rates over `prompts` x `seeds`, split by one- and two-object prompts."""
    passed: dict[str, list[bool]] = defaultdict(list)
    for prompt in prompts:
        for image in generate(pipe, prompt, seeds, steps, cfg):
            verdict = judge(image, prompt)
            group = "one" if len(verdict.checks) and "relation" not in verdict.checks else "two"
            for name, ok in verdict.checks.items():
                passed[f"{group}/{name}"].append(ok)
            passed[f"{group}/all"].append(verdict.all_correct)
    return {key: round(float(np.mean(values)), 3) for key, values in sorted(passed.items())} | {
        "images": len(prompts) * len(seeds)
    }


def full_caption(example) -> str:
    """A caption naming every attribute of a drawn example (place and size included)."""
    if example.scene.relation is not None:
        objects = tuple(ShapeSpec(s.colour, s.shape) for s in example.layout)
        return describe(Scene(objects, example.scene.relation))
    (shape,) = example.layout
    place = min(PLACES, key=lambda p: (PLACES[p][0] - shape.x) ** 2 + (PLACES[p][1] - shape.y) ** 2)
    return describe(Scene((ShapeSpec(shape.colour, shape.shape, shape.size, place),)))


def clip_retrieval_accuracy(clip_folder: Path, count: int = 400) -> float:
    """Zero-shot caption retrieval on held-out ground-truth images: the share of images whose own full
    caption is CLIP's best match among all the distinct full captions of the set."""
    from ..clip_score import ClipScorer

    scorer = ClipScorer(clip_folder)
    rng = random.Random(99)
    examples = [sample_example(rng, "held_out") for _ in range(count)]
    truths = [full_caption(e) for e in examples]
    candidates = sorted(set(truths))
    best = []
    for start in range(0, count, 100):
        best += scorer.best_captions([e.image for e in examples[start : start + 100]], candidates)
    return round(float(np.mean([b == t for b, t in zip(best, truths)])), 3)


def vae_psnr(vae_folder: Path, count: int = 256) -> float:
    """Reconstruction PSNR (dB, images in [0, 255]) of the autoencoder on held-out images."""
    from diffusers import AutoencoderKL

    from .data import draw_batch

    vae = AutoencoderKL.from_pretrained(vae_folder, use_safetensors=True).eval()
    images, _, _ = draw_batch(seed=12345, step=0, batch_size=count, split="held_out")
    with torch.no_grad():
        reconstruction = vae.decode(vae.encode(images).latent_dist.mode()).sample.clamp(-1, 1)
    mse = float(((reconstruction - images) / 2 * 255).pow(2).mean())
    return round(10 * np.log10(255**2 / mse), 2)


def evaluate(assets: Path = ASSETS) -> dict:
    results: dict = {}
    sd = assets / "shapes-sd"
    if (sd / "vae").exists():
        results["vae_psnr_db"] = vae_psnr(sd / "vae")
    if (assets / "shapes-clip").exists():
        results["clip_retrieval_top1"] = clip_retrieval_accuracy(assets / "shapes-clip")
    if (sd / "unet").exists():
        pipe = load_text_to_image(sd)
        start = time.perf_counter()
        results["text_to_image"] = text_to_image_scores(pipe, held_out_prompts())
        results["text_to_image"]["seconds_per_image"] = round(
            (time.perf_counter() - start) / results["text_to_image"]["images"], 3
        )
    return results


def format_table(results: dict) -> str:
    rows = [("metric", "value")]
    for key, value in results.items():
        if isinstance(value, dict):
            rows += [(f"{key} {k}", str(v)) for k, v in value.items()]
        else:
            rows.append((key, str(value)))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets-dir", type=Path, default=ASSETS)
    parser.add_argument("--write", action="store_true", help="write eval.json and the model cards")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    results = evaluate(args.assets_dir)
    print(format_table(results))
    if args.write:
        path = args.assets_dir / "eval.json"
        # Keeps what other commands measured (the inpainting bench's numbers), replacing only what this one did.
        results = (json.loads(path.read_text()) if path.exists() else {}) | results
        path.write_text(json.dumps(results, indent=2) + "\n")
        from .model_cards import write_cards

        write_cards(args.assets_dir, results)


if __name__ == "__main__":
    main()
