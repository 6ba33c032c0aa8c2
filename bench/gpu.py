"""GPU readiness, measured: SD 1.5 and SDXL at their published sizes (random weights), through the studio's own path.

    python -m bench.gpu                  # full size, on the best device (CUDA); about 5 minutes on one H200 (est.)
    python -m bench.gpu --smoke          # the same code, architectures scaled down, 128 px, 2 steps, CPU (< 2 min)

The models are built from the published configs kept in `bench/gpu_configs/<family>/*.json` (stable-diffusion-v1-5,
stable-diffusion-xl-base-1.0) with random weights — nothing is downloaded — and saved as diffusers folders
(safetensors, in the run's dtype) under `--cache-dir`; the tokenizer is the shapes world's word-level one with
`model_max_length` 77, so prompts pad to 77 tokens as CLIP's do, over the text encoders' full 49,408-row embeddings.
There is no safety checker (the real SD 1.5 folder has one; neither side here runs it).

They load through the studio's real code: a `--config` JSON of local folders → `PipelineManager(ManagerConfig(...))`
→ `text_to_image(manager, TextToImageRequest(...))`. Prints one table, per model:
- it/s of the denoising loop (device-synchronised step callbacks) and seconds per call, the studio's text to image
  against the plain diffusers pipeline (`StableDiffusion[XL]Pipeline.from_pretrained(folder)` on the same folder,
  dtype, device, sampler, steps, size, seeds), paired and alternating in one process, batch 1 and 4;
  target: studio ≥ 0.95 × plain with offload off;
- per offload mode (the manager's `offload` option, with `--memory-budget`): peak device memory during start-up and
  the first image (`torch.cuda.max_memory_allocated` / `max_memory_reserved`; on CPU the process's peak RSS), the
  mode the manager applied, manager start → first image (in process: imports and CUDA start excluded); target:
  peak reserved ≤ budget + 10 % (the budget counts weights only, so "none" and "auto" can exceed it by design);
- the UNet's FLOPs per denoising step counted by `torch.utils.flop_counter.FlopCounterMode` (CFG doubles the batch),
  achieved FLOP/s of the UNet alone and inside the studio's loop, against the device's dense bf16/fp16 peak, naming
  the attention processor, the SDPA kernel that ran and the dtype; target: ≥ 40 % of peak for SDXL, 1024², batch 4.

Needs the project's requirements (diffusers, transformers, accelerate) with a CUDA build of torch; nothing else.
`--time-limit` (450 s by default on the full run) skips what is left after it and still prints the table, and
every row is also logged to stderr as it is measured, so a killed run keeps what it had.

`--channels-last`, `--compile blocks|full` and `--attention flash|efficient|cudnn|math` apply candidate fixes to the
studio's side only (the plain pipeline stays the reference), so the ratio shows what a fix would buy.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import logging
import math
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.spine import PROMPT

logger = logging.getLogger("bench.gpu")

CONFIGS = Path(__file__).resolve().parent / "gpu_configs"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "diffusion-studio" / "bench-gpu"
MAX_LENGTH = 77  # CLIP's context length: prompts are padded to it, as with the real tokenizers
CFG_SCALE = 5.0  # the studio's default; > 1, so every step runs the UNet on [negative; positive] (2 x batch)
BUDGET_SLACK = 1.10  # target: peak device memory <= budget + 10 %
UTILISATION_TARGET = 0.40  # target: UNet >= 40 % of the dense bf16 peak at SDXL, 1024², batch 4

# family -> (diffusers pipeline class, its model components, a name for the registry)
FAMILIES = {
    "sd15": ("StableDiffusionPipeline", ("unet", "vae", "text_encoder")),
    "sdxl": ("StableDiffusionXLPipeline", ("unet", "vae", "text_encoder", "text_encoder_2")),
}
OFFLOAD_ORDER = ("none", "model", "group", "sequential", "auto")

# Dense (no sparsity) fp16/bf16 tensor-core peaks in TFLOP/s, by a substring of torch.cuda.get_device_name();
# first match wins, so longer names come first. Vendor datasheets; T4 has no bf16 (its fp16 peak is listed).
PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("GH200", 989.0),
    ("H200", 989.0),  # SXM
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM ("NVIDIA H100 80GB HBM3")
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", 125.0),
    ("A10", 125.0),
    ("T4", 65.0),
)


def peak_tflops(device_name: str) -> float | None:
    """The dense bf16/fp16 peak of a device by its name, or None when it is not in `PEAK_TFLOPS`."""
    for key, value in PEAK_TFLOPS:
        if key in device_name:
            return value
    return None


# ----------------------------------------------------------------------------- building the folders
def load_configs(family: str, smoke: bool) -> dict[str, dict]:
    """The published component configs of `family`; with `smoke`, overridden by `gpu_configs/smoke.json`."""
    _, components = FAMILIES[family]
    configs = {
        name: json.loads((CONFIGS / family / f"{name}.json").read_text()) for name in (*components, "scheduler")
    }
    if smoke:
        for name, overrides in json.loads((CONFIGS / "smoke.json").read_text())[family].items():
            configs[name].update(overrides)
    return configs


def build_components(configs: dict[str, dict], device) -> dict:
    """Random-weight UNet, VAE and CLIP text encoder(s) from `configs` (see `load_configs`), created on `device`
    ("meta" builds the architecture without memory: the tests count its parameters that way)."""
    import diffusers
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    def text_model(name: str, cls):
        config = {k: v for k, v in configs[name].items() if k not in ("architectures", "torch_dtype", "dtype")}
        return cls(CLIPTextConfig.from_dict(config))

    with torch.device(device):
        parts = {
            "unet": diffusers.UNet2DConditionModel.from_config(configs["unet"]),
            "vae": diffusers.AutoencoderKL.from_config(configs["vae"]),
            "text_encoder": text_model("text_encoder", CLIPTextModel),
        }
        if "text_encoder_2" in configs:
            parts["text_encoder_2"] = text_model("text_encoder_2", CLIPTextModelWithProjection)
    return parts


def build_folder(family: str, dest: Path, *, smoke: bool, dtype, device) -> Path:
    """Saves a random-weight pipeline of `family` to `dest` (diffusers layout, safetensors in `dtype`).

    Reuses `dest` when it was built from the same configs and dtype (its `bench_build.json` says so). Weights are
    initialised on `device` (seconds for SDXL's 2.6 B-parameter UNet on a GPU), moved to the CPU and saved.
    """
    import diffusers
    import torch

    from pipelines.shapes.tokenizer import build_tokenizer

    configs = load_configs(family, smoke)
    stamp = {"family": family, "smoke": smoke, "dtype": str(dtype), "configs": configs}
    marker = dest / "bench_build.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        logger.info("reusing %s", dest)
        return dest
    if dest.exists():
        if not marker.is_file() and any(dest.iterdir()):
            raise ValueError(f"`--cache-dir` entry {dest} exists and was not built by bench.gpu; pick another dir")
        shutil.rmtree(dest)
    started = time.perf_counter()
    torch.manual_seed(0)

    # Initialised on `device` (fast on a GPU), kept and saved from the CPU: the GPU is empty when the bench starts.
    parts = {k: v.to(device="cpu", dtype=dtype).eval() for k, v in build_components(configs, device).items()}
    scheduler_cfg = configs["scheduler"]
    scheduler = getattr(diffusers, scheduler_cfg["_class_name"]).from_config(scheduler_cfg)
    tokenizer = build_tokenizer()
    tokenizer.model_max_length = MAX_LENGTH
    pipe_cls = getattr(diffusers, FAMILIES[family][0])
    if family == "sdxl":
        pipe = pipe_cls(**parts, tokenizer=tokenizer, tokenizer_2=tokenizer, scheduler=scheduler)
    else:
        pipe = pipe_cls(
            **parts,
            tokenizer=tokenizer,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipe.save_pretrained(dest, safe_serialization=True)
    marker.write_text(json.dumps(stamp, indent=1))
    del pipe, parts
    _free(device)
    logger.info("built %s in %.1f s", dest, time.perf_counter() - started)
    return dest


# ----------------------------------------------------------------------------- device helpers
def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device) -> None:
    import torch

    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()


def _reset_peak(device) -> None:
    import torch

    _free(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # Linux: resets VmHWM (peak RSS) to the current RSS


def _peak(device) -> tuple[float, float]:
    """(peak allocated, peak reserved) bytes on CUDA since `_reset_peak`; on CPU (peak RSS, peak RSS)."""
    import torch

    if device.type == "cuda":
        return float(torch.cuda.max_memory_allocated(device)), float(torch.cuda.max_memory_reserved(device))
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) * 1024.0
            return rss, rss
    return math.nan, math.nan


def _warm_device(device) -> None:
    """Initialises cuBLAS and cuDNN once, so the first offload mode measured does not pay for it alone."""
    import torch

    if device.type == "cuda":
        x = torch.ones(1, 8, 16, 16, device=device, dtype=torch.float16)
        torch.nn.functional.conv2d(x, torch.ones(8, 8, 3, 3, device=device, dtype=torch.float16))
        x.flatten(1) @ x.flatten(1).T
        _sync(device)


def _device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


class StepClock:
    """Device-synchronised timestamps at every step callback: it/s is the denoising loop's own rate."""

    def __init__(self, device):
        self.device = device
        self.times: list[float] = []

    def tick(self, *_args) -> None:  # the studio's on_step(StepInfo)
        _sync(self.device)
        self.times.append(time.perf_counter())

    def callback(self, pipe, i, t, kwargs):  # diffusers' callback_on_step_end
        self.tick()
        return kwargs

    def its(self) -> float:
        steps = len(self.times) - 1
        return steps / (self.times[-1] - self.times[0]) if steps > 0 else math.nan


# ----------------------------------------------------------------------------- the two sides
@dataclass
class Call:
    wall: float  # seconds for the whole call (encode + loop + decode), synchronised
    its: float  # denoising steps per second, from step callbacks


def studio_call(manager, name: str, *, batch: int, steps: int, size: int, sampler: str, attention) -> Call:
    """One request through the studio's text-to-image action (the /txt2img path minus HTTP)."""
    from pipelines.text_to_image import TextToImageRequest, text_to_image

    request = TextToImageRequest(
        prompt=PROMPT,
        model=name,
        sampler=sampler,
        steps=steps,
        cfg_scale=CFG_SCALE,
        seed=0,
        width=size,
        height=size,
        batch_size=batch,
    )
    clock = StepClock(manager.device)
    with attention():
        _sync(manager.device)
        start = time.perf_counter()
        text_to_image(manager, request, on_step=clock.tick)
        _sync(manager.device)
    return Call(time.perf_counter() - start, clock.its())


def plain_call(pipe, device, *, batch: int, steps: int, size: int) -> Call:
    """The same request as a plain diffusers pipeline call (same seeds: one CPU generator per image)."""
    import torch

    clock = StepClock(device)
    generators = [torch.Generator("cpu").manual_seed(i) for i in range(batch)]
    _sync(device)
    start = time.perf_counter()
    pipe(
        prompt=PROMPT,
        negative_prompt=None,
        num_inference_steps=steps,
        guidance_scale=CFG_SCALE,
        width=size,
        height=size,
        num_images_per_prompt=batch,
        generator=generators,
        callback_on_step_end=clock.callback,
        callback_on_step_end_tensor_inputs=["latents"],
    )
    _sync(device)
    return Call(time.perf_counter() - start, clock.its())


def paired(run_studio, run_plain, rounds: int) -> dict:
    """Warm-up, then `rounds` pairs in alternating order (as bench.spine does); medians and the median ratio."""
    run_studio(), run_plain()
    studio, plain, its_ratio, wall_ratio = [], [], [], []
    for i in range(rounds):
        if i % 2 == 0:
            p, s = run_plain(), run_studio()
        else:
            s, p = run_studio(), run_plain()
        studio.append(s)
        plain.append(p)
        its_ratio.append(s.its / p.its)
        wall_ratio.append(s.wall / p.wall)
    return {
        "studio_its": statistics.median(c.its for c in studio),
        "plain_its": statistics.median(c.its for c in plain),
        "its_ratio": statistics.median(its_ratio),
        "studio_wall": statistics.median(c.wall for c in studio),
        "plain_wall": statistics.median(c.wall for c in plain),
        "wall_ratio": statistics.median(wall_ratio),
    }


# ----------------------------------------------------------------------------- the UNet alone
def unet_inputs(pipe, *, batch: int, size: int) -> tuple[tuple, dict]:
    """The UNet's inputs for one denoising step of a `batch`-image request at `size`² under CFG (2 x batch)."""
    import torch

    unet = pipe.unet
    c = unet.config
    device, dtype = unet.device, unet.dtype
    n = batch * (2 if CFG_SCALE > 1 else 1)
    side = size // pipe.vae_scale_factor
    sample = torch.randn(n, c.in_channels, side, side, device=device, dtype=dtype)
    timestep = torch.tensor(999, device=device)
    context = torch.randn(n, MAX_LENGTH, c.cross_attention_dim, device=device, dtype=dtype)
    kwargs = {}
    if c.addition_embed_type == "text_time":
        pooled = c.projection_class_embeddings_input_dim - 6 * c.addition_time_embed_dim
        kwargs["added_cond_kwargs"] = {
            "text_embeds": torch.randn(n, pooled, device=device, dtype=dtype),
            "time_ids": torch.tensor([[size, size, 0, 0, size, size]], device=device, dtype=dtype).repeat(n, 1),
        }
    return (sample, timestep, context), kwargs


def count_unet_flops(pipe, *, batch: int, size: int, attention) -> tuple[int, str]:
    """FLOPs of one UNet forward (one denoising step), counted by FlopCounterMode under the `attention` context;
    and the SDPA kernel(s) that ran (the math fallback shows as bmm)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(query, key, value, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query, key, value)

    # PyTorch's table misses the CPU flash kernel; count it with the same formula as the CUDA ones.
    custom = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    args, kwargs = unet_inputs(pipe, batch=batch, size=size)
    with torch.inference_mode(), attention(), FlopCounterMode(display=False, custom_mapping=custom) as counter:
        pipe.unet(*args, **kwargs)
    ops = counter.get_flop_counts().get("Global", {})
    kernels = sorted(
        {
            str(op).removeprefix("aten._scaled_dot_product_").removesuffix("_attention")
            for op in ops
            if "dot_product" in str(op)
        }
    )
    return counter.get_total_flops(), "+".join(kernels) or "math (bmm)"


def time_unet(pipe, *, batch: int, size: int, attention, reps: int) -> float:
    """Median seconds of one UNet forward (synchronised), after two warm-up calls."""
    import torch

    args, kwargs = unet_inputs(pipe, batch=batch, size=size)
    device = pipe.unet.device
    times = []
    with torch.inference_mode(), attention():
        for i in range(reps + 2):
            _sync(device)
            start = time.perf_counter()
            pipe.unet(*args, **kwargs)
            _sync(device)
            if i >= 2:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


# ----------------------------------------------------------------------------- candidate fixes (studio side)
def attention_context(backend: str):
    """A factory of contexts restricting SDPA to `backend` ("default" = let PyTorch choose)."""
    if backend == "default":
        return contextlib.nullcontext
    from torch.nn.attention import SDPBackend, sdpa_kernel

    kernel = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "math": SDPBackend.MATH,
    }[backend]
    return lambda: sdpa_kernel(kernel)


def apply_fixes(pipe, *, channels_last: bool, compile_mode: str) -> list[str]:
    """Applies the chosen candidate fixes to the studio's shared pipeline in place; returns their names."""
    import torch

    applied = []
    if channels_last:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        applied.append("channels-last")
    if compile_mode == "blocks":
        pipe.unet.compile_repeated_blocks(fullgraph=True)
        applied.append("compile_repeated_blocks")
    elif compile_mode == "full":
        pipe.unet.compile()
        applied.append("torch.compile(unet)")
    return applied


# ----------------------------------------------------------------------------- one model
@dataclass
class Row:
    model: str
    batch: str
    measure: str
    value: str
    target: str = "-"
    verdict: str = "-"


@dataclass
class ModelResult:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        logger.info("row: %s", " | ".join(str(getattr(row, c)) for c in COLUMNS))  # survives a killed run


def _gb(n: float) -> str:
    return f"{n / 2**30:.2f} GB"


def _flops(n: float) -> str:
    """FLOPs (or FLOP/s, with the unit's suffix added by the caller) with an SI prefix: 1.23 T, 45.6 G."""
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {prefix}"
    return f"{n:.3g} "


def _size(manager, name: str, args) -> int:
    """`--size`, else the model's native size (512 for SD 1.5, 1024 for SDXL, 128 for the smoke models)."""
    return args.size or manager.entry(name).native_size


def _make_manager(config_path: Path, args, offload: str):
    from pipelines.manager import ManagerConfig, PipelineManager

    return PipelineManager(
        ManagerConfig(
            models_dir=None,
            config_path=config_path,
            device=args.device,
            dtype=args.dtype,
            memory_budget=args.budget,
            offload=offload,
            offline=True,
            include_hub=False,
        )
    )


def _error_text(e: BaseException) -> str:
    text = " ".join(f"{type(e).__name__}: {e}".split()).replace("|", "/")
    return text[:200] + ("..." if len(text) > 200 else "")


def _out_of_time(args) -> bool:
    return args.deadline is not None and time.perf_counter() > args.deadline


def _report_line(manager, name: str):
    return next(r for r in manager.report() if r.name == name)


def bench_offload_modes(out: ModelResult, name: str, config_path: Path, args):
    """One fresh manager per offload mode: peak memory from start-up to the first image, start -> first image.

    "none" goes last and its manager is returned still loaded, for the speed and FLOP rows (nothing else is
    resident while it is measured). A mode that fails or runs past `--time-limit` gets a row saying so.
    """
    cuda = args.device_obj.type == "cuda"
    budget_cap = args.budget * BUDGET_SLACK
    modes = [m for m in OFFLOAD_ORDER if m in args.offload_modes]
    _warm_device(args.device_obj)
    kept = None
    rows: dict[str, list[Row]] = {}
    batch = str(args.offload_batch)
    for mode in sorted(modes, key=lambda m: m == "none"):
        if _out_of_time(args) and mode != "none":
            rows[mode] = [Row(name, batch, f"peak memory, offload={mode}", "not run: --time-limit", "-", "SKIPPED")]
            continue
        candidate = None
        try:
            _reset_peak(args.device_obj)
            held = _peak(args.device_obj)[0] if cuda else 0.0  # what earlier modes left allocated (should be ~0)
            start = time.perf_counter()
            candidate = _make_manager(config_path, args, mode)
            candidate.pipeline(name)
            loaded = time.perf_counter() - start
            first = studio_call(
                candidate,
                name,
                batch=args.offload_batch,
                steps=args.offload_steps,
                size=_size(candidate, name, args),
                sampler=args.sampler,
                attention=contextlib.nullcontext,
            )
            total = time.perf_counter() - start
            alloc, reserved = _peak(args.device_obj)
            applied = _report_line(candidate, name).offload
            if cuda:
                value = f"{_gb(reserved)} reserved, {_gb(alloc)} allocated (applied: {applied})"
                if held > 2**26:
                    value += f"; {_gb(held)} was held before start"
                target = f"<= {_gb(budget_cap)}"
                verdict = "ok" if reserved <= budget_cap else "OVER"
            else:
                value = f"{_gb(reserved)} peak RSS of the process (cpu: offload not applied; applied: {applied})"
                target, verdict = "-", "-"
            rows[mode] = [
                Row(name, batch, f"peak memory, offload={mode}", value, target, verdict),
                Row(
                    name,
                    batch,
                    f"manager start -> first image, offload={mode}",
                    f"{total:.1f} s (load {loaded:.1f} s; {first.its:.2f} it/s over {args.offload_steps} steps)",
                ),
            ]
        except Exception as e:  # one mode failing must not cost the other rows of a one-shot GPU run
            logger.exception("offload=%s failed", mode)
            rows[mode] = [Row(name, batch, f"peak memory, offload={mode}", _error_text(e), "-", "ERROR")]
        if mode == "none" and rows[mode][0].verdict != "ERROR":
            kept = candidate
        elif candidate is not None:
            candidate.unload()
        candidate = None
        _free(args.device_obj)
    for mode in modes:
        for row in rows[mode]:
            out.add(row)
    return kept


def bench_model(family: str, folder: Path, args) -> list[Row]:
    """All rows for one model; a failure after the offload rows ends this model's rows with an ERROR row."""
    out = ModelResult()
    name = f"{family}-random" + ("-smoke" if args.smoke else "")
    config_path = folder.parent / f"{family}-models.json"
    config_path.write_text(json.dumps({"models": [{"name": name, "path": str(folder)}]}))
    manager = bench_offload_modes(out, name, config_path, args)
    try:
        if manager is None:  # the speed and FLOP rows need the un-offloaded model
            manager = _make_manager(config_path, args, "none")
        bench_speed(out, family, folder, name, manager, args)
    except Exception as e:
        logger.exception("%s failed", name)
        out.add(Row(name, "-", "speed and FLOP rows", _error_text(e), "-", "ERROR"))
    finally:
        if manager is not None:
            manager.unload()
        manager = None
        _free(args.device_obj)
    return out.rows


def bench_speed(out: ModelResult, family: str, folder: Path, name: str, manager, args) -> None:
    """The model row, the studio against the plain pipeline (paired), and the UNet's FLOP/s."""
    import diffusers
    import torch

    from pipelines.devices import dtype_name
    from pipelines.samplers import Sampler

    shared = manager.pipeline(name)
    size = _size(manager, name, args)
    line = _report_line(manager, name)
    unet_params = sum(p.numel() for p in shared.unet.parameters())
    out.add(
        Row(
            name,
            "-",
            "model",
            f"{size}x{size}, UNet {unet_params / 1e6:.0f} M params, {line.size_mb / 1024:.2f} GB of weights in "
            f"{line.dtype} on {line.device}",
        )
    )

    # 2. UNet FLOPs per step, counted on the eager model before any fix is applied.
    attention = attention_context(args.attention)
    flops = {b: count_unet_flops(shared, batch=b, size=size, attention=attention) for b in args.batches}
    fixes = apply_fixes(shared, channels_last=args.channels_last, compile_mode=args.compile)
    processors = sorted({type(p).__name__ for p in shared.unet.attn_processors.values()})

    # 3. The studio against the plain pipeline, paired.
    plain_cls = getattr(diffusers, FAMILIES[family][0])
    plain = plain_cls.from_pretrained(folder, dtype=manager.dtype, use_safetensors=True, local_files_only=True)
    plain.to(manager.device)
    plain.set_progress_bar_config(disable=True)
    plain.scheduler = Sampler.from_label(args.sampler).make_scheduler(plain.scheduler.config)
    speeds = {}
    for b in args.batches:
        if _out_of_time(args):
            out.add(Row(name, str(b), "it/s, studio vs plain (offload=none)", "not run: --time-limit", "-", "SKIPPED"))
            continue
        speeds[b] = s = paired(
            functools.partial(
                studio_call,
                manager,
                name,
                batch=b,
                steps=args.steps,
                size=size,
                sampler=args.sampler,
                attention=attention,
            ),
            functools.partial(plain_call, plain, manager.device, batch=b, steps=args.steps, size=size),
            args.rounds,
        )
        ratio = s["its_ratio"]
        out.add(
            Row(
                name,
                str(b),
                "it/s, studio vs plain (offload=none)",
                f"{s['studio_its']:.2f} vs {s['plain_its']:.2f} it/s ({ratio:.3f}x)",
                ">= 0.95x",
                "-" if args.smoke else "ok" if ratio >= 0.95 else "MISS",  # 2 steps on a busy CPU: noise
            )
        )
        out.add(
            Row(
                name,
                str(b),
                "s/call end to end, studio vs plain",
                f"{s['studio_wall']:.3f} vs {s['plain_wall']:.3f} s ({s['wall_ratio']:.3f}x)",
            )
        )
    del plain
    _free(manager.device)

    # 4. Achieved FLOP/s against the device's peak.
    peak = peak_tflops(_device_name(manager.device)) if manager.device.type == "cuda" else None
    half = manager.dtype in (torch.float16, torch.bfloat16)
    for b in args.batches:
        count, kernel = flops[b]
        label = (
            f"UNet FLOP/s ({dtype_name(manager.dtype)}, {'/'.join(processors)} -> sdpa {kernel}"
            + (f", {', '.join(fixes)}" if fixes else "")
            + ")"
        )
        if _out_of_time(args):
            out.add(Row(name, str(b), label, f"not run: --time-limit; {_flops(count)}FLOP/step", "-", "SKIPPED"))
            continue
        seconds = time_unet(shared, batch=b, size=size, attention=attention, reps=args.unet_reps)
        achieved = count / seconds
        value = f"{_flops(achieved)}FLOP/s alone"
        if b in speeds:
            in_loop = count * speeds[b]["studio_its"]
            value += f", {_flops(in_loop)}FLOP/s in the studio loop"
        value += f"; {_flops(count)}FLOP/step"
        target, verdict = "-", "-"
        if peak is None:
            value += "; unknown peak"
        elif not half:
            value += f"; peak {peak:.0f} T is for bf16/fp16, this run is {dtype_name(manager.dtype)}"
        else:
            share = achieved / (peak * 1e12)
            value += f"; {share * 100:.1f} % of {peak:.0f} T"
            if b in speeds:
                value += f" (loop {in_loop / (peak * 1e12) * 100:.1f} %)"
            if family == "sdxl" and b == 4 and size == 1024:
                target = f">= {UTILISATION_TARGET * 100:.0f} % of peak"
                verdict = "ok" if share >= UTILISATION_TARGET else "MISS"
        out.add(Row(name, str(b), label, value, target, verdict))


# ----------------------------------------------------------------------------- entry point
def _csv(cast):
    return lambda text: [cast(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="scaled-down architectures, 128 px, 2 steps, CPU")
    parser.add_argument("--models", type=_csv(str), default=["sd15", "sdxl"], help="comma list of sd15, sdxl")
    parser.add_argument("--batches", type=_csv(int), default=[1, 4])
    parser.add_argument("--steps", type=int, default=None, help="steps of the paired runs (default 20; smoke 2)")
    parser.add_argument("--offload-steps", type=int, default=None, help="steps per offload-mode run (4; smoke 2)")
    parser.add_argument("--offload-batch", type=int, default=1)
    parser.add_argument("--offload-modes", type=_csv(str), default=list(OFFLOAD_ORDER))
    parser.add_argument("--rounds", type=int, default=None, help="paired rounds after a warm-up (3; smoke 2)")
    parser.add_argument("--unet-reps", type=int, default=None, help="timed UNet forwards (10; smoke 2)")
    parser.add_argument("--size", type=int, default=None, help="image side in pixels (default: the model's native)")
    parser.add_argument("--sampler", default="DDIM")
    parser.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: the manager's choice; smoke cpu)")
    parser.add_argument("--dtype", default=None, help="fp32, fp16, bf16 (default bf16 on CUDA, fp32 on CPU)")
    parser.add_argument("--memory-budget", default="8GB", help="the manager's memory_budget (default 8GB)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help=f"built folders (default {DEFAULT_CACHE}; smoke a temp dir)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads when the device is the CPU (0 = default)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds after which the remaining measurements are skipped (rows say so) and the table is printed "
        "(default 450; smoke none)",
    )
    parser.add_argument("--channels-last", action="store_true", help="studio side: UNet and VAE in channels-last")
    parser.add_argument(
        "--compile", choices=("off", "blocks", "full"), default="off", help="studio side: torch.compile"
    )
    parser.add_argument(
        "--attention",
        choices=("default", "flash", "efficient", "cudnn", "math"),
        default="default",
        help="studio side: restrict SDPA to one kernel",
    )
    args = parser.parse_args(argv)
    for name in args.models:
        if name not in FAMILIES:
            parser.error(f"`--models` must name {', '.join(FAMILIES)}, got {name!r}")
    for mode in args.offload_modes:
        if mode not in OFFLOAD_ORDER:
            parser.error(f"`--offload-modes` must name {', '.join(OFFLOAD_ORDER)}, got {mode!r}")
    smoke = args.smoke
    args.steps = args.steps or (2 if smoke else 20)
    args.offload_steps = args.offload_steps or (2 if smoke else 4)
    args.rounds = args.rounds or (2 if smoke else 3)
    args.unet_reps = args.unet_reps or (2 if smoke else 10)
    if args.steps < 2 or args.offload_steps < 2:
        parser.error("`--steps` and `--offload-steps` must be at least 2 (it/s is timed between step callbacks)")
    if smoke and args.device is None:
        args.device = "cpu"
    if args.time_limit is None and not smoke:
        args.time_limit = 450.0
    return args


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before diffusers is imported: nothing here needs the Hub
    import diffusers
    import torch

    from pipelines import devices

    args.device_obj = devices.pick_device(args.device)
    if args.dtype is None:
        args.dtype = "bf16" if args.device_obj.type == "cuda" else "fp32"
    dtype = devices.pick_dtype(args.device_obj, args.dtype)
    args.budget = devices.parse_size(args.memory_budget)
    if args.device_obj.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    args.deadline = started + args.time_limit if args.time_limit else None
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        cache = args.cache_dir
        if cache is None:
            cache = Path(stack.enter_context(tempfile.TemporaryDirectory())) if args.smoke else DEFAULT_CACHE
        cache.mkdir(parents=True, exist_ok=True)
        for family in args.models:
            tag = f"{family}-{'smoke' if args.smoke else 'full'}-{args.dtype}"
            build_device = args.device_obj if args.device_obj.type == "cuda" else torch.device("cpu")
            try:
                folder = build_folder(
                    family, cache / tag / "model", smoke=args.smoke, dtype=dtype, device=build_device
                )
            except Exception as e:  # e.g. a full disk: the other model's rows still come
                logger.exception("building %s failed", family)
                rows.append(Row(family, "-", "build the random-weight folder", _error_text(e), "-", "ERROR"))
                continue
            rows += bench_model(family, folder, args)
            logger.info("%s done at %.0f s", family, time.perf_counter() - started)

    fixes = [
        *(["channels-last"] if args.channels_last else []),
        *([f"compile={args.compile}"] if args.compile != "off" else []),
        *([f"attention={args.attention}"] if args.attention != "default" else []),
    ]
    header = (
        f"bench.gpu{' --smoke' if args.smoke else ''}: {_device_name(args.device_obj)} ({args.device_obj}), "
        f"{args.dtype}, torch {torch.__version__}, diffusers {diffusers.__version__}; sampler {args.sampler}, "
        f"{args.steps} steps (offload rows {args.offload_steps}), CFG {CFG_SCALE}, memory budget "
        f"{_gb(args.budget)}, {args.rounds} paired rounds; studio-side fixes: {', '.join(fixes) or 'none'}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(header)
    print()
    print(format_table(rows))
    return rows


COLUMNS = ("model", "batch", "measure", "value", "target", "verdict")


def format_table(rows: list[Row]) -> str:
    """A Markdown table, one line per row (README-ready)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(getattr(row, c)) for c in COLUMNS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
