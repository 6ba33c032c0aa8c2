"""Both inpainting methods on the bundled models, loaded the way the studio loads them, keep their measured
quality: one of two objects masked, the prompt asks for another in its place (the first cases of
`python -m bench.inpaint`). Floors sit below the bench's 40-case numbers (README), so a regression of the models,
the replacement loop or its resampling fails CI."""

from __future__ import annotations

import numpy as np
import pytest

from bench.inpaint import hit, make_cases
from pipelines.inpaint import InpaintRequest, Method, inpaint
from pipelines.manager import ManagerConfig, PipelineManager

CASES = 10
MIN_HITS = {Method.REPLACE: 7, Method.INPAINT_MODEL: 7}


@pytest.fixture(scope="module")
def results():
    manager = PipelineManager(ManagerConfig(device="cpu", offline=True, include_hub=False))
    out = []
    for i, case in enumerate(make_cases(CASES, seed=0, style="scene")):
        request = InpaintRequest(
            case.prompt, case.image, case.mask, model="shapes-sd", method=Method.BOTH.label, cfg_scale=7.0, seed=i
        )
        out.append((case, inpaint(manager, request)))
    return out


def test_the_bundled_inpainting_model_is_the_default_for_shapes_sd(results):
    _, result = results[0]
    assert result.request.inpaint_model == "shapes-sd-inpaint"


@pytest.mark.parametrize("method", [Method.REPLACE, Method.INPAINT_MODEL])
def test_the_asked_object_appears_in_the_mask(results, method):
    column = Method.BOTH.runs().index(method)
    hits = [hit(np.asarray(result.images[column]), case) for case, result in results]
    assert sum(hits) >= MIN_HITS[method], hits


def test_nothing_outside_the_mask_changes(results):
    for case, result in results:
        for image in result.images:
            assert np.abs(np.asarray(image).astype(int) - case.image.astype(int))[~case.mask].max() == 0
