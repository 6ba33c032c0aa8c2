"""Benchmarks paint with words on the bundled shapes model: do objects land where they were painted?

    python -m bench.paint_with_words [--model-dir assets/models/shapes-sd] [--seeds 4] [--steps 20]
                                     [--strengths 0.3 0.6 1.0] [--threads 1] [--save out/]

Fixed two-object prompts ("a red circle above a blue square") whose painted regions put each object in a place
the caption does not say: for "above"/"below" the caption fixes the vertical order and the paint picks the
columns (e.g. the circle top-left, the square bottom-right); for "to the left of"/"to the right of" the paint
picks the rows. Each object's centroid is found by the judge (`pipelines.shapes.judge.find_blobs`: the largest
blob of the object's colour, preferring its shape) and must lie inside its painted region.

Each prompt runs on the same seeds without paint (plain text to image, which paint with words at w = 0
reproduces bit for bit) and with paint at each strength w. Without paint an object lands in its painted
column/row about one time in three (the training layouts pick one of three lanes), so the baseline shows
what the caption alone gives. Target (issue 7): ≥ 90 % of objects in their regions with paint.

Prints one table: condition, objects in their painted region, images with both objects in place, objects
found at all (colour present), and seconds per image.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "assets" / "models" / "shapes-sd"
SIZE = 64  # the shapes world's image size
HALF = 14  # a painted region is a (2·HALF)² square around its lane centre, in pixels of 64

# (prompt, first object's lane centre, second object's lane centre), centres (x, y) in pixels of 64.
# The caption says the relation; the lanes say where, which it does not.
CASES: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("a red circle above a blue square", (16, 16), (48, 48)),
    ("a red circle above a blue square", (48, 16), (16, 48)),
    ("a green triangle above a yellow circle", (16, 16), (48, 48)),
    ("a purple square below an orange triangle", (48, 48), (16, 16)),
    ("a blue circle to the left of a red triangle", (16, 48), (48, 16)),
    ("a yellow square to the left of a green circle", (16, 16), (48, 48)),
    ("an orange circle to the right of a purple square", (48, 48), (16, 16)),
    ("a red square to the right of a green triangle", (48, 16), (16, 48)),
)


@dataclass
class Tally:
    objects_in_region: int = 0
    images_both: int = 0
    objects_found: int = 0
    objects: int = 0
    images: int = 0
    seconds: float = 0.0

    def row(self, name: str) -> tuple[str, ...]:
        pct = lambda a, b: f"{a}/{b} ({100 * a / max(b, 1):.0f} %)"  # noqa: E731
        return (
            name,
            pct(self.objects_in_region, self.objects),
            pct(self.images_both, self.images),
            pct(self.objects_found, self.objects),
            f"{self.seconds / max(self.images, 1):.2f}",
        )


def region_masks(first: tuple[int, int], second: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    masks = []
    for x, y in (first, second):
        mask = np.zeros((SIZE, SIZE), dtype=bool)
        mask[max(0, y - HALF) : y + HALF, max(0, x - HALF) : x + HALF] = True
        masks.append(mask)
    return masks[0], masks[1]


def layout_of(masks: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """RGBA paint layer: the first object's region in the red brush, the second's in the blue brush."""
    from pipelines.paint_with_words import PALETTE

    layer = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    for mask, brush in zip(masks, PALETTE[:2], strict=True):
        layer[mask] = (*brush.rgb, 255)
    return layer


def object_phrases(prompt: str) -> tuple[str, str]:
    """'a red circle above a blue square' → ('red circle', 'blue square')."""
    from pipelines.shapes.grammar import parse_caption

    scene = parse_caption(prompt)
    return tuple(f"{o.colour} {o.shape}" for o in scene.objects)  # type: ignore[return-value]


def locate(image, colour: str, shape: str):
    """The judge's pick for an object: the largest blob of its colour, preferring its shape; None if absent."""
    from pipelines.shapes.judge import find_blobs

    blobs = [b for b in find_blobs(np.asarray(image)) if b.colour == colour]
    same_shape = [b for b in blobs if b.shape == shape]
    return (same_shape or blobs or [None])[0]


