"""Guidance methods on the bundled model, over the held-out prompt set, and the lab's batching speed-up.

    python -m bench.guidance_table            # the table (markdown) + the speed comparison
    python -m bench.guidance_table --quick    # fewer prompts, for a smoke run
    python -m bench.guidance_table --models-dir DIR   # another shapes-sd / shapes-clip pair

Per method x strength: judge adherence (all attributes right), CLIP score, saturation (share of pixels
with a channel clipped at 0 or 255, and mean HSV saturation), seconds per image. Then a 12-cell grid,
batched, against 12 sequential text-to-image calls (the `/txt2img` path) with the same settings.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from pipelines.clip_score import ClipScorer
from pipelines.guidance import GuidanceMethod
from pipelines.guidance.lab import Cell, render_cells
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.shapes.judge import judge
from pipelines.shapes.world import held_out_prompts
from pipelines.text_to_image import TextToImageRequest, text_to_image

MODELS = Path("assets/models")
MODEL = "shapes-sd"
SAMPLER = "DPM++ 2M"
STEPS = 20
TABLE = [
    (GuidanceMethod.NONE, [0.0]),
    (GuidanceMethod.CFG, [3.0, 5.0, 7.5, 12.0]),
    (GuidanceMethod.DYNAMIC_THRESHOLD, [7.5, 12.0]),
    (GuidanceMethod.RESCALE, [7.5, 12.0]),
    (GuidanceMethod.APG, [5.0, 7.5, 12.0]),
    (GuidanceMethod.CFG_ZERO_STAR, [5.0, 12.0]),
    (GuidanceMethod.CLIP, [3.0, 7.5]),
]


def saturation(image) -> tuple[float, float]:
    array = np.asarray(image.convert("RGB"))
    clipped = float(((array == 0) | (array == 255)).any(-1).mean())
    return clipped, float(cv2.cvtColor(array, cv2.COLOR_RGB2HSV)[..., 1].mean() / 255)


def quality_table(manager: PipelineManager, clip: ClipScorer, prompts: list[str], seeds: list[int]) -> list[dict]:
    cells = [Cell(m, s) for m, strengths in TABLE for s in strengths]
    rows = {c: {"ok": [], "clip": [], "clipped": [], "sat": [], "sec": []} for c in cells}
    for prompt in prompts:
        for seed in seeds:
            results = manager.run(
                render_cells,
                manager.request_pipeline(MODEL, sampler=SAMPLER),
                cells,
                prompt,
                "",
                seed,
                STEPS,
                64,
                64,
                clip=clip,
            )
            scores = clip.score([r.image for r in results], [prompt] * len(results))
            for result, score in zip(results, scores):
                row = rows[result.cell]
                row["ok"].append(judge(result.image, prompt).all_correct)
                row["clip"].append(score)
                clipped, sat = saturation(result.image)
                row["clipped"].append(clipped)
                row["sat"].append(sat)
                row["sec"].append(result.seconds)
    return [
        {
            "method": c.method.label,
            "strength": c.strength,
            "adherence": np.mean(r["ok"]),
            "clip": np.mean(r["clip"]),
            "clipped": np.mean(r["clipped"]),
            "saturation": np.mean(r["sat"]),
            "s/img": np.mean(r["sec"]),
        }
        for c, r in rows.items()
    ]


def speed(manager: PipelineManager, repeats: int) -> tuple[float, float]:
    """Median seconds: a 12-cell CFG grid in one batch vs 12 sequential text-to-image calls."""
    strengths = [1.5, 3.0, 5.0, 7.5, 9.0, 12.0]
    cells = [Cell(m, s) for m in (GuidanceMethod.CFG, GuidanceMethod.RESCALE) for s in strengths]
    grid, sequential = [], []
    for r in range(repeats):
        start = time.perf_counter()
        manager.run(
            render_cells, manager.request_pipeline(MODEL, sampler=SAMPLER), cells, "a red circle", "", r, STEPS, 64, 64
        )
        grid.append(time.perf_counter() - start)
        start = time.perf_counter()
        for cell in cells:
            text_to_image(
                manager,
                TextToImageRequest(
                    "a red circle", model=MODEL, sampler=SAMPLER, steps=STEPS, cfg_scale=cell.strength, seed=r
                ),
            )
        sequential.append(time.perf_counter() - start)
    return statistics.median(grid), statistics.median(sequential)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models-dir", type=Path, default=MODELS, help="holding shapes-sd and shapes-clip")
    args = parser.parse_args()
    manager = PipelineManager(ManagerConfig(models_dir=args.models_dir, device="cpu", include_hub=False))
    clip = ClipScorer(args.models_dir / "shapes-clip")
    prompts = held_out_prompts()
    seeds = [0, 1]
    if args.quick:
        prompts, seeds = prompts[::6], [0]
    print(
        f"## Guidance methods on {MODEL}: {len(prompts)} held-out prompts x {len(seeds)} seeds, "
        f"{SAMPLER}, {STEPS} steps\n"
    )
    print("| method | strength | adherence (judge) | CLIP score | clipped px | mean saturation | s/img |")
    print("|---|---|---|---|---|---|---|")
    for row in quality_table(manager, clip, prompts, seeds):
        print(
            f"| {row['method']} | {row['strength']:g} | {row['adherence']:.3f} | {row['clip']:.1f} | "
            f"{row['clipped']:.3f} | {row['saturation']:.3f} | {row['s/img']:.3f} |"
        )
    grid, sequential = speed(manager, repeats=1 if args.quick else 3)
    print("\n| 12 cells | median seconds |\n|---|---|")
    print(f"| one batched grid | {grid:.2f} |\n| 12 sequential txt2img calls | {sequential:.2f} |")
    print(f"| speed-up | {sequential / grid:.2f}x |")


if __name__ == "__main__":
    main()
