"""The lab's batched sampler on a tiny random Stable Diffusion pipeline."""

import numpy as np
import pytest
import torch

from pipelines.guidance import GuidanceMethod
from pipelines.guidance.lab import Cell, render_cells
from pipelines.jobs import StepCounter


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from diffusers import StableDiffusionPipeline

    from pipelines.testing import build_tiny_sd_folder

    folder = build_tiny_sd_folder(tmp_path_factory.mktemp("lab") / "tiny")
    return StableDiffusionPipeline.from_pretrained(folder, use_safetensors=True, local_files_only=True)


def _fresh_scheduler(pipe, name="DPMSolverMultistepScheduler"):
    import diffusers

    pipe.scheduler = getattr(diffusers, name).from_config(pipe.scheduler.config)


@pytest.mark.parametrize("scheduler", ["DPMSolverMultistepScheduler", "EulerAncestralDiscreteScheduler"])
def test_one_cfg_cell_is_bit_identical_to_the_pipeline(pipe, scheduler):
    _fresh_scheduler(pipe, scheduler)
    reference = pipe(
        "a red circle", num_inference_steps=6, guidance_scale=5.0, generator=[torch.Generator().manual_seed(7)]
    ).images[0]
    _fresh_scheduler(pipe, scheduler)
    (cell,) = render_cells(pipe, [Cell(GuidanceMethod.CFG, 5.0)], "a red circle", "", 7, 6, 64, 64)
    assert np.array_equal(np.asarray(reference), np.asarray(cell.image))


def test_batched_cells_share_the_initial_noise_and_differ_by_method(pipe):
    _fresh_scheduler(pipe)
    cells = [Cell(GuidanceMethod.CFG, 1.0), Cell(GuidanceMethod.NONE, 3.0), Cell(GuidanceMethod.CFG, 9.0)]
    steps = []
    counter = StepCounter(5, on_step=lambda info: steps.append(info.step))
    results = render_cells(pipe, cells, "a red circle", "", 1, 5, 64, 64, counter=counter)
    images = [np.asarray(r.image) for r in results]
    assert np.array_equal(images[0], images[1])  # s = 1 is plain conditional sampling
    assert not np.array_equal(images[0], images[2])
    assert steps == [1, 2, 3, 4, 5]
