"""Tiny random-weight folders of every model family, built once per session and listed in a `--config` file, and a
manager that loads them the way the studio loads a user's folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.testing import build_family_folders


@pytest.fixture(scope="session")
def families_config(tmp_path_factory) -> Path:
    """`models.toml` listing one tiny folder per family (see `pipelines.testing.TINY_FAMILIES`), next to them."""
    return build_family_folders(tmp_path_factory.mktemp("families"))


@pytest.fixture(scope="session")
def build_facts(families_config) -> dict[str, dict]:
    """{folder name: {"seconds", "bytes"}} of the session's build."""
    return json.loads((families_config.parent / "build.json").read_text())


@pytest.fixture(scope="session")
def families_manager(families_config) -> PipelineManager:
    """One manager on the config alone (no bundled models, no Hub presets), shared by the session's tests."""
    return PipelineManager(
        ManagerConfig(models_dir=None, config_path=families_config, device="cpu", offline=True, include_hub=False)
    )
