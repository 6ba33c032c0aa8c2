"""Guidance methods on the bundled model, over the held-out prompt set: at equal nominal strength, at a calibrated
strength, and the lab's batching speed-up.

    python -m bench.guidance_table            # 42 held-out prompts x 2 seeds (about 40 min on one CPU core)
    python -m bench.guidance_table --quick    # 7 prompts x 1 seed, for a smoke run
    python -m bench.guidance_table --models-dir DIR   # another shapes-sd / shapes-clip pair

1. Equal nominal strength: every row of the lab (`methods.METHODS`) at s = 5 and 12 (CFG also at 3 and 7.5, and with
   guidance on the middle half of the steps only), per row: judge adherence (all attributes right), CLIP score,
   saturation (share of pixels with a channel at 0 or 255, and mean HSV saturation), and the UNet passes it takes
   per step (its cost: cells share batches, so their seconds are not separable).
2. Calibrated strength ("Guidance Matters", arXiv:2602.22570): per method, the strength whose mean CLIP score over a
   search subset (every third prompt, seed 0) matches CFG's at s = 5 on the same subset, found with the lab's
   search (`calibration.StrengthSearch` on the subset's mean), then the full set at that strength.
3. The lab's batching: a 12-cell grid, batched, against 12 sequential text-to-image calls (the `/txt2img` path).
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
from pipelines.guidance.calibration import ROUNDS, StrengthSearch
from pipelines.guidance.lab import Cell, render_cells
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.shapes.judge import judge
from pipelines.shapes.world import held_out_prompts
from pipelines.text_to_image import TextToImageRequest, text_to_image

MODELS = Path("assets/models")
MODEL = "shapes-sd"
SAMPLER = "DPM++ 2M"
STEPS = 20
BATCH = 16
REFERENCE = 5.0  # the CFG scale the calibrated strengths match (the lab's default column)
MIDDLE = (0.25, 0.75)  # a guidance interval: guidance on the middle half of the steps
# The rows that are not "every other method at 5 and 12".
EXTRA = [
    Cell(GuidanceMethod.NONE, 0.0),
    Cell(GuidanceMethod.CFG, 3.0),
    Cell(GuidanceMethod.CFG, 7.5),
    Cell(GuidanceMethod.CFG, 5.0, *MIDDLE),
    Cell(GuidanceMethod.CFG, 7.5, *MIDDLE),
    Cell(GuidanceMethod.CFG, 12.0, *MIDDLE),
    Cell(GuidanceMethod.CLIP, 3.0),
    Cell(GuidanceMethod.CLIP, 7.5),
]
SKIPPED = (GuidanceMethod.NONE, GuidanceMethod.CLIP, GuidanceMethod.NEGATIVE_PROMPT, GuidanceMethod.STATIC_THRESHOLD)
CALIBRATED = [m for m in GuidanceMethod if m not in (*SKIPPED, GuidanceMethod.CFG)] + [GuidanceMethod.CLIP]


def nominal_cells() -> list[Cell]:
    rows = [Cell(m, s) for m in GuidanceMethod if m not in SKIPPED for s in (5.0, 12.0)]
    return sorted([*rows, *EXTRA], key=lambda c: (list(GuidanceMethod).index(c.method), c.start, c.strength))


def saturation(image) -> tuple[float, float]:
    array = np.asarray(image.convert("RGB"))
    clipped = float(((array == 0) | (array == 255)).any(-1).mean())
    return clipped, float(cv2.cvtColor(array, cv2.COLOR_RGB2HSV)[..., 1].mean() / 255)


def measure(manager, clip, cells: list[Cell], prompts: list[str], seeds: list[int]) -> dict[Cell, dict]:
    """Per cell, over prompts x seeds: adherence, CLIP score, clipped share, saturation, seconds per image."""
    rows = {c: {"ok": [], "clip": [], "clipped": [], "sat": []} for c in cells}
    for prompt in prompts:
        for seed in seeds:
            for i in range(0, len(cells), BATCH):
                results = manager.run(
                    render_cells,
                    manager.request_pipeline(MODEL, sampler=SAMPLER),
                    cells[i : i + BATCH],
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
    return {c: {key: float(np.mean(values)) for key, values in r.items()} for c, r in rows.items()}


def calibrate(manager, clip, prompts: list[str]) -> tuple[float, dict[GuidanceMethod, StrengthSearch]]:
    """Per method, the strength matching CFG's mean CLIP score at `REFERENCE` over `prompts` (seed 0)."""
    target = measure(manager, clip, [Cell(GuidanceMethod.CFG, REFERENCE)], prompts, [0])
    target_clip = next(iter(target.values()))["clip"]
    searches = {m: StrengthSearch(REFERENCE, target_clip) for m in CALIBRATED}
    for round_ in range(ROUNDS):
        cells = [Cell(m, s) for m, search in searches.items() for s in search.candidates(round_)]
        for cell, row in measure(manager, clip, cells, prompts, [0]).items():
            searches[cell.method].record(cell.strength, row["clip"])
    return target_clip, searches


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


