"""Benchmarks unCLIP on shapes-world pictures: variations, inverted-noise interpolation, red → blue text diffs.

    python -m bench.unclip [--models-dir assets/models] [--model shapes-unclip] [--images 16] [--variations 4]
                           [--pairs 6] [--frames 7] [--steps 20] [--cfg 5] [--threads 1] [--save bench/out/unclip]

Inputs are drawn (not generated) one-object scenes: a large shape of a known colour and kind at a random place.
The table reports:
- variations: share whose judged colour and shape are the input's ("keep"), the mean absolute pixel difference to
  the input (0-255), the share that differ from it by at least `--floor` (a variation must not be a copy), and the
  share that do both;
- interpolation ("inverted" noise; inversions and frames guided by `--cfg`): PSNR of the θ = 0 and θ = 1 frames
  against the two inputs (mean and worst), and the Spearman correlation between θ and the CLIP (shapes-clip) image
  similarity of each frame to the second image, averaged over pairs (also for "fixed" noise);
- text diff "a red S" → "a blue S" at θ = 0.5, 0.75, 1: share of red inputs whose result the judge reads as a blue S;
- prior + decoder (when the folder has a prior): share of the 18 captions "a <colour> <shape>" drawn with the judged
  colour and shape, and the same for each caption in a seeded other phrasing the grammar reads ("Violet box.");
- seconds per image of our variations call and of the plain diffusers call (`pipe(image=...)`) on the same folder.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def draw_inputs(count: int, seed: int, colours: list[str] | None = None):
    """`count` (image, colour, shape) one-object scenes: a large shape at a random place."""
    from PIL import Image

    from pipelines.shapes.grammar import COLOURS, PLACES, SHAPES, ShapeSpec
    from pipelines.shapes.render import draw
    from pipelines.shapes.world import layout_one

    rng = random.Random(seed)
    out = []
    for i in range(count):
        colour = (colours or list(COLOURS))[i % len(colours or COLOURS)]
        shape = SHAPES[(i // len(colours or COLOURS) + i) % len(SHAPES)]
        spec = ShapeSpec(colour, shape, "large", rng.choice(list(PLACES)))
        out.append((Image.fromarray(draw(layout_one(spec, rng))), colour, shape))
    return out


def spearman(x: list[float], y: list[float]) -> float:
    rx, ry = np.argsort(np.argsort(x)).astype(float), np.argsort(np.argsort(y)).astype(float)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def psnr(x, y) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(10 * np.log10(255**2 / max(((x - y) ** 2).mean(), 1e-10)))


def keeps(image, colour: str, shape: str) -> bool:
    from pipelines.shapes.judge import judge

    checks = judge(np.asarray(image), f"a {colour} {shape}").checks
    return checks["colour"] and checks["shape"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "assets" / "models")
    parser.add_argument("--model", default="shapes-unclip")
    parser.add_argument("--images", type=int, default=16, help="inputs for variations and text diffs")
    parser.add_argument("--variations", type=int, default=4)
    parser.add_argument("--noise-level", type=int, default=0)
    parser.add_argument("--eta", type=float, default=0.0)
    parser.add_argument("--floor", type=float, default=2.0, help="mean |Δ| (0-255) a variation must reach")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--frames", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--cfg",
        type=float,
        default=5.0,
        help="decoder guidance (variations, interpolation and its inversions, text diffs)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save", type=Path, default=None, help="folder for example strips")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here (for the model card)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from PIL import Image

    from pipelines.manager import ManagerConfig, PipelineManager
    from pipelines.unclip import (
        InterpolationRequest,
        TextDiffRequest,
        VariationsRequest,
        interpolate,
        text_diff,
        variations,
    )

    if not (args.models_dir / args.model / "model_index.json").is_file():
        raise SystemExit(f"no model folder {args.models_dir / args.model}: train it first")
    manager = PipelineManager(ManagerConfig(models_dir=args.models_dir, offline=True, include_hub=False))
    entry = manager.entry(args.model)
    scorer = manager.clip_scorer(entry)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)

    def sheet(rows: list[list], name: str) -> None:
        if args.save:
            width = max(len(r) for r in rows)
            canvas = Image.new("RGB", (64 * width, 64 * len(rows)), "white")
            for y, row in enumerate(rows):
                for x, image in enumerate(row):
                    canvas.paste(image.convert("RGB").resize((64, 64)), (64 * x, 64 * y))
            canvas.resize((canvas.width * 2, canvas.height * 2), Image.NEAREST).save(args.save / name)

    # 1. Variations
    inputs = draw_inputs(args.images, args.seed)
    kept, differ, both, distance, seconds, rows = [], [], [], [], [], []
    for i, (image, colour, shape) in enumerate(inputs):
        request = VariationsRequest(
            image,
            model=args.model,
            count=args.variations,
            noise_level=args.noise_level,
            eta=args.eta,
            steps=args.steps,
            cfg_scale=args.cfg,
            seed=args.seed + 100 * i,
        )
        started = time.perf_counter()
        result = variations(manager, request)
        seconds.append((time.perf_counter() - started) / args.variations)
        for variation in result.images:
            d = float(np.abs(np.asarray(variation, float) - np.asarray(image, float)).mean())
            k = keeps(variation, colour, shape)
            kept.append(k)
            distance.append(d)
            differ.append(d >= args.floor)
            both.append(k and d >= args.floor)
        rows.append([image, *result.images])
    sheet(rows[:8], "variations.png")

    # 2. Interpolation: pairs of inputs of different colours and shapes
    pair_inputs = draw_inputs(2 * args.pairs, args.seed + 1)
    ends, rho = [], {"inverted": [], "fixed": []}
    strips = []
    for p in range(args.pairs):
        (a, *_), (b, *_) = pair_inputs[2 * p], pair_inputs[2 * p + 1]
        for mode in ("inverted", "fixed"):
            request = InterpolationRequest(
                a,
                b,
                model=args.model,
                frames=args.frames,
                noise_mode=mode,
                steps=args.steps,
                cfg_scale=args.cfg,
                seed=args.seed + p,
            )
            result = interpolate(manager, request)
            with torch.no_grad():
                frames = scorer.image_embeddings(scorer.to_tensor(result.images))
                target = scorer.image_embeddings(scorer.to_tensor([b]))
            similarity = (frames @ target.T).flatten().tolist()
            rho[mode].append(spearman(result.thetas, similarity))
            if mode == "inverted":
                ends += [psnr(result.images[0], a), psnr(result.images[-1], b)]
                strips.append([a, *result.images, b])
    sheet(strips, "interpolation.png")

    # 3. Text diff red -> blue
    thetas = (0.5, 0.75, 1.0)
    reds = draw_inputs(args.images, args.seed + 2, colours=["red"])
    success = {t: [] for t in thetas}
    diff_rows = []
    for i, (image, _, shape) in enumerate(reds):
        request = TextDiffRequest(
            image,
            f"a red {shape}",
            f"a blue {shape}",
            model=args.model,
            theta=1.0,
            frames=5,  # θ = 0, 0.25, 0.5, 0.75, 1
            steps=args.steps,
            cfg_scale=args.cfg,
            seed=args.seed + i,
        )
        result = text_diff(manager, request)
        for theta, frame in zip(result.thetas, result.images):
            if theta in success:
                success[theta].append(keeps(frame, "blue", shape))
        diff_rows.append([image, *result.images])
    sheet(diff_rows[:8], "text_diff.png")

    # 4. Prior + decoder from captions "a <colour> <shape>" (when the folder has a prior)
    from pipelines.shapes.grammar import COLOURS, SHAPES, Scene, ShapeSpec
    from pipelines.shapes.phrasing import phrase_other_than_canonical
    from pipelines.unclip import CaptionRequest, caption_to_image, has_prior

    prior_kept, prior_rows, paraphrase_kept = [], [], []
    phrasings = random.Random(args.seed)

    def drawn_right(caption: str, colour: str, shape: str, seed: int):
        request = CaptionRequest(caption, model=args.model, steps=args.steps, cfg_scale=args.cfg, seed=seed)
        image = caption_to_image(manager, request).images[0]
        return image, keeps(image, colour, shape)

    if has_prior(entry):
        for i, (colour, shape) in enumerate((c, s) for c in COLOURS for s in SHAPES):
            image, kept_it = drawn_right(f"a {colour} {shape}", colour, shape, args.seed + i)
            prior_rows.append(image)
            prior_kept.append(kept_it)
            other = phrase_other_than_canonical(Scene((ShapeSpec(colour, shape),)), phrasings)
            paraphrase_kept.append(drawn_right(other, colour, shape, args.seed + i)[1])
        sheet([prior_rows[i : i + 6] for i in range(0, len(prior_rows), 6)], "prior.png")

    # 5. The plain diffusers call, for comparison
    from diffusers import StableUnCLIPImg2ImgPipeline

    pipe = StableUnCLIPImg2ImgPipeline.from_pretrained(args.models_dir / args.model, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    plain = []
    for i, (image, *_) in enumerate(inputs[:4]):
        started = time.perf_counter()
        pipe(
            image=image,
            num_inference_steps=args.steps,
            guidance_scale=args.cfg,  # diffusers' own name
            generator=torch.Generator().manual_seed(i),
        )
        plain.append(time.perf_counter() - started)

    mean = statistics.mean
    rows = [
        (f"variations: colour and shape kept ({len(kept)} images)", f"{mean(kept):.2f}", "≥ 0.90"),
        ("variations: mean abs pixel difference to the input (0-255)", f"{mean(distance):.1f}", ""),
        (f"variations: differ from the input by ≥ {args.floor:g}", f"{mean(differ):.2f}", ""),
        ("variations: kept and differ", f"{mean(both):.2f}", "≥ 0.90"),
        ("interpolation (inverted): end-point PSNR, mean / worst (dB)", f"{mean(ends):.1f} / {min(ends):.1f}", "≥ 25"),
        ("interpolation (inverted): Spearman(θ, CLIP sim. to B), mean", f"{mean(rho['inverted']):.2f}", "≥ 0.9"),
        ("interpolation (fixed noise): Spearman(θ, CLIP sim. to B), mean", f"{mean(rho['fixed']):.2f}", ""),
    ]
    rows += [
        (f"text diff red → blue, θ = {theta}: blue and same shape", f"{mean(success[theta]):.2f}", "≥ 0.80")
        for theta in thetas
    ]
    if prior_kept:
        rows.append(
            (
                f"prior + decoder: 'a <colour> <shape>' drawn right ({len(prior_kept)} captions)",
                f"{mean(prior_kept):.2f}",
                "",
            )
        )
        rows.append(("prior + decoder: the same captions in other phrasings", f"{mean(paraphrase_kept):.2f}", ""))
    rows += [
        ("seconds per variation (ours)", f"{mean(seconds):.2f}", ""),
        ("seconds per image, plain `StableUnCLIPImg2ImgPipeline(image=...)`", f"{mean(plain):.2f}", ""),
    ]
    title = (
        f"unCLIP benchmark: {args.model}, {args.steps} DDIM steps, guidance {args.cfg}, "
        f"{args.images} inputs x {args.variations} variations, {args.pairs} pairs x {args.frames} frames, "
        f"{torch.get_num_threads()} thread(s)"
    )
    print(f"\n{title}\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        import json

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"title": title, "rows": rows}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
