"""The studio's Upscale x4 against the plain `StableDiffusionUpscalePipeline` call on the same folder.

    python -m bench.upscale [--rounds 9] [--steps 20] [--size 32] [--threads 1]
    python -m bench.upscale --quick      # 3 rounds of 4 steps: checks that the row runs, no verdict on timings

The folder is the tiny random-weight x4 upscaler of `pipelines.testing` (built in a temporary folder, listed through a
`--config` file as a user's folder would be). Paired runs in one process, the order alternating every round, after a
warm-up call of each side: the studio's `upscale(manager, UpscaleRequest(...))` (the manager, the device lock, the
step callback, the PNG parameters) against the pipeline loaded from the same folder, called directly with the same
image, prompt, steps, guidance, noise level and seed, both under `torch.inference_mode()`. The table gives the median
of each side, the median paired overhead (target <= 5 %) and whether the warm-up images are identical.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.families import FamilyRun, format_table, measure, plain_pipeline, summarise

PROMPT = "a red circle above a blue square"
MODEL = "tiny-sd-upscaler"


def prepare(manager, args) -> FamilyRun:
    import torch
    from PIL import Image

    from pipelines.upscale import UpscaleRequest, upscale

    run = FamilyRun("sd-upscaler", MODEL)
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8))
    request = UpscaleRequest(
        images=(picture,), prompt=PROMPT, model=MODEL, steps=args.steps, upscale_noise_level=20, seed=args.seed
    )
    plain = plain_pipeline(manager, MODEL)
    run.pipeline = type(plain).__name__

    def run_plain():
        with torch.inference_mode():
            return plain(
                prompt=[PROMPT],
                image=[picture],
                num_inference_steps=args.steps,
                guidance_scale=request.cfg_scale,
                noise_level=request.upscale_noise_level,
                generator=[torch.Generator("cpu").manual_seed(args.seed)],
            ).images

    def run_studio():
        return upscale(manager, request).images

    run.run_plain, run.run_studio = run_plain, run_studio
    ours, theirs = run_studio()[0], run_plain()[0]
    run.same_image = bool(np.array_equal(np.asarray(ours), np.asarray(theirs)))
    return run


def main(argv: list[str] | None = None) -> list[dict[str, str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=32, help="input side in pixels (the output is 4x)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps = 3, 4

    import torch

    from pipelines.manager import ManagerConfig, PipelineManager
    from pipelines.testing import build_tiny_sd_upscaler_folder

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as root:
        folder = build_tiny_sd_upscaler_folder(Path(root) / MODEL)
        config = Path(root) / "models.toml"
        config.write_text(f'[[models]]\nname = "{MODEL}"\npath = "{folder.as_posix()}"\n')
        manager = PipelineManager(
            ManagerConfig(models_dir=None, config_path=config, device="cpu", offline=True, include_hub=False)
        )
        run = prepare(manager, args)
        measure([run], args.rounds)
    row = summarise(run, args.quick)
    print(
        f"bench.upscale: studio upscale vs plain StableDiffusionUpscalePipeline, cpu (fp32), {args.size}px -> "
        f"{4 * args.size}px, {args.steps} steps, {args.rounds} paired rounds, target paired overhead <= 5%\n"
    )
    print(format_table([row]))
    return [row]


if __name__ == "__main__":
    main()
