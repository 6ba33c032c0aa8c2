"""The inpainting benchmark's judge and seam score behave on known answers (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.inpaint import hit, main, make_cases, seam_score
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


@pytest.mark.slow
def test_the_bench_runs_end_to_end_on_tiny_models(capsys):
    main(["--tiny", "--cases", "2", "--steps", "2"])
    table = capsys.readouterr().out
    assert "| Any model (replace known region) |" in table and "| Inpainting model (9-channel UNet) |" in table
    rows = [line for line in table.splitlines() if line.startswith("| Any model") or line.startswith("| Inpainting")]
    assert all(line.split("|")[4].strip() == "0" for line in rows)  # outside max abs diff


def test_paraphrase_cases_are_the_scene_cases_in_other_words():
    from pipelines.shapes.grammar import parse_caption, words_of

    scene, paraphrase = make_cases(12, seed=5, style="scene"), make_cases(12, seed=5, style="paraphrase")
    for canonical, other in zip(scene, paraphrase):
        assert np.array_equal(canonical.image, other.image) and np.array_equal(canonical.mask, other.mask)
        assert (canonical.colour, canonical.shape) == (other.colour, other.shape)
        assert parse_caption(other.prompt) == parse_caption(canonical.prompt)
        assert [w for w in words_of(other.prompt) if w not in ",.-"] != words_of(canonical.prompt)
