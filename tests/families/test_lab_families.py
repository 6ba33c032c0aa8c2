"""The guidance lab on the families it offers beyond SD 1.x: one CFG cell is the plain pipeline call, bit for bit."""

import numpy as np
import pytest
import torch

from pipelines.guidance import GuidanceMethod
from pipelines.guidance.lab import Cell, render_cells
from pipelines.models import TXT2IMG


@pytest.mark.parametrize("name", ["tiny-sd2", "tiny-sdxl"])
@pytest.mark.parametrize("negative_prompt", ["", "blurry"])
def test_one_cfg_cell_is_bit_identical_to_the_pipeline(families_manager, name, negative_prompt):
    method = GuidanceMethod.NEGATIVE_PROMPT if negative_prompt else GuidanceMethod.CFG
    pipe = families_manager.request_pipeline(name, TXT2IMG)
    reference = pipe(
        "a red circle",
        negative_prompt=negative_prompt or None,
        num_inference_steps=4,
        guidance_scale=5.0,
        generator=[torch.Generator().manual_seed(7)],
    ).images[0]
    pipe = families_manager.request_pipeline(name, TXT2IMG)
    (cell,) = render_cells(pipe, [Cell(method, 5.0)], "a red circle", negative_prompt, 7, 4, 64, 64)
    assert np.array_equal(np.asarray(reference), np.asarray(cell.image))


def test_sdxl_cells_of_several_methods_batch_together(families_manager):
    pipe = families_manager.request_pipeline("tiny-sdxl", TXT2IMG)
    cells = [Cell(GuidanceMethod.NONE, 1.0), Cell(GuidanceMethod.CFG, 1.0), Cell(GuidanceMethod.APG, 7.0)]
    images = [np.asarray(r.image) for r in render_cells(pipe, cells, "a red circle", "", 3, 3, 64, 64)]
    assert np.array_equal(images[0], images[1])  # s = 1 is plain conditional sampling
    assert not np.array_equal(images[0], images[2])
    assert all(image.shape == (64, 64, 3) for image in images)


@pytest.mark.parametrize("name", ["tiny-sd2", "tiny-sdxl"])
def test_every_lab_row_draws_on_the_family_or_says_why(families_manager, name):
    from pipelines.guidance.grid import GuidanceGridRequest, guidance_grid

    request = GuidanceGridRequest(
        prompt="a red circle", methods=GuidanceMethod.labels(), strengths=(5.0,), model=name, steps=3, seed=2
    )
    outcomes = guidance_grid(families_manager, request).outcomes
    assert [o.method for o in outcomes] == list(GuidanceMethod)
    for outcome in outcomes:
        if outcome.image is None:  # CLIP guidance without a local CLIP, static thresholding on a latent model
            assert outcome.note, outcome.method
        else:
            assert np.isfinite(np.asarray(outcome.image, dtype=np.float32)).all() and outcome.image.size == (64, 64)
    drawn = {o.method for o in outcomes if o.image is not None}
    assert GuidanceMethod.PERTURBED_ATTENTION in drawn and GuidanceMethod.AUTOGUIDANCE in drawn
