"""The inpainting benchmark's judge and seam score behave on known answers (no model)."""

from __future__ import annotations

import numpy as np

from bench.inpaint import hit, make_cases, seam_score
from pipelines.shapes.grammar import PLACES, SIZES
from pipelines.shapes.render import PlacedShape, draw


def test_an_oracle_fill_is_a_hit_and_a_noise_fill_has_a_seam():
    for case in make_cases(8):
        assert not hit(case.image, case)  # the removed object's colour differs from the one asked for
        place = case.prompt.split(" on the ")[-1].split(" at the ")[-1]
        x, y = PLACES[place]
        # Oracle: background inside the mask, then the asked object at the asked place.
        oracle = case.image.copy()
        oracle[case.mask] = draw([])[case.mask]
        oracle = np.where(
            case.mask[..., None], draw([PlacedShape(case.colour, case.shape, x, y, SIZES["large"])]), oracle
        )
        assert hit(oracle, case)
        noisy = case.image.copy()
        noisy[case.mask] = np.random.default_rng(0).integers(0, 255, (int(case.mask.sum()), 3))
        assert seam_score(oracle, case.mask) < 0.1 < seam_score(noisy, case.mask)
