"""README.md's front matter is a valid Spaces configuration for this repository (huggingface_hub parses it)."""

from __future__ import annotations

from pathlib import Path

import gradio
from huggingface_hub import SpaceCard, SpaceCardData

ROOT = Path(__file__).resolve().parents[2]


def test_front_matter_is_a_space_card_for_this_app():
    card = SpaceCard.load(ROOT / "README.md")
    data = card.data
    assert isinstance(data, SpaceCardData)
    assert data.sdk == "gradio" and data.sdk_version == gradio.__version__  # the pinned Gradio, not another
    assert (ROOT / data.app_file).is_file()
    assert data.python_version in ("3.10", "3.11", "3.12", "3.13")
    assert 0 < len(data.short_description) <= 60  # the Hub refuses longer ones
    assert "hardware" not in data.to_dict()  # no such key: `suggested_hardware` only suggests
    assert data.to_dict().get("suggested_hardware") in (None, "cpu-basic")  # the bundled models need no GPU


def test_requirements_pin_what_the_front_matter_promises():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = {name.split("[")[0]: version for name, version in (line.split("==") for line in lines if "==" in line)}
    assert pins["gradio"] == gradio.__version__
    assert "torch" in pins  # a CPU Space installs exactly this torch
