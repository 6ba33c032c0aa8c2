"""Scores the bundled shapes models on the held-out prompt set and prints one table.

    python -m pipelines.shapes.evaluate            # print the table
    python -m pipelines.shapes.evaluate --write    # also write eval.json and the model cards
    python -m pipelines.shapes.evaluate --only text_to_image --seeds 4-7 --assets-dir runs/s8/unet/snapshots/step-500
    python -m pipelines.shapes.evaluate --only counting   # the counting splits alone
    python -m pipelines.shapes.evaluate --only counting --misses   # and which prompts and seeds the judge failed

Two splits of the same held-out scenes: `text_to_image` (the canonical captions `describe` writes) and
`text_to_image_paraphrase` (each written in a fixed seeded non-canonical phrasing, `world.held_out_paraphrases`),
printed side by side per skill; and the same two for counting (`text_to_image_counting[_paraphrase]`: held-out
(colour, shape, count) triples, "three blue triangles", skills under "many/").

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

from .grammar import PLACES, Scene, ShapeSpec, describe, parse_caption
from .judge import judge
from .world import PARAPHRASE_SEED, held_out_counting_prompts, held_out_paraphrases, held_out_prompts, sample_example

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


def text_to_image_scores(
    pipe, prompts: list[str], seeds=SEEDS, steps=DEFAULT_STEPS, cfg=DEFAULT_CFG, misses: list | None = None
) -> dict:
    """Judge pass rates over `prompts` x `seeds`, split by one- and two-object prompts; each image not all right is
    added to `misses` (when given) as (prompt, seed, the verdict's summary)."""
    passed: dict[str, list[bool]] = defaultdict(list)
    for prompt in prompts:
        for seed, image in zip(seeds, generate(pipe, prompt, seeds, steps, cfg)):
            verdict = judge(image, prompt)
            if misses is not None and not verdict.all_correct:
                misses.append((prompt, seed, verdict.summary()))
            group = skill_group(parse_caption(prompt))
            for name, ok in verdict.checks.items():
                passed[f"{group}/{name}"].append(ok)
            passed[f"{group}/all"].append(verdict.all_correct)
    return {key: round(float(np.mean(values)), 3) for key, values in sorted(passed.items())} | {
        "images": len(prompts) * len(seeds)
    }


def skill_group(scene: Scene) -> str:
    """'one' object, 'two' in a relation, or 'many' copies of one kind."""
    return "two" if scene.relation is not None else "many" if scene.object_count > 1 else "one"


def full_caption(example) -> str:
    """A caption naming every attribute of a drawn example (place and size included)."""
    if example.scene.relation is not None:
        objects = tuple(ShapeSpec(s.colour, s.shape) for s in example.layout)
        return describe(Scene(objects, example.scene.relation))
    (shape,) = example.layout
    place = min(PLACES, key=lambda p: (PLACES[p][0] - shape.x) ** 2 + (PLACES[p][1] - shape.y) ** 2)
    return describe(Scene((ShapeSpec(shape.colour, shape.shape, shape.size, place),)))


def clip_retrieval_accuracy(clip_folder: Path, count: int = 400, paraphrased: bool = False) -> float:
    """Zero-shot caption retrieval on held-out ground-truth images: the share of images whose own full
    caption is CLIP's best match among all the distinct full captions of the set. `paraphrased`: every distinct
    caption is written in one seeded non-canonical phrasing instead (the paraphrase split of the text tower)."""
    from ..clip_score import ClipScorer
    from .phrasing import phrase_other_than_canonical

    scorer = ClipScorer(clip_folder)
    rng = random.Random(99)
    examples = [sample_example(rng, "held_out") for _ in range(count)]
    truths = [full_caption(e) for e in examples]
    if paraphrased:
        phrasings = random.Random(PARAPHRASE_SEED)
        other = {t: phrase_other_than_canonical(parse_caption(t), phrasings) for t in sorted(set(truths))}
        truths = [other[t] for t in truths]
    candidates = sorted(set(truths))
    best = []
    for start in range(0, count, 100):
        best += scorer.best_captions([e.image for e in examples[start : start + 100]], candidates)
    return round(float(np.mean([b == t for b, t in zip(best, truths)])), 3)


def vae_psnr(vae_folder: Path, count: int = 256, counts_only: bool = False) -> float:
    """Reconstruction PSNR (dB, images in [0, 255]) of the autoencoder on held-out images (`counts_only`: on held-out
    counts of one kind, "three large squares", whose large flat areas are the hardest to reconstruct)."""
    from diffusers import AutoencoderKL

    from .data import draw_batch

    vae = AutoencoderKL.from_pretrained(vae_folder, use_safetensors=True).eval()
    images, _, _ = draw_batch(
        seed=12345, step=0, batch_size=count, split="held_out", count_fraction=1.0 if counts_only else 0.0
    )
    with torch.no_grad():
        reconstruction = vae.decode(vae.encode(images).latent_dist.mode()).sample.clamp(-1, 1)
    mse = float(((reconstruction - images) / 2 * 255).pow(2).mean())
    return round(10 * np.log10(255**2 / mse), 2)


PARTS = ("vae", "clip", "text_to_image", "counting", "words")
DEFAULT_PARTS = ("vae", "clip", "text_to_image", "counting")
SPLITS = {  # part -> split -> its prompts
    "text_to_image": {"text_to_image": held_out_prompts, "text_to_image_paraphrase": held_out_paraphrases},
    "counting": {
        "text_to_image_counting": held_out_counting_prompts,
        "text_to_image_counting_paraphrase": lambda: held_out_paraphrases(prompts=held_out_counting_prompts()),
    },
}


def evaluate(assets: Path = ASSETS, seeds=SEEDS, parts=DEFAULT_PARTS, misses: dict | None = None) -> dict:
    """Scores the models in `assets`; `misses` (when given) gets, per split, the images the judge found wrong."""
    results: dict = {}
    sd = assets / "shapes-sd"
    if "vae" in parts and (sd / "vae").exists():
        results["vae_psnr_db"] = vae_psnr(sd / "vae")
        results["vae_psnr_counts_db"] = vae_psnr(sd / "vae", counts_only=True)
    if "clip" in parts and (assets / "shapes-clip").exists():
        results["clip_retrieval_top1"] = clip_retrieval_accuracy(assets / "shapes-clip")
        results["clip_retrieval_top1_paraphrase"] = clip_retrieval_accuracy(assets / "shapes-clip", paraphrased=True)
    splits = {name: prompts for part in parts for name, prompts in SPLITS.get(part, {}).items()}
    if splits and (sd / "unet").exists():
        pipe = load_text_to_image(sd)
        pipe.set_progress_bar_config(disable=True)
        for split, prompts in splits.items():
            start = time.perf_counter()
            missed = misses.setdefault(split, []) if misses is not None else None
            results[split] = text_to_image_scores(pipe, prompts(), seeds, misses=missed)
            results[split]["seconds_per_image"] = round((time.perf_counter() - start) / results[split]["images"], 3)
    if "words" in parts and (sd / "unet").exists():
        results["paraphrase_words"] = word_scores(load_text_to_image(sd))
    return results


def word_scores(pipe, count: int = 200, seed: int = 23) -> dict:
    """Which words of the paraphrases the model follows: random held-out scenes, each drawn (seed 0) from its
    canonical caption and from a random other phrasing; per word of the phrasings, the share of its images judged
    all right and the same share for the canonical captions of the same scenes (a gap says the word is not learned).
    """
    from .grammar import COLOURS, SHAPES, words_of
    from .phrasing import phrase_other_than_canonical

    pipe.set_progress_bar_config(disable=True)
    rng = random.Random(seed)
    by_word: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for _ in range(count):
        scene = sample_example(rng, "held_out").scene
        canonical, paraphrase = describe(scene), phrase_other_than_canonical(scene, rng)
        right = [judge(generate(pipe, text, seeds=(0,))[0], text).all_correct for text in (canonical, paraphrase)]
        for word in set(words_of(paraphrase)) - set(COLOURS) - set(SHAPES):
            by_word[word].append((right[0], right[1]))
    rows = {}
    for word, pairs in sorted(by_word.items(), key=lambda kv: -len(kv[1])):
        canonical_rate, paraphrase_rate = (float(np.mean([p[i] for p in pairs])) for i in (0, 1))
        rows[word] = {"n": len(pairs), "canonical": round(canonical_rate, 3), "paraphrase": round(paraphrase_rate, 3)}
    return rows


def side_by_side(results: dict, split: str = "text_to_image") -> str:
    """Canonical and paraphrase scores per skill, with the gap (paraphrase minus canonical)."""
    canonical, paraphrase = results.get(split, {}), results.get(f"{split}_paraphrase", {})
    keys = [k for k in canonical if "/" in k]
    rows = [("skill", "canonical", "paraphrase", "gap")]
    rows += [
        (k, str(canonical[k]), str(paraphrase.get(k, "n/a")), _gap(canonical[k], paraphrase.get(k))) for k in keys
    ]
    return "\n".join(f"{a:<14}{b:>10}{c:>12}{d:>8}" for a, b, c, d in rows)


def _gap(a, b) -> str:
    return f"{b - a:+.3f}" if isinstance(b, float | int) else "n/a"


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0-3' -> (0, 1, 2, 3); '4,5' -> (4, 5)."""
    if "-" in text:
        low, high = text.split("-")
        return tuple(range(int(low), int(high) + 1))
    return tuple(int(s) for s in text.split(","))


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
    parser.add_argument("--seeds", type=parse_seeds, default=SEEDS, help="e.g. 0-3 (the default) or 4-7")
    parser.add_argument(
        "--only", nargs="+", choices=PARTS, default=DEFAULT_PARTS, help="measure these parts ('words': per-word probe)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--misses", action="store_true", help="also list every image the judge found wrong")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.write and args.seeds != SEEDS:
        parser.error(f"--write records the card's seeds {SEEDS}; got --seeds {args.seeds}")
    misses: dict | None = {} if args.misses else None
    results = evaluate(args.assets_dir, args.seeds, args.only, misses)
    print(format_table(results))
    for split, rows in (misses or {}).items():
        print(f"{split}: {len(rows)} images not all right")
        print("\n".join(f"  {prompt!r} seed {seed}: {summary}" for prompt, seed, summary in rows))
    for split in ("text_to_image", "text_to_image_counting"):
        if split in results:
            print(side_by_side(results, split))
    if args.json:
        args.json.write_text(json.dumps(results | {"seeds": list(args.seeds)}, indent=2) + "\n")
    if args.write:
        path = args.assets_dir / "eval.json"
        # Keeps what other commands measured (the inpainting bench's numbers), replacing only what this one did.
        results = (json.loads(path.read_text()) if path.exists() else {}) | results
        path.write_text(json.dumps(results, indent=2) + "\n")
        from .model_cards import write_cards

        write_cards(args.assets_dir, results)


if __name__ == "__main__":
    main()
