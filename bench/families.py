"""The studio's text to image against the plain diffusers call, per model family, on the same tiny folders.

    python -m bench.families [--rounds 9] [--steps 20] [--sampler "DPM++ 2M"] [--threads 1] [--families sd,sdxl]
    python -m bench.families --plain-inference-mode     # the plain call under inference_mode too (see below)
    python -m bench.families --quick     # 3 rounds of 4 steps: checks that every row runs, no verdict on timings

The folders are the tiny random-weight ones of `pipelines.testing.build_family_folders` (built under `--root`, a
temporary folder by default), for the families whose models draw from text: SD 1.x, SD 2.x, SDXL, Kandinsky 2.2
(decoder + prior) and DeepFloyd IF stage I. Per family, paired runs in one process, the order alternating every
round and the families interleaved within a round, after one warm-up call of each side (the manager's lazy load):
- studio: `text_to_image(manager, TextToImageRequest(...))` through a `PipelineManager` on the `--config` file
  (per-request pipeline with a fresh scheduler, the device lock, the step callback, PNG parameters);
- plain: the diffusers pipeline loaded from the same folder (`DiffusionPipeline.from_pretrained(folder)`; Kandinsky
  2.2: `KandinskyV22CombinedPipeline` from the decoder's and the prior's components, as diffusers' AutoPipeline builds
  it) with the same scheduler class and config, steps, guidance, size, seed, dtype and device, called directly.
The studio runs the pipeline under `torch.inference_mode()`, which is a few per cent faster than the `no_grad` the
plain call gets from diffusers; `--plain-inference-mode` gives the plain call the same, to isolate the studio's own
cost. The table gives the median of each side, their ratio, the median of the paired overheads (target <= 5 %) and
whether the warm-up images of the two sides are identical (the check that both ran the same settings). A family
the studio cannot run becomes an ERROR row with the message, and the others still run.

The tiny models take a few hundred milliseconds a call (20 steps, one CPU thread), so this measures the studio's fixed
cost per request and per step: on a real model the same milliseconds are a far smaller share.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# Families whose models draw from text, and their tiny folder in `pipelines.testing.TINY_FAMILIES`.
FAMILY_MODELS = {
    "sd": "tiny-sd",
    "sd2": "tiny-sd2",
    "sdxl": "tiny-sdxl",
    "kandinsky22": "tiny-kandinsky22",
    "if": "tiny-if",
}
PROMPT = "a red circle above a blue square"
TARGET = 0.05  # the studio may be at most 5 % slower than the plain call
COLUMNS = (
    "family",
    "model",
    "pipeline",
    "plain (ms)",
    "studio (ms)",
    "ratio",
    "paired overhead",
    "same image",
    "verdict",
)


@dataclass
class FamilyRun:
    """One family's two sides and their timings."""

    family: str
    model: str
    pipeline: str = "-"
    run_plain: Callable[[], object] | None = None
    run_studio: Callable[[], object] | None = None
    plain: list[float] = field(default_factory=list)
    studio: list[float] = field(default_factory=list)
    same_image: bool | None = None
    error: str | None = None