def score(tally: Tally, image, phrases, masks) -> list[bool]:
    hits = []
    for phrase, mask in zip(phrases, masks, strict=True):
        colour, shape = phrase.split()
        blob = locate(image, colour, shape)
        tally.objects += 1
        inside = False
        if blob is not None:
            tally.objects_found += 1
            x, y = min(SIZE - 1, round(blob.x)), min(SIZE - 1, round(blob.y))
            inside = bool(mask[y, x])
        tally.objects_in_region += inside
        hits.append(inside)
    tally.images += 1
    tally.images_both += all(hits)
    return hits


def run(manager, model: str, seeds: int, steps: int, strengths: list[float], save: Path | None) -> dict[str, Tally]:
    from pipelines.paint_with_words import PaintWithWordsRequest, Region, paint_with_words
    from pipelines.text_to_image import TextToImageRequest, text_to_image

    conditions = [
        (f"{name}, w = {w:g}", w, steer)
        for steer, name in ((False, "bias only"), (True, "bias + steering"))
        for w in strengths
    ]
    tallies = {"no paint (text only)": Tally(), **{name: Tally() for name, _, _ in conditions}}
    sheet: list[list[np.ndarray]] = []
    for case, (prompt, first, second) in enumerate(CASES):
        phrases = object_phrases(prompt)
        masks = region_masks(first, second)
        layout = layout_of(masks)
        for seed in range(seeds):
            row = [np.asarray(layout[..., :3] * (layout[..., 3:] > 0) + 255 * (layout[..., 3:] == 0), np.uint8)]
            start = time.perf_counter()
            plain = text_to_image(
                manager, TextToImageRequest(prompt, model=model, steps=steps, seed=1000 * case + seed)
            ).images[0]
            tallies["no paint (text only)"].seconds += time.perf_counter() - start
            score(tallies["no paint (text only)"], plain, phrases, masks)
            row.append(np.asarray(plain))
            for name, w, steer in conditions:
                request = PaintWithWordsRequest(
                    prompt=prompt,
                    layout=layout,
                    regions=(Region("red", phrases[0]), Region("blue", phrases[1])),
                    paint_weight=w,
                    steer_layout=steer,
                    model=model,
                    steps=steps,
                    seed=1000 * case + seed,
                )
                start = time.perf_counter()
                image = paint_with_words(manager, request).images[0]
                tally = tallies[name]
                tally.seconds += time.perf_counter() - start
                score(tally, image, phrases, masks)
                row.append(np.asarray(image))
            sheet.append(row)
    if save is not None:
        from PIL import Image

        save.mkdir(parents=True, exist_ok=True)
        grid = np.concatenate([np.concatenate(r, axis=1) for r in sheet], axis=0)
        Image.fromarray(grid).save(save / "paint_with_words_bench.png")
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None, help="a diffusers SD folder (default: shapes-sd)")
    parser.add_argument("--tiny", action="store_true", help="smoke-test on a random tiny model (numbers meaningless)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per prompt")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.3, 0.6, 1.0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--save", type=Path, default=None, help="folder for a contact sheet (layout | no paint | w…)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from pipelines.manager import ManagerConfig, PipelineManager

    with tempfile.TemporaryDirectory() as tmp:
        if args.tiny:
            from pipelines.testing import build_tiny_sd_folder

            folder = build_tiny_sd_folder(Path(tmp) / "tiny-sd")
        else:
            folder = args.model_dir or DEFAULT_MODEL
            if not (folder / "model_index.json").is_file():
                print(f"no model at {folder} (is shapes-sd trained yet?); pass --model-dir, or --tiny to smoke-test")
                return 2
        folder = folder.resolve()
        manager = PipelineManager(
            ManagerConfig(models_dir=folder.parent, device="cpu", offline=True, include_hub=False)
        )
        started = time.perf_counter()
        tallies = run(manager, folder.name, args.seeds, args.steps, args.strengths, args.save)
        total = time.perf_counter() - started

    from pipelines.paint_with_words import PaintWithWordsRequest

    header = ("condition", "objects in painted region", "images with both in place", "objects found", "s/image")
    rows = [header] + [t.row(name) for name, t in tallies.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print(
        f"model {folder.name} · {len(CASES)} prompts × {args.seeds} seeds · DPM++ 2M, {args.steps} steps, "
        f"CFG {PaintWithWordsRequest.cfg_scale:g} · "
        f"region = {2 * HALF}x{2 * HALF} px square of 64 · {total:.0f} s"
    )
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
