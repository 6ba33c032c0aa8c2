"""Benchmarks inpainting on shapes-world scenes: remove one object with the mask, ask for another in its place.

    python -m bench.inpaint [--models-dir assets/models] [--model shapes-sd] [--inpaint-model shapes-sd-inpaint]
                            [--cases 40] [--steps 20] [--sampler "DPM++ 2M"] [--cfg 7] [--resample N] [--threads 1]
    python -m bench.inpaint --tiny      # smoke run on tiny random models (numbers mean nothing)

Each case draws two objects A and B (`pipelines.shapes.render`), masks B's bounding box plus a margin, and
prompts for an object C of another colour and shape at B's place ("a green triangle on the right"). Both
methods run on the same seed. Per method the table reports:
- hit: the judge (`find_blobs`) finds an object of C's colour and shape with its centre inside the mask;
- colour hit: C's colour only;
- outside max |Δ|: the largest absolute pixel difference to the original outside the mask (target ≤ 1);
- seam: gradient energy along the mask border relative to the whole image's,
  mean(|∇I|² on the 1-px band either side of the border) / mean(|∇I|² over the image), median over cases.
  The masked border lies on flat background, so a seamless fill scores low; GLIDE's point is that the
  replacement method (a) leaves seams that the inpainting model (b) does not;
- seconds per image (and, for comparison, the plain `StableDiffusionInpaintPipeline` call's).
Prompts describe the whole new scene by default ("scene"), as the bundled model's training captions do and as the
Inpainting tab asks; `--prompt-style object` names only the new object; `--prompt-style paraphrase` writes the
scene prompt in a seeded non-canonical phrasing the grammar reads ("Violet box left of a red circle."), as people type.
Method (b) is skipped (and said so) when the inpainting model folder does not exist.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MARGIN = 4  # pixels of background around the removed object inside the mask


@dataclass(frozen=True)
class Case:
    image: np.ndarray  # (64, 64, 3) uint8
    mask: np.ndarray  # (64, 64) bool
    prompt: str
    colour: str
    shape: str


def make_cases(count: int, seed: int = 0, style: str = "object") -> list[Case]:
    """Scenes with two objects on opposite sides; the mask covers B, the prompt asks for C at B's place.

    style "object": "a green triangle on the right"; "scene": the whole new scene, "a red circle to the left of a
    green triangle" (the captions the bundled model was trained on describe whole scenes); "paraphrase": that scene
    in another phrasing (`phrasing.phrase_other_than_canonical`, seeded by `seed`).
    """
    import random

    from pipelines.shapes.grammar import COLOURS, SHAPES, SIZES, parse_caption, place_phrase
    from pipelines.shapes.phrasing import phrase_other_than_canonical
    from pipelines.shapes.render import PlacedShape, draw

    rng = np.random.default_rng(seed)
    pairs = [("left", "right"), ("right", "left"), ("top", "bottom"), ("bottom", "top")]
    centres = {"left": (16, 32), "right": (48, 32), "top": (32, 16), "bottom": (32, 48)}
    colours, radius = list(COLOURS), SIZES["large"]
    cases, phrasings = [], random.Random(seed)
    for i in range(count):
        place_a, place_b = pairs[i % len(pairs)]
        col_a, col_b, col_c = rng.choice(colours, size=3, replace=False)
        shape_a, shape_b = rng.choice(SHAPES, size=2)
        shape_c = rng.choice([s for s in SHAPES if s != shape_b])
        a = PlacedShape(str(col_a), str(shape_a), *centres[place_a], radius)
        b = PlacedShape(str(col_b), str(shape_b), *centres[place_b], radius)
        image = draw([a, b])
        mask = np.zeros((64, 64), bool)
        r = radius + MARGIN
        x, y = centres[place_b]
        mask[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1] = True
        prompt = f"a {col_c} {shape_c} {place_phrase(place_b)}"
        if style in ("scene", "paraphrase"):
            relation = {"left": "to the left of", "right": "to the right of", "top": "above", "bottom": "below"}
            prompt = f"a {col_a} {shape_a} {relation[place_a]} a {col_c} {shape_c}"
        if style == "paraphrase":
            prompt = phrase_other_than_canonical(parse_caption(prompt), phrasings)
        cases.append(Case(image, mask, prompt, str(col_c), str(shape_c)))
    return cases


def seam_score(image: np.ndarray, mask: np.ndarray) -> float:
    """Gradient energy on the mask border band relative to the whole image's (lower = smoother transition)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    energy = gx * gx + gy * gy
    m = mask.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    band = (cv2.dilate(m, kernel) - cv2.erode(m, kernel)).astype(bool)
    return float(energy[band].mean() / max(energy.mean(), 1e-6))


def hit(image: np.ndarray, case: Case, need_shape: bool = True) -> bool:
    from pipelines.shapes.judge import find_blobs

    for blob in find_blobs(image):
        inside = case.mask[min(int(round(blob.y)), 63), min(int(round(blob.x)), 63)]
        if inside and blob.colour == case.colour and (not need_shape or blob.shape == case.shape):
            return True
    return False


