"""A launched studio for the robustness suite, with its own model folder (a good model and two broken ones),
helpers to call it, and the tally printed at the end of the run (cases tried/passed, load, memory)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from robust_helpers import CORRUPT, PICKLE_ONLY, TALLY, TINY  # noqa: E402
from robust_helpers import OUTCOMES as _OUTCOMES  # noqa: E402

from pipelines.manager import ManagerConfig, PipelineManager
from studio import build_app, launch_options


# --------------------------------------------------------------------- the app
@pytest.fixture(scope="session")
def robust_models_dir(tmp_path_factory, tiny_folder) -> Path:
    """tiny-sd, plus a folder whose UNet is only a pickle and one whose UNet safetensors is truncated."""
    root = tmp_path_factory.mktemp("robust-models")
    shutil.copytree(tiny_folder, root / TINY)
    pickled = shutil.copytree(tiny_folder, root / PICKLE_ONLY)
    for f in (pickled / "unet").glob("*.safetensors"):
        f.unlink()
    (pickled / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04\x95 not really a pickle")
    corrupt = shutil.copytree(tiny_folder, root / CORRUPT)
    (weights,) = (corrupt / "unet").glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[:1000])
    return root


@pytest.fixture(scope="session")
def robust_manager(robust_models_dir) -> PipelineManager:
    return PipelineManager(ManagerConfig(models_dir=robust_models_dir, device="cpu", offline=True))


@pytest.fixture(scope="session")
def robust_app(robust_manager, tmp_path_factory):
    """(demo, url): the whole studio launched in this process, on a free port, with its own Gradio cache folder
    (so the soak counts only this app's temp files, not those of other test runs on the machine)."""
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio-cache"))
    demo = build_app(robust_manager)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **launch_options())
    try:
        yield demo, demo.local_url
    finally:
        demo.close()
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


@pytest.fixture(scope="session")
def robust_url(robust_app) -> str:
    return robust_app[1]


@pytest.fixture(scope="session")
def client(robust_url):
    from gradio_client import Client

    return Client(robust_url, verbose=False)


# --------------------------------------------------------------------- the tally
def pytest_runtest_logreport(report):
    if "tests/robustness/" not in report.nodeid.replace(os.sep, "/"):
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _OUTCOMES["tried"] += 1
        if report.passed:
            _OUTCOMES["passed"] += 1
        elif report.skipped:
            _OUTCOMES["skipped"] += 1
        else:
            _OUTCOMES["failed"] += 1


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES["tried"]:
        return
    rows = [
        ("robustness cases tried", _OUTCOMES["tried"]),
        ("cases passed", _OUTCOMES["passed"]),
        ("cases failed", _OUTCOMES["failed"]),
        ("cases skipped", _OUTCOMES["skipped"]),
    ]
    labels = {
        "bad_input_cases": "bad-input cases (each + a normal request after)",
        "load_requests": "requests served under load (8 clients)",
        "load_seconds": "load test wall time (s)",
        "fault_rss_growth_mb": "RSS growth over 20 faults (MB)",
        "soak_n": "soak generations",
        "soak_rss_growth_pct": "soak RSS growth (%)",
        "soak_fd_growth": "soak open-file growth",
        "soak_temp_growth": "soak temp-file growth (cache PNGs)",
    }
    rows += [(label, TALLY[key]) for key, label in labels.items() if key in TALLY]
    width = max(len(r[0]) for r in rows)
    tr = terminalreporter
    tr.write_sep("=", "robustness tally")
    tr.write_line(f"| {'what'.ljust(width)} | value |")
    tr.write_line(f"|{'-' * (width + 2)}|-------|")
    for label, value in rows:
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        tr.write_line(f"| {label.ljust(width)} | {shown} |")
