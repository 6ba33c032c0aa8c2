"""Noise-conditioning augmentation, shown: upscaled quality against `noise_level`, on the base model's own outputs.

    python -m bench.upscale_noise [--levels 0 20 50 100 200 350] [--seeds 1] [--steps 20] [--threads 1]
    python -m bench.upscale_noise --quick     # 4 pictures, 2 levels, 4 steps: checks that it runs

Imagen and the cascaded diffusion models noise the low-resolution input of a super-resolution stage (and tell the
stage how much), because at sampling time that input is the base model's picture, with the base model's
artefacts, not a clean render. Here the bundled `shapes-sd` draws the held-out prompts at 64x64 (DPM++ 2M, 20
steps, CFG 5), and `shapes-upscaler` upscales each picture at every noise level. Per level:
- prompt right: the judge finds every attribute of the prompt in the 256x256 picture (the 64x64 input's own rate is
  the first row);
- off-palette pixels: share of pixels no world colour explains (farther than 40 from each colour and the
  background): edges, smudges and noise; the world's 256 render of a scene has about 1 %;
- the same upscaler on clean held-out renders, PSNR against the world's 256 render: what the augmentation costs
  where the input is already right.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "assets" / "models"
OFF_PALETTE = 40.0


def off_palette_share(image: np.ndarray) -> float:
    from pipelines.shapes.grammar import BACKGROUND, COLOURS

    palette = np.array([BACKGROUND, *COLOURS.values()], dtype=np.float32)
    pixels = np.asarray(image, dtype=np.float32).reshape(-1, 1, 3)
    nearest = np.sqrt(((pixels - palette[None]) ** 2).sum(-1)).min(axis=1)
    return float((nearest > OFF_PALETTE).mean())


def base_pictures(prompts: list[str], seeds: list[int], steps: int):
    """(prompt, 64x64 picture) from the bundled text-to-image model, plain diffusers."""
    import torch
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(MODELS / "shapes-sd", safety_checker=None)
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    pictures = []
    for seed in seeds:
        generators = [torch.Generator().manual_seed(seed) for _ in prompts]
        with torch.inference_mode():
            images = pipe(prompts, num_inference_steps=steps, guidance_scale=5.0, generator=generators).images
        pictures += list(zip(prompts, images))
    return pictures


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 20, 50, 100, 200, 350])
    parser.add_argument("--seeds", type=int, default=1, help="base-model seeds per held-out prompt")
    parser.add_argument("--clean", type=int, default=24, help="clean held-out renders for the PSNR column")
    parser.add_argument("--steps", type=int, default=20, help="upscaler steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--upscaler", type=Path, default=MODELS / "shapes-upscaler")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    import torch
    from diffusers import StableDiffusionUpscalePipeline
    from PIL import Image

    from pipelines.shapes.judge import judge
    from pipelines.shapes.render import draw
    from pipelines.shapes.upscaler_quality import held_out_scenes, psnr, upscale_batches
    from pipelines.shapes.world import held_out_prompts

    if not (args.upscaler / "model_index.json").is_file():
        parser.error(
            f"no upscaler at {args.upscaler}: train one (python -m pipelines.shapes.train_upscaler train) and pass "
            "--upscaler <its folder>"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    prompts, levels, steps, clean = held_out_prompts(), args.levels, args.steps, args.clean
    if args.quick:
        prompts, levels, steps, clean = prompts[:4], levels[:2], 4, 2
    start = time.perf_counter()
    pictures = base_pictures(prompts, list(range(args.seeds)), 20)
    upscaler = StableDiffusionUpscalePipeline.from_pretrained(args.upscaler)
    upscaler.set_progress_bar_config(disable=True)
    scenes = held_out_scenes(clean)
    clean_pictures = [(e.caption, Image.fromarray(e.image)) for e in scenes]

    rows = [
        {
            "input": "base model, 64x64 (no upscaling)",
            "prompt right": np.mean([judge(image, p).all_correct for p, image in pictures]),
            "off-palette": np.mean([off_palette_share(image) for _, image in pictures]),
            "clean PSNR": float("nan"),
        }
    ]
    for level in levels:
        upscaled = upscale_batches(upscaler, pictures, level, steps)
        upscaled_clean = upscale_batches(upscaler, clean_pictures, level, steps)
        rows.append(
            {
                "input": f"upscaled, noise level {level}",
                "prompt right": np.mean([judge(image, p).all_correct for (p, _), image in zip(pictures, upscaled)]),
                "off-palette": np.mean([off_palette_share(image) for image in upscaled]),
                "clean PSNR": np.mean(
                    [psnr(np.asarray(image), draw(e.layout, size=256)) for e, image in zip(scenes, upscaled_clean)]
                ),
            }
        )
    print(
        f"shapes-sd pictures of {len(prompts)} held-out prompts x {args.seeds} seed(s), upscaled by "
        f"{args.upscaler.name} ({steps} DDIM steps, guidance 1); clean column: {clean} held-out renders; "
        f"{time.perf_counter() - start:.0f} s"
    )
    print()
    print("| input | prompt right (judge) | off-palette pixels | clean renders: PSNR vs 256 render (dB) |")
    print("|---|---|---|---|")
    for row in rows:
        psnr_text = "–" if np.isnan(row["clean PSNR"]) else f"{row['clean PSNR']:.2f}"
        print(f"| {row['input']} | {row['prompt right']:.3f} | {row['off-palette']:.3%} | {psnr_text} |")
    return rows


if __name__ == "__main__":
    main()
