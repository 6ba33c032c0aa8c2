"""Shared fixtures: a tiny random SD folder (offline, built once per session) and managers on it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

# The test machine is a small shared CPU: one intra-op thread avoids oversubscription stalls (10x here).
torch.set_num_threads(int(os.environ.get("STUDIO_TEST_THREADS", "1")))

from pipelines.manager import ManagerConfig, PipelineManager  # noqa: E402
from pipelines.testing import build_tiny_sd_folder  # noqa: E402

TINY = "tiny-sd"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """A models dir holding one tiny random-weight StableDiffusionPipeline folder named `tiny-sd`."""
    root = tmp_path_factory.mktemp("models")
    build_tiny_sd_folder(root / TINY)
    return root


@pytest.fixture(scope="session")
def tiny_folder(models_dir) -> Path:
    return models_dir / TINY


@pytest.fixture()
def manager(models_dir) -> PipelineManager:
    """A fresh manager on the tiny model; Hub presets are listed but never downloaded (offline)."""
    return PipelineManager(ManagerConfig(models_dir=models_dir, device="cpu", offline=True))


@pytest.fixture(scope="session")
def shared_manager(models_dir) -> PipelineManager:
    """One manager for read-only tests, so the model loads once per session."""
    return PipelineManager(ManagerConfig(models_dir=models_dir, device="cpu", offline=True))


@pytest.fixture()
def copy_model(tmp_path, tiny_folder):
    """Copies the tiny model into a fresh models dir under a new name; returns (models_dir, folder)."""

    def _copy(name: str, root: Path | None = None) -> Path:
        root = root or tmp_path / "models"
        dest = root / name
        shutil.copytree(tiny_folder, dest)
        return dest

    return _copy
