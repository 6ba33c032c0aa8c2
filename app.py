"""The diffusion studio's front door: `python app.py` serves it; `demo` is importable (Hugging Face Spaces).

Importing this module builds the UI with default settings; it loads no model, starts no thread and
does not read sys.argv.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipelines.devices import parse_size
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import DEFAULT_MODELS_DIR
from studio import build_app, launch_options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Diffusion studio: text-to-image methods in a browser.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve on (0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=DEFAULT_MODELS_DIR,
        help="folder of bundled diffusers models (default: assets/models)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML or JSON file listing local model folders (see pipelines/models.py)",
    )
    parser.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: best available)")
    parser.add_argument(
        "--dtype",
        choices=["fp32", "fp16", "bf16"],
        default=None,
        help="weights dtype (default: fp16 on GPU, fp32 on CPU)",
    )
    parser.add_argument(
        "--memory-budget",
        type=parse_size,
        default=None,
        help="memory for loaded models, e.g. 6GB (default: 80%% of free memory)",
    )
    parser.add_argument(
        "--offload",
        choices=["auto", "none", "model", "group", "sequential"],
        default="auto",
        help="CUDA offloading when a model does not fit the budget (default: auto)",
    )
    parser.add_argument("--offline", action="store_true", help="never contact the Hugging Face Hub")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 helps on a busy 2-core machine)",
    )
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace | None = None) -> ManagerConfig:
    if args is None:
        return ManagerConfig()
    return ManagerConfig(
        models_dir=args.models_dir,
        config_path=args.config,
        device=args.device,
        dtype=args.dtype,
        memory_budget=args.memory_budget,
        offload=args.offload,
        offline=args.offline,
    )


def create_demo(config: ManagerConfig | None = None):
    """One manager, one UI. Nothing is loaded until the first request."""
    return build_app(PipelineManager(config or ManagerConfig()))


demo = create_demo()  # for Spaces (`app_file: app.py`) and `gradio app.py` reloads


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    demo = create_demo(make_config(args))
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, **launch_options())
