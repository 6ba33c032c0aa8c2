"""The model cards' "last stage" commands, read back by `train`'s own parser, set what the stages' facts record."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from pipelines.shapes.model_cards import train_command
from pipelines.shapes.train import DEFAULTS, argument_parser, config_from_args

BUNDLED = Path(__file__).resolve().parents[2] / "assets" / "models"
STAGES = [path for path in sorted(BUNDLED.rglob("training.json")) if json.loads(path.read_text())["model"] in DEFAULTS]
# training.json fact -> the TrainConfig field it records
FIELDS = {
    "steps": "steps",
    "batch_size": "batch_size",
    "learning_rate": "lr",
    "seed": "seed",
    "two_object_fraction": "two_object_fraction",
    "count_fraction": "count_fraction",
    "count_size_share": "count_size_share",
    "layout_focus": "layout_focus",
    "phrasing_share": "phrasing_share",
    "anchor": "anchor",
    "ema_decay": "ema_decay",
    "caption_drop": "caption_drop",
}


def _config(facts: dict):
    words = shlex.split(train_command(facts))
    assert words[:3] == ["python", "-m", "pipelines.shapes.train"]
    return config_from_args(argument_parser().parse_args(words[3:]))


@pytest.mark.parametrize("path", STAGES, ids=lambda p: str(p.relative_to(BUNDLED).parent))
def test_the_cards_command_sets_every_recorded_fact(path):
    facts = json.loads(path.read_text())
    config = _config(facts)
    assert config.model == facts["model"]
    for fact, field in FIELDS.items():
        if fact in facts:
            assert getattr(config, field) == facts[fact], fact
    # a stage that continued a release starts from it (`train text` always does, it has no flag)
    if facts["model"] not in ("text", "inpaint-text"):
        assert config.from_release == facts.get("from_release", "started_from" in facts)


def test_a_stage_from_scratch_keeps_its_schedule_and_counting_mix():
    facts = {"model": "unet", "steps": 10, "seed": 3, "zero_terminal_snr_v_prediction": True, "count_fraction": 0.4}
    facts |= {"count_size_share": 0.7, "init_synonyms": True}
    config = _config(facts)
    assert (config.zero_snr, config.from_release, config.init_synonyms) == (True, False, True)
    assert (config.count_fraction, config.count_size_share, config.steps, config.seed) == (0.4, 0.7, 10, 3)
