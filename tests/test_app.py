"""The front door: importing app.py builds the UI and nothing else; flags map onto the manager config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_builds_demo_but_loads_nothing():
    code = (
        "import sys, threading, app, gradio as gr\n"
        "assert isinstance(app.demo, gr.Blocks)\n"
        "assert 'diffusers' not in sys.modules, 'diffusers imported at start'\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "--port", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def test_flags_make_the_manager_config(tmp_path):
    import app

    args = app.parse_args(
        [
            "--models-dir",
            str(tmp_path),
            "--device",
            "cpu",
            "--dtype",
            "fp32",
            "--memory-budget",
            "512MB",
            "--offload",
            "none",
            "--offline",
            "--port",
            "7999",
        ]
    )
    config = app.make_config(args)
    assert config.models_dir == tmp_path and config.device == "cpu" and config.dtype == "fp32"
    assert config.memory_budget == 512 * 2**20 and config.offload == "none" and config.offline
    assert args.port == 7999 and args.host is None and not args.share  # no --host: GRADIO_SERVER_NAME decides