def _label(cell: Cell) -> str:
    interval = "" if (cell.start, cell.stop) == (0.0, 1.0) else f", guidance on {cell.start:.0%}–{cell.stop:.0%}"
    return cell.method.label + interval


def passes(method: GuidanceMethod) -> str:
    """UNet passes per guided step: ε(c) alone, ε(c) and ε(∅), or those and a perturbed ε(c)."""
    if method is GuidanceMethod.NONE:
        return "1"
    if method is GuidanceMethod.CLIP:
        return "1 + VAE and CLIP backward"
    return "3" if method.spec.perturbs_unet else "2"


def _row(cell: Cell, strength: str, r: dict) -> str:
    return (
        f"| {_label(cell)} | {strength} | {r['ok']:.3f} | {r['clip']:.1f} | {r['clipped']:.3f} | {r['sat']:.3f} | "
        f"{passes(cell.method)} |"
    )


HEADER = (
    "| method | strength | adherence (judge) | CLIP score | clipped px | mean saturation | UNet passes/step |\n"
    "|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models-dir", type=Path, default=MODELS, help="holding shapes-sd and shapes-clip")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    manager = PipelineManager(ManagerConfig(models_dir=args.models_dir, device="cpu", include_hub=False))
    clip = ClipScorer(args.models_dir / "shapes-clip")
    prompts, seeds = held_out_prompts(), [0, 1]
    if args.quick:
        prompts, seeds = prompts[::6], [0]
    started = time.perf_counter()
    print(
        f"## Guidance methods on {MODEL}: {len(prompts)} held-out prompts x {len(seeds)} seeds, "
        f"{SAMPLER}, {STEPS} steps\n\n### At equal nominal strength\n\n{HEADER}"
    )
    for cell, r in measure(manager, clip, nominal_cells(), prompts, seeds).items():
        strength = "–" if cell.method is GuidanceMethod.NONE else f"{cell.strength:g}"
        print(_row(cell, strength, r), flush=True)

    search_prompts = prompts[::3]
    target, searches = calibrate(manager, clip, search_prompts)
    matched = [Cell(m, search.best()) for m, search in searches.items()]
    print(
        f"\n### At calibrated strength: each method's mean CLIP score over {len(search_prompts)} prompts (seed 0) "
        f"matched to CFG's at s = {REFERENCE:g} ({target:.1f}); then all {len(prompts)} x {len(seeds)}\n\n"
        f"{HEADER.replace('| strength |', '| matched strength (search miss) |')}"
    )
    reference = measure(manager, clip, [Cell(GuidanceMethod.CFG, REFERENCE)], prompts, seeds)
    print(_row(Cell(GuidanceMethod.CFG, REFERENCE), f"{REFERENCE:g} (the reference)", next(iter(reference.values()))))
    for cell, r in measure(manager, clip, matched, prompts, seeds).items():
        search = searches[cell.method]
        print(_row(cell, f"{cell.strength:.3g} ({search.miss():.1f})", r), flush=True)

    grid, sequential = speed(manager, repeats=1 if args.quick else 3)
    print("\n| 12 cells | median seconds |\n|---|---|")
    print(f"| one batched grid | {grid:.2f} |\n| 12 sequential txt2img calls | {sequential:.2f} |")
    print(f"| speed-up | {sequential / grid:.2f}x |")
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
