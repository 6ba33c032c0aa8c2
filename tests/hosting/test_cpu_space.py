"""A CPU Space from the repository alone: a clean venv from requirements.txt, the Spaces environment, `python app.py`,
and a generation through gradio_client, as a visitor's request would come. Also: the ZeroGPU pin set resolves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from launching import SPACES_ENV, free_port, listening, serve

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_a_clean_venv_from_requirements_serves_the_studio_like_a_space(tmp_path):
    venv = tmp_path / "space-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=780,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    port = free_port()
    env = {**SPACES_ENV, "GRADIO_SERVER_PORT": str(port), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    proc = serve([], env, port, python=str(python))
    try:
        assert listening(port) == {"0.0.0.0"}
        from gradio_client import Client

        gallery, seed, status, parameters = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            prompt="a red circle on the left", steps=4, seed=5, api_name="/txt2img"
        )
        assert seed == 5 and len(gallery) == 1 and "Model: shapes-sd" in parameters
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_zerogpu_pin_set_resolves_for_python_3_12(tmp_path):
    """ZeroGPU supports narrower versions than the CPU pins (see README, "Deploy to Spaces")."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--python-version",
            "3.12",
            "--target",
            str(tmp_path / "target"),
            "-r",
            str(ROOT / "requirements-zerogpu.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "torch-2.11.0" in out.stdout and "spaces-" in out.stdout
