"""Calibrated strength: the search on its own, and the lab's calibrated grid on the bundled model and its CLIP."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.guidance import GuidanceMethod
from pipelines.guidance.calibration import FACTORS, TOLERANCE, StrengthSearch
from pipelines.guidance.grid import GuidanceGridRequest, guidance_grid

MODELS = Path(__file__).resolve().parents[2] / "assets" / "models"


def test_the_search_tries_the_factors_then_the_midpoints_beside_the_closest():
    search = StrengthSearch(nominal=4.0, target=10.0)
    assert search.candidates(0) == [4.0 * f for f in FACTORS]
    for strength in search.candidates(0):
        search.record(strength, strength)  # a score that rises with the strength, as CFG's often does
    assert search.best() == 8.0 and search.miss() == 2.0
    assert search.candidates(1) == [7.0, 10.0]
    search.record(10.0, 10.0)
    assert search.best() == 10.0 and search.miss() == 0.0


def test_the_search_stays_within_the_strength_limits():
    search = StrengthSearch(nominal=20.0, target=1.0, high=30.0)
    assert max(search.candidates(0)) == 30.0 and len(search.candidates(0)) == len(set(search.candidates(0)))


def test_calibrate_needs_a_clip_model_and_another_method(shared_manager):
    request = GuidanceGridRequest(prompt="a red circle", methods=(GuidanceMethod.APG.label,), calibrate=True, steps=2)
    with pytest.raises(ValueError, match="no CLIP model"):
        guidance_grid(shared_manager, request)  # the tiny model's CLIP is the Hub one, unavailable offline
    only_cfg = GuidanceGridRequest(prompt="a red circle", methods=(GuidanceMethod.CFG.label,), calibrate=True)
    with pytest.raises(ValueError, match="pick at least one other"):
        guidance_grid(shared_manager, only_cfg)


@pytest.fixture(scope="module")
def bundled_manager():
    from pipelines.manager import ManagerConfig, PipelineManager

    return PipelineManager(ManagerConfig(models_dir=MODELS, device="cpu", offline=True, include_hub=False))


def test_a_calibrated_grid_matches_each_method_to_cfgs_clip_score(bundled_manager):
    methods = (GuidanceMethod.CFG_ZERO_STAR, GuidanceMethod.PERTURBED_ATTENTION)
    request = GuidanceGridRequest(
        prompt="a yellow triangle on the left",
        model="shapes-sd",
        methods=tuple(m.label for m in methods),  # CFG, the reference, is added as the first row
        strengths=(5.0,),
        calibrate=True,
        seed=1,
    )
    outcomes = guidance_grid(bundled_manager, request).outcomes
    reference, *matched = outcomes
    assert reference.method is GuidanceMethod.CFG and reference.used_strength is None
    assert [o.method for o in matched] == list(methods)
    for outcome in matched:
        assert outcome.used_strength is not None and "matched to CFG 5" in outcome.label
        assert abs(outcome.clip_score - reference.clip_score) <= TOLERANCE, (outcome.label, outcome.clip_score)