def plain_pipeline(manager, name: str):
    """The diffusers pipeline a user would load from `name`'s folder, set up like the manager's (dtype, device, no
    progress bar), with the default scheduler the manager starts from."""
    import diffusers

    entry = manager.entry(name)
    kwargs = {"dtype": manager.dtype, "use_safetensors": True, "local_files_only": True}
    pipe = diffusers.DiffusionPipeline.from_pretrained(entry.source, **kwargs)
    if isinstance(pipe, diffusers.KandinskyV22Pipeline):  # a decoder: the combined pipeline with its prior
        prior_entry = manager.extra_entry(entry, "prior")
        prior = diffusers.KandinskyV22PriorPipeline.from_pretrained(prior_entry.source, **kwargs)
        parts = {f"prior_{key}": value for key, value in prior.components.items()}
        pipe = diffusers.KandinskyV22CombinedPipeline(**pipe.components, **parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(manager.device)


def set_sampler(pipe, sampler: str) -> None:
    """Gives `pipe` the scheduler the studio makes for `sampler` (the decoder's, for a combined pipeline)."""
    from pipelines.samplers import Sampler

    decoder = getattr(pipe, "decoder_pipe", None) or pipe
    scheduler = Sampler.from_label(sampler).make_scheduler(decoder.scheduler.config)
    decoder.scheduler = scheduler
    pipe.scheduler = scheduler


def prepare(manager, family: str, model: str, args) -> FamilyRun:
    """Both sides of one family, warmed up (the manager loads lazily), with their warm-up images compared."""
    import numpy as np
    import torch

    from pipelines.text_to_image import TextToImageRequest, text_to_image

    run = FamilyRun(family, model)
    entry = manager.entry(model)
    request = TextToImageRequest(
        PROMPT, model=model, sampler=args.sampler, steps=args.steps, cfg_scale=args.cfg, seed=args.seed
    )
    plain = plain_pipeline(manager, model)
    set_sampler(plain, args.sampler)
    run.pipeline = type(plain).__name__

    def run_plain():
        with torch.inference_mode() if args.plain_inference_mode else contextlib.nullcontext():
            return plain(
                prompt=PROMPT,
                num_inference_steps=args.steps,
                guidance_scale=args.cfg,
                width=entry.native_size,
                height=entry.native_size,
                num_images_per_prompt=1,
                generator=[torch.Generator("cpu").manual_seed(args.seed)],
            ).images

    def run_studio():
        return text_to_image(manager, request).images

    run.run_plain, run.run_studio = run_plain, run_studio
    try:
        ours = run_studio()[0]
        theirs = run_plain()[0]
    except Exception as e:  # the table says which family fails and why; the others still run
        logger.exception("%s: warm-up failed", model)
        run.error = f"{type(e).__name__}: {e}".replace("|", "/").replace("\n", " ")[:200]
        return run
    run.same_image = bool(np.array_equal(np.asarray(ours), np.asarray(theirs)))
    return run


def measure(runs: list[FamilyRun], rounds: int) -> None:
    """`rounds` paired calls per family; the order alternates every round, the families interleave in a round."""
    for i in range(rounds):
        for j, run in enumerate(runs):
            if run.error:
                continue
            sides = [(run.run_plain, run.plain), (run.run_studio, run.studio)]
            for fn, times in sides if (i + j) % 2 == 0 else sides[::-1]:
                started = time.perf_counter()
                fn()
                times.append(time.perf_counter() - started)


def summarise(run: FamilyRun, quick: bool) -> dict[str, str]:
    """One table row."""
    row = dict.fromkeys(COLUMNS, "-")
    row.update(family=run.family, model=run.model, pipeline=run.pipeline)
    if run.error:
        row.update(ratio="nan", verdict=f"ERROR: {run.error}")
        return row
    plain, studio = statistics.median(run.plain), statistics.median(run.studio)
    ratio = studio / plain
    overhead = statistics.median(s / p - 1 for s, p in zip(run.studio, run.plain))
    row.update(
        {
            "plain (ms)": f"{plain * 1000:.1f}",
            "studio (ms)": f"{studio * 1000:.1f}",
            "ratio": f"{ratio:.3f}",
            "paired overhead": f"{overhead * 100:+.1f} %",
            "same image": "yes" if run.same_image else "NO",
            "verdict": "-" if quick else ("ok" if overhead <= TARGET and math.isfinite(overhead) else "over"),
        }
    )
    return row


def format_table(rows: list[dict[str, str]]) -> str:
    """A Markdown table, one line per family (README-ready)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row[c] for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default=",".join(FAMILY_MODELS), help=f"comma list: {', '.join(FAMILY_MODELS)}")
    parser.add_argument("--rounds", type=int, default=None, help="paired rounds after the warm-up (9; quick 3)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (20; quick 4)")
    parser.add_argument("--sampler", default="DPM++ 2M", help="a studio sampler label (the studio's default)")
    parser.add_argument("--cfg", type=float, default=5.0, help="classifier-free guidance scale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (the manager's and the plain pipelines')")
    parser.add_argument("--root", type=Path, default=None, help="folder for the tiny models (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 4 steps; no ok/over verdict")
    parser.add_argument(
        "--plain-inference-mode",
        action="store_true",
        help="run the plain call under torch.inference_mode() as the studio does (diffusers' own is no_grad), to "
        "isolate the studio's own cost",
    )
    args = parser.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in FAMILY_MODELS]
    if unknown:
        parser.error(f"--families: unknown {unknown}; known: {', '.join(FAMILY_MODELS)}")
    args.rounds = args.rounds or (3 if args.quick else 9)
    args.steps = args.steps or (4 if args.quick else 20)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from pipelines.devices import dtype_name
    from pipelines.manager import ManagerConfig, PipelineManager
    from pipelines.testing import build_family_folders

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp)
        config = root / "models.toml" if (root / "models.toml").is_file() else build_family_folders(root)
        manager = PipelineManager(
            ManagerConfig(models_dir=None, config_path=config, device=args.device, offline=True, include_hub=False)
        )
        runs = [prepare(manager, family, FAMILY_MODELS[family], args) for family in families]
        measure(runs, args.rounds)
    rows = [summarise(run, args.quick) for run in runs]
    plain_mode = "inference_mode" if args.plain_inference_mode else "diffusers' no_grad"
    print(
        f"bench.families: studio text_to_image vs plain diffusers, {manager.device} ({dtype_name(manager.dtype)}), "
        f"{args.sampler}, {args.steps} steps, CFG {args.cfg:g}, {args.rounds} paired rounds, "
        f"threads={torch.get_num_threads()}, plain call under {plain_mode}, target paired overhead <= {TARGET:.0%}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    print()
    print(format_table(rows))
    sys.stdout.flush()
    return rows


if __name__ == "__main__":
    main()
