"""The diffusion studio's front door: `python app.py` serves it; `demo` is importable (Hugging Face Spaces).

Importing this module builds the UI with default settings; it loads no model, starts no thread and does not read
sys.argv, except on ZeroGPU (`SPACES_ZERO_GPU`), which requires the models on CUDA at import: there the default
model is loaded while `demo` is built.
"""

from __future__ import annotations

import os

if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("true", "1"):
    import spaces  # noqa: F401  (ZeroGPU: imported before anything initialises CUDA)

import argparse
import logging
import threading
from pathlib import Path

from pipelines.devices import parse_size
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import DEFAULT_MODELS_DIR
from studio import build_app, launch_options, zerogpu

ON_SPACES = os.environ.get("SYSTEM") == "spaces"  # how Gradio itself knows it runs on a Space


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Diffusion studio: text-to-image methods in a browser.")
    parser.add_argument(
        "--host",
        default=None,
        help="interface to serve on, e.g. 0.0.0.0 for all (default: GRADIO_SERVER_NAME, else 127.0.0.1)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to serve on (default: GRADIO_SERVER_PORT, else 7860)"
    )
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
        "--preload",
        action=argparse.BooleanOptionalAction,
        default=ON_SPACES,
        help="load the default model in the background once the page is served (default: on a Space)",
    )
    parser.add_argument(
        "--zerogpu",
        action="store_true",
        default=zerogpu.enabled(),
        help="Hugging Face ZeroGPU mode: models on CUDA at start, GPU work in @spaces.GPU (default: SPACES_ZERO_GPU)",
    )
    parser.add_argument("--mcp", action="store_true", help="also serve the studio's actions as MCP tools")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 helps on a busy 2-core machine)",
    )
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace | None = None) -> ManagerConfig:
    if args is None:
        return ManagerConfig(zerogpu=zerogpu.enabled())
    return ManagerConfig(
        models_dir=args.models_dir,
        config_path=args.config,
        device=args.device,
        dtype=args.dtype,
        memory_budget=args.memory_budget,
        offload=args.offload,
        offline=args.offline,
        zerogpu=args.zerogpu,
    )


def create_manager(config: ManagerConfig) -> PipelineManager:
    """The one manager. Nothing is loaded until the first request, except on ZeroGPU (see the module docstring)."""
    manager = PipelineManager(config)
    if config.zerogpu:
        manager.preload()  # ZeroGPU hands what is on CUDA at start to every GPU call
    return manager


manager = create_manager(make_config())
demo = build_app(manager)  # for Spaces (`app_file: app.py`) and `gradio app.py` reloads


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    served_manager, served = manager, demo
    config = make_config(args)
    if config != manager.config:  # other flags than the defaults: a manager and UI of their own
        served_manager = create_manager(config)
        served = build_app(served_manager)
    if args.preload and not config.zerogpu:  # loads while the server starts and the first visitor reads the page
        threading.Thread(target=served_manager.preload, name="preload", daemon=True).start()
    # None lets Gradio read GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (a Space's proxy needs 0.0.0.0).
    served.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        mcp_server=args.mcp,
        prevent_thread_lock=True,
        **launch_options(),
    )
    served.block_thread()


if __name__ == "__main__":
    main()