def _tiny_models(root: Path) -> Path:
    """Tiny random SD + 9-channel inpainting folders (for a smoke run without the bundled models)."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline, UNet2DConditionModel

    from pipelines.testing import build_tiny_sd_folder

    build_tiny_sd_folder(root / "shapes-sd")
    base = StableDiffusionPipeline.from_pretrained(root / "shapes-sd", local_files_only=True)
    config = dict(base.unet.config)
    config["in_channels"] = 9
    torch.manual_seed(0)
    components = {k: v for k, v in base.components.items() if k != "image_encoder"}
    components["unet"] = UNet2DConditionModel.from_config(config)
    StableDiffusionInpaintPipeline(**components).save_pretrained(root / "shapes-sd-inpaint", safe_serialization=True)
    return root


def _plain_inpaint_seconds(folder: Path, cases: list[Case], args) -> float:
    """Median seconds per image of the plain diffusers call (default scheduler), for comparison with method (b)."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image

    pipe = StableDiffusionInpaintPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    seconds = []
    for i, case in enumerate(cases):
        started = time.perf_counter()
        pipe(
            case.prompt,
            image=Image.fromarray(case.image),
            mask_image=Image.fromarray(case.mask.astype(np.uint8) * 255),
            height=case.image.shape[0],
            width=case.image.shape[1],
            num_inference_steps=args.steps,
            guidance_scale=args.cfg,
            generator=torch.Generator().manual_seed(args.seed + i),
        )
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "assets" / "models")
    parser.add_argument("--model", default="shapes-sd")
    parser.add_argument("--inpaint-model", default="shapes-sd-inpaint")
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sampler", default="DPM++ 2M")
    parser.add_argument("--cfg", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt-style", choices=("scene", "object", "paraphrase"), default="scene")
    parser.add_argument("--resample", type=int, default=None, help="method (a) RePaint passes (default: the tab's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tiny", action="store_true", help="smoke run on tiny random models")
    parser.add_argument("--save", type=Path, default=None, help="folder for a few example images")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from pipelines.inpaint import InpaintRequest, Method, inpaint
    from pipelines.manager import ManagerConfig, PipelineManager

    tmp = None
    models_dir = args.models_dir
    if args.tiny:
        tmp = tempfile.TemporaryDirectory()
        models_dir = _tiny_models(Path(tmp.name))
    if not (models_dir / args.model / "model_index.json").is_file():
        raise SystemExit(f"no model folder {models_dir / args.model}: train or copy it first (or use --tiny)")
    has_b = (models_dir / args.inpaint_model / "model_index.json").is_file()
    manager = PipelineManager(ManagerConfig(models_dir=models_dir, offline=True, include_hub=False))
    runs = Method.BOTH.runs() if has_b else Method.REPLACE.runs()
    stats = {m: {"hit": [], "colour": [], "outside": [], "seam": [], "seconds": []} for m in runs}
    originals = []
    cases = make_cases(args.cases, args.seed, args.prompt_style)
    resample = InpaintRequest.resample if args.resample is None else args.resample
    for i, case in enumerate(cases):
        originals.append(seam_score(case.image, case.mask))
        for run in runs:  # one call per method (same seed), so each is timed on its own
            request = InpaintRequest(
                prompt=case.prompt,
                image=case.image,
                mask=case.mask,
                model=args.model,
                inpaint_model=args.inpaint_model if has_b else None,
                method=run.label,
                sampler=args.sampler,
                steps=args.steps,
                cfg_scale=args.cfg,
                seed=args.seed + i,
                resample=resample,
            )
            started = time.perf_counter()
            (image,) = inpaint(manager, request).images
            seconds = time.perf_counter() - started
            out = np.asarray(image)
            s = stats[run]
            s["hit"].append(hit(out, case))
            s["colour"].append(hit(out, case, need_shape=False))
            s["outside"].append(int(np.abs(out.astype(int) - case.image.astype(int))[~case.mask].max()))
            s["seam"].append(seam_score(out, case.mask))
            s["seconds"].append(seconds)
            if args.save is not None and i < 8:
                args.save.mkdir(parents=True, exist_ok=True)
                stem = f"{i:02d}-{run.name.lower()}"
                cv2.imwrite(str(args.save / f"{stem}.png"), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
                cv2.imwrite(str(args.save / f"{i:02d}-original.png"), cv2.cvtColor(case.image, cv2.COLOR_RGB2BGR))

    title = "tiny random models (smoke run: numbers mean nothing)" if args.tiny else f"{args.model}"
    print(
        f"\nInpainting on {len(cases)} shapes scenes ({args.prompt_style} prompts), {title}, {args.sampler}, "
        f"{args.steps} steps, CFG {args.cfg}, method (a) resample passes {resample}; each method timed alone"
    )
    print("| Method | Hit (colour+shape in mask) | Colour hit | Outside max abs diff | Seam (median) | s/image |")
    print("|---|---|---|---|---|---|")
    for run in runs:
        s = stats[run]
        print(
            f"| {run.label} | {100 * np.mean(s['hit']):.0f} % | {100 * np.mean(s['colour']):.0f} % "
            f"| {max(s['outside'])} | {statistics.median(s['seam']):.3f} | {statistics.median(s['seconds']):.2f} |"
        )
    print(f"| (original images, for scale) | | | 0 | {statistics.median(originals):.3f} | |")
    if has_b:
        print(
            f"\nPlain `StableDiffusionInpaintPipeline` call on {args.inpaint_model}, same steps and CFG: "
            f"{_plain_inpaint_seconds(models_dir / args.inpaint_model, cases[:4], args):.2f} s/image"
        )
    else:
        print(f"\nMethod (b) skipped: no {models_dir / args.inpaint_model} folder.")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
