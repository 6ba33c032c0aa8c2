"""The real bundled shapes model, once it is in assets/models/ (skipped until then)."""

from __future__ import annotations

import pytest

from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import DEFAULT_MODELS_DIR
from pipelines.text_to_image import TextToImageRequest, text_to_image

SHAPES_SD = DEFAULT_MODELS_DIR / "shapes-sd"

pytestmark = pytest.mark.skipif(not (SHAPES_SD / "model_index.json").is_file(), reason="shapes-sd not bundled yet")


def test_default_models_dir_serves_the_bundled_shapes_model():
    manager = PipelineManager(ManagerConfig(device="cpu", offline=True))
    entry = manager.entry(None)
    assert entry.name == "shapes-sd" and entry.kind == "bundled" and entry.vocabulary == "shapes"
    assert entry.native_size == 64
    result = text_to_image(manager, TextToImageRequest("a red circle on the left", steps=10, seed=0))
    assert result.images[0].size == (64, 64)
    assert "Model: shapes-sd" in result.parameters[0]
