"""Fixtures for the inpainting tests: a models dir with the tiny random SD model and a tiny 9-channel inpainting
model built from it (same VAE, text encoder, tokenizer; UNet with in_channels=9), and simple shapes images."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pipelines.manager import ManagerConfig, PipelineManager

TINY_INPAINT = "tiny-sd-inpaint"


def build_tiny_sd_inpaint_folder(base_folder: Path, folder: Path, seed: int = 0) -> Path:
    """Saves a random-weight `StableDiffusionInpaintPipeline` (9-channel UNet) sharing `base_folder`'s other parts."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline, UNet2DConditionModel

    base = StableDiffusionPipeline.from_pretrained(base_folder, local_files_only=True)
    config = dict(base.unet.config)
    config["in_channels"] = 9
    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config(config)
    components = {k: v for k, v in base.components.items() if k != "image_encoder"}
    components["unet"] = unet
    pipe = StableDiffusionInpaintPipeline(**components)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def inpaint_models_dir(tmp_path_factory, tiny_folder) -> Path:
    root = tmp_path_factory.mktemp("inpaint-models")
    shutil.copytree(tiny_folder, root / "tiny-sd")
    build_tiny_sd_inpaint_folder(tiny_folder, root / TINY_INPAINT)
    return root


@pytest.fixture(scope="session")
def inpaint_manager(inpaint_models_dir) -> PipelineManager:
    """One manager for the inpainting tests (models load once); Hub presets listed, never downloaded."""
    return PipelineManager(ManagerConfig(models_dir=inpaint_models_dir, device="cpu", offline=True))


@pytest.fixture()
def scene() -> np.ndarray:
    """A 64x64 shapes-world image: a red circle on the left and a blue square on the right."""
    from pipelines.shapes.render import PlacedShape, draw

    return draw([PlacedShape("red", "circle", 16, 32, 10), PlacedShape("blue", "square", 48, 32, 10)])


@pytest.fixture()
def right_mask() -> np.ndarray:
    """Covers the blue square (and a margin), bool (64, 64)."""
    mask = np.zeros((64, 64), dtype=bool)
    mask[18:46, 34:62] = True
    return mask
