"""Benchmarks the studio's spine against plain diffusers, and the app's start-up.

    python -m bench.spine [--model-dir assets/models/shapes-sd] [--steps 20] [--rounds 9] [--threads 1]

Prints one table:
- `/txt2img` path (pipelines.text_to_image through the manager) vs a plain
  `StableDiffusionPipeline.from_pretrained(folder)` call, same model, sampler, steps and seed, paired runs
  in one process, alternating order: median time of each and median paired overhead (target <= 5 %);
- the same request through gradio_client against the app launched in this process (HTTP + queue + PNG);
- `python app.py` in a fresh process, with and without `--preload`: start → page served, start → first image (the
  request sent as soon as the page answers), peak RSS of that process; the target is first image ≤ page time +
  1.5 × a warm image; and the wait after the first Generate of a visitor who reads the page for `--think` seconds;
- peak RSS of this process.
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "assets" / "models" / "shapes-sd"
PROMPT = "a red circle on the left"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _model_folder(arg: Path | None, tmp: Path) -> Path:
    if arg is not None:
        return arg
    if (DEFAULT_MODEL / "model_index.json").is_file():
        return DEFAULT_MODEL
    from pipelines.testing import build_tiny_sd_folder

    return build_tiny_sd_folder(tmp / "tiny-sd")


def _paired(manager, folder: Path, steps: int, rounds: int, sampler: str) -> dict:
    import torch
    from diffusers import StableDiffusionPipeline

    from pipelines.samplers import Sampler
    from pipelines.text_to_image import TextToImageRequest, text_to_image

    plain = StableDiffusionPipeline.from_pretrained(folder, use_safetensors=True, local_files_only=True)
    plain.set_progress_bar_config(disable=True)
    plain.scheduler = Sampler.from_label(sampler).make_scheduler(plain.scheduler.config)
    entry = manager.entry(folder.name)
    size = entry.native_size
    request = TextToImageRequest(PROMPT, model=folder.name, steps=steps, seed=0, sampler=sampler)

    def run_plain():
        plain(
            PROMPT,
            num_inference_steps=steps,
            guidance_scale=request.cfg_scale,
            height=size,
            width=size,
            generator=[torch.Generator("cpu").manual_seed(0)],
        )

    def run_ours():
        text_to_image(manager, request)

    run_plain(), run_ours()  # warm-up (and the manager's lazy load)
    plain_t, ours_t, ratios = [], [], []
    for i in range(rounds):
        order = (run_plain, run_ours) if i % 2 == 0 else (run_ours, run_plain)
        times = {}
        for fn in order:
            start = time.perf_counter()
            fn()
            times[fn] = time.perf_counter() - start
        plain_t.append(times[run_plain])
        ours_t.append(times[run_ours])
        ratios.append(times[run_ours] / times[run_plain] - 1)
    return {
        "plain": statistics.median(plain_t),
        "ours": statistics.median(ours_t),
        "overhead": statistics.median(ratios),
        "size": size,
    }


def _client_runs(manager, folder: Path, steps: int, rounds: int, sampler: str) -> float:
    from gradio_client import Client

    from studio import build_app, launch_options

    demo = build_app(manager)
    demo.launch(
        prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True, **launch_options()
    )
    try:
        client = Client(demo.local_url, verbose=False)
        kwargs = dict(prompt=PROMPT, model=folder.name, steps=steps, seed=0, sampler=sampler, api_name="/txt2img")
        client.predict(**kwargs)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            client.predict(**kwargs)
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        demo.close()


def _app_start(folder: Path, steps: int, threads: int | None, preload: bool, think: float = 0.0) -> dict:
    """`python app.py` in a fresh process; the first request goes `think` seconds after the page answers."""
    from gradio_client import Client

    port = _free_port()
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--models-dir", str(folder.parent), "--offline"]
    cmd += ["--preload" if preload else "--no-preload"]
    if threads:
        cmd += ["--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        served = time.perf_counter() - start
        client = Client(url, verbose=False)
        time.sleep(think)  # a visitor reading the page before pressing Generate
        clicked = time.perf_counter()
        client.predict(prompt=PROMPT, model=folder.name, steps=steps, seed=0, api_name="/txt2img")
        first_image = time.perf_counter() - start
        first_wait = time.perf_counter() - clicked
        warm = time.perf_counter()
        client.predict(prompt=PROMPT, model=folder.name, steps=steps, seed=1, api_name="/txt2img")
        warm = time.perf_counter() - warm
        rss = _peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"served": served, "first_image": first_image, "first_wait": first_wait, "warm": warm, "rss": rss}


def _start_rows(flag: str, start: dict) -> list[tuple[str, str]]:
    target = start["served"] + 1.5 * start["warm"]
    verdict = "ok" if start["first_image"] <= target else "over"
    return [
        (f"app.py{flag}: start -> page served", f"{start['served']:.1f} s"),
        (
            f"app.py{flag}: start -> first image (target <= page + 1.5 x warm = {target:.1f} s)",
            f"{start['first_image']:.1f} s ({verdict}; warm image {start['warm']:.2f} s)",
        ),
        (f"app.py{flag}: peak RSS", f"{start['rss']:.0f} MB"),
    ]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None, help="a diffusers SD folder (default: shapes-sd)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sampler", default="DDIM")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--think", type=float, default=3.0, help="seconds a visitor reads the page before Generate")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from pipelines.manager import ManagerConfig, PipelineManager

    with tempfile.TemporaryDirectory() as tmp:
        folder = _model_folder(args.model_dir, Path(tmp)).resolve()
        manager = PipelineManager(ManagerConfig(models_dir=folder.parent, device="cpu", offline=True))
        paired = _paired(manager, folder, args.steps, args.rounds, args.sampler)
        client = _client_runs(manager, folder, args.steps, args.rounds, args.sampler)
        cold = _app_start(folder, args.steps, args.threads, preload=False)
        preloaded = _app_start(folder, args.steps, args.threads, preload=True)
        cold_reader = _app_start(folder, args.steps, args.threads, preload=False, think=args.think)
        preloaded_reader = _app_start(folder, args.steps, args.threads, preload=True, think=args.think)
    own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        (
            "model",
            f"{folder.name} ({paired['size']}x{paired['size']}, {args.sampler}, {args.steps} steps, "
            f"threads={torch.get_num_threads()})",
        ),
        ("plain diffusers call (median)", f"{paired['plain'] * 1000:.1f} ms"),
        ("/txt2img path: text_to_image via manager (median)", f"{paired['ours'] * 1000:.1f} ms"),
        ("median paired overhead (target <= 5 %)", f"{paired['overhead'] * 100:+.1f} %"),
        (
            "/txt2img via gradio_client, in process (median)",
            f"{client * 1000:.1f} ms ({(client / paired['plain'] - 1) * 100:+.1f} %)",
        ),
        *_start_rows("", cold),
        *_start_rows(" --preload", preloaded),
        (
            f"app.py: first Generate {args.think:g} s after the page -> image",
            f"{cold_reader['first_wait']:.2f} s (warm image {cold_reader['warm']:.2f} s)",
        ),
        (
            f"app.py --preload: first Generate {args.think:g} s after the page -> image",
            f"{preloaded_reader['first_wait']:.2f} s (warm image {preloaded_reader['warm']:.2f} s)",
        ),
        ("peak RSS, bench process", f"{own_rss:.0f} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
