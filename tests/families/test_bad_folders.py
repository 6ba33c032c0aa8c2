"""Bad model folders in a user's `--config`: the studio still starts, picking one gives a message that names the folder
and says what is wrong with it in words (not a library's internal error), and the other models keep loading and
drawing in the same manager."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pipelines.capabilities import TEXT_TO_IMAGE, models_for
from pipelines.errors import CorruptCheckpointError, ModelLoadError, StudioError, UnsafeCheckpointError
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import TXT2IMG, ModelRegistry
from pipelines.text_to_image import TextToImageRequest, text_to_image

GOOD, OTHER = "tiny-sd", "tiny-sdxl"  # good folders listed beside the bad ones
# What a library says when it meets these folders; none of it may reach a person.
INTERNALS = (
    "Traceback",
    "no file named",
    "has no attribute",
    "SafetensorError",
    "HeaderTooLarge",
    "Error while deserializing",
    "Expecting property name",
    "resolves to",
)


def _edit_index(folder: Path, **changes) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    index.update(changes)
    (folder / "model_index.json").write_text(json.dumps(index))


def _truncate(folder: Path) -> None:
    (weights,) = (folder / "unet").glob("*.safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])


def _pickles_only(folder: Path) -> None:
    for weights in folder.rglob("*.safetensors"):
        weights.rename(weights.with_suffix(".bin"))


def _no_weights(folder: Path) -> None:
    for weights in (folder / "unet").glob("*.safetensors"):
        weights.unlink()


# name -> (folder it is copied from, the damage, its error class, what the message must say besides the folder)
BAD: dict[str, tuple[str, Callable[[Path], None], type, str]] = {
    "unknown-pipeline-class": (
        "tiny-sd",
        lambda f: _edit_index(f, _class_name="StableDiffusion9Pipeline"),
        ModelLoadError,
        r"names the pipeline class 'StableDiffusion9Pipeline', which diffusers \S+ does not have",
    ),
    "sd-without-vae": (
        "tiny-sd",
        lambda f: shutil.rmtree(f / "vae"),
        ModelLoadError,
        r"lists the component `vae` \(AutoencoderKL\), but there is no vae/ sub-folder",
    ),
    "sdxl-without-text-encoder-2": (
        "tiny-sdxl",
        lambda f: shutil.rmtree(f / "text_encoder_2"),
        ModelLoadError,
        r"lists the component `text_encoder_2` \(CLIPTextModelWithProjection\), but there is no text_encoder_2/",
    ),
    "truncated-safetensors": (
        "tiny-sd",
        _truncate,
        CorruptCheckpointError,
        r"unet/diffusion_pytorch_model.safetensors is corrupt or truncated \(only [\d,]+ of its [\d,]+ bytes are "
        r"there\); download or copy it again",
    ),
    "bin-only": (
        "tiny-sd",
        _pickles_only,
        UnsafeCheckpointError,
        r"/ has only pickle checkpoints \(\S+\.bin\); the studio refuses them because loading a "
        r"pickle can run arbitrary code",
    ),
    "unet-without-weights": (
        "tiny-sd",
        _no_weights,
        ModelLoadError,
        r"unet/ has a config.json but no weights \(.safetensors\)",
    ),
    "unreadable-model-index": (
        "tiny-sd",
        lambda f: (f / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline",'),
        ModelLoadError,
        r"model_index.json cannot be read: it is not valid JSON \(line 1, column \d+\)",
    ),
    "custom-pipeline-code": (
        "tiny-sd",
        lambda f: _edit_index(f, _class_name=["pipeline", "MyPipeline"]),
        ModelLoadError,
        r"names a custom pipeline \('MyPipeline', code in the folder\), which the studio does not run",
    ),
}


@pytest.fixture(scope="module")
def bad_config(families_config, tmp_path_factory) -> Path:
    """A `--config` listing the good tiny SD and SDXL folders, then a damaged copy of a tiny folder per `BAD` case."""
    root = tmp_path_factory.mktemp("bad-folders")
    lines = []
    for name in (GOOD, OTHER):
        lines += ["[[models]]", f'name = "{name}"', f'path = "{(families_config.parent / name).as_posix()}"', ""]
    for name, (source, damage, _, _) in BAD.items():
        folder = shutil.copytree(families_config.parent / source, root / name)
        damage(folder)
        lines += ["[[models]]", f'name = "{name}"', f'path = "{folder.as_posix()}"', ""]
    config = root / "models.toml"
    config.write_text("\n".join(lines))
    return config


@pytest.fixture(scope="module")
def bad_manager(bad_config) -> PipelineManager:
    return PipelineManager(
        ManagerConfig(models_dir=None, config_path=bad_config, device="cpu", offline=True, include_hub=False)
    )


def _draws(manager: PipelineManager, name: str = GOOD) -> None:
    result = text_to_image(manager, TextToImageRequest("a red circle", model=name, steps=2, seed=1))
    image = np.asarray(result.images[0])
    assert image.shape == (64, 64, 3) and np.isfinite(image).all()


def test_the_registry_lists_every_bad_folder_and_says_why_in_the_log(bad_config, caplog):
    """A listed folder does not vanish: one with a pipeline class the studio does not know (or an unreadable
    model_index.json) is offered for text to image, where loading it explains; the log names the folder at start."""
    with caplog.at_level(logging.WARNING, logger="pipelines.models"):
        registry = ModelRegistry.discover(models_dir=None, config_path=bad_config, include_hub=False)
    assert registry.names() == [GOOD, OTHER, *BAD]
    offered = models_for(registry, TEXT_TO_IMAGE)
    for name in ("unknown-pipeline-class", "unreadable-model-index", "custom-pipeline-code"):
        assert name in offered
        assert registry.get(name).family == "other"
        assert any(name in r.getMessage() and str(bad_config.parent / name) in r.getMessage() for r in caplog.records)
    assert registry.default(TXT2IMG).name == GOOD


@pytest.mark.slow
def test_the_studio_starts_with_bad_folders_in_its_config(bad_manager):
    from studio import build_app

    demo = build_app(bad_manager)
    assert demo is not None and bad_manager.report() == []  # nothing loaded at start, nothing failed


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_folder_is_refused_in_words_and_the_others_keep_drawing(bad_manager, bad_config, name):
    _, _, error, problem = BAD[name]
    _draws(bad_manager)  # loaded before the failure ...
    with pytest.raises(StudioError) as caught:
        bad_manager.pipeline(name)
    message = str(caught.value)
    assert isinstance(caught.value, error), message
    assert message.startswith(f"model {name!r} (folder {bad_config.parent / name}): "), message
    assert re.search(problem, message), message
    assert not [s for s in INTERNALS if s in message], message
    assert not bad_manager.is_loaded(name)
    assert bad_manager.is_loaded(GOOD)  # ... not evicted by the failed load
    _draws(bad_manager)  # ... and still drawing after it


def test_after_every_bad_folder_a_model_not_loaded_before_loads_and_draws(bad_config):
    """The failures leave the manager whole: a fresh one refuses every bad folder, then loads SDXL and draws."""
    manager = PipelineManager(
        ManagerConfig(models_dir=None, config_path=bad_config, device="cpu", offline=True, include_hub=False)
    )
    for name in BAD:
        with pytest.raises(StudioError):
            manager.pipeline(name)
    assert manager.report() == []
    _draws(manager, OTHER)
