"""One tiny random-weight folder per model family the registry knows, and a `--config` file listing them.

`build_family_folders(root)` writes every folder under `root` and `root/models.toml`, which the studio's real
loader reads like a user's config (`PipelineManager(ManagerConfig(models_dir=None, config_path=...))`). To try them
all in the browser (random weights: the images are noise, the point is that every tab runs)::

    python -m pipelines.testing.families /tmp/tiny-families && python app.py --config /tmp/tiny-families/models.toml
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .common import folder_bytes
from .deepfloyd_if import build_tiny_if_folder, build_tiny_if_stage2_folder
from .kandinsky import (
    build_tiny_kandinsky22_folder,
    build_tiny_kandinsky22_inpaint_folder,
    build_tiny_kandinsky22_prior_folder,
)
from .sd import build_tiny_sd2_folder, build_tiny_sd_folder, build_tiny_sd_inpaint_folder
from .sdxl import build_tiny_sdxl_folder, build_tiny_sdxl_inpaint_folder, build_tiny_sdxl_refiner_folder
from .unclip import build_tiny_clip_folder, build_tiny_unclip_folder
from .upscaler import build_tiny_sd_upscaler_folder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TinyFamily:
    """One tiny folder: how to build it and what the registry should make of it."""

    name: str  # folder name and model name in the config
    build: Callable[..., Path]
    pipeline_class: str  # model_index.json `_class_name`
    family: str  # what the registry should call it
    native_size: int | None  # pixels; None for a part that draws no image (a prior)
    extras: dict[str, str] = field(default_factory=dict)  # config `extras`, values are other models' names
    clip: str | None = None  # config `clip`: a CLIP folder under the root (see `CLIP_FOLDERS`)


TINY_FAMILIES: tuple[TinyFamily, ...] = (
    TinyFamily("tiny-sd", build_tiny_sd_folder, "StableDiffusionPipeline", "sd", 64),
    TinyFamily("tiny-sd2", build_tiny_sd2_folder, "StableDiffusionPipeline", "sd", 64),
    TinyFamily(
        "tiny-sdxl", build_tiny_sdxl_folder, "StableDiffusionXLPipeline", "sdxl", 64, {"refiner": "tiny-sdxl-refiner"}
    ),
    TinyFamily(
        "tiny-sdxl-refiner", build_tiny_sdxl_refiner_folder, "StableDiffusionXLImg2ImgPipeline", "sdxl-refiner", 64
    ),
    TinyFamily(
        "tiny-sdxl-inpaint", build_tiny_sdxl_inpaint_folder, "StableDiffusionXLInpaintPipeline", "sdxl-inpaint", 64
    ),
    TinyFamily("tiny-sd-inpaint", build_tiny_sd_inpaint_folder, "StableDiffusionInpaintPipeline", "sd-inpaint", 64),
    TinyFamily(
        "tiny-kandinsky22-prior",
        build_tiny_kandinsky22_prior_folder,
        "KandinskyV22PriorPipeline",
        "kandinsky22-prior",
        None,
    ),
    TinyFamily(
        "tiny-kandinsky22",
        build_tiny_kandinsky22_folder,
        "KandinskyV22Pipeline",
        "kandinsky22",
        64,
        {"prior": "tiny-kandinsky22-prior"},
    ),
    TinyFamily(
        "tiny-kandinsky22-inpaint",
        build_tiny_kandinsky22_inpaint_folder,
        "KandinskyV22InpaintPipeline",
        "kandinsky22-inpaint",
        64,
        {"prior": "tiny-kandinsky22-prior"},
    ),
    TinyFamily(
        "tiny-sd-unclip", build_tiny_unclip_folder, "StableUnCLIPImg2ImgPipeline", "sd-unclip", 64, clip="tiny-clip"
    ),
    TinyFamily("tiny-if", build_tiny_if_folder, "IFPipeline", "if", 32, {"stage_2": "tiny-if-stage2"}),
    TinyFamily("tiny-if-stage2", build_tiny_if_stage2_folder, "IFSuperResolutionPipeline", "if-stage2", 64),
    TinyFamily(
        "tiny-sd-upscaler", build_tiny_sd_upscaler_folder, "StableDiffusionUpscalePipeline", "sd-upscaler", 256
    ),
)


# CLIP pairs (transformers folders, not models of their own) that a family's `clip` names.
CLIP_FOLDERS: dict[str, Callable[..., Path]] = {"tiny-clip": build_tiny_clip_folder}


def build_family_folders(root: str | Path, seed: int = 0) -> Path:
    """Builds every `TINY_FAMILIES` folder under `root` and writes `root/models.toml` listing them; returns its path.

    Build times and sizes are logged and written to `root/build.json` ({name: {"seconds", "bytes"}}).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    facts, lines = {}, []
    for name, build in CLIP_FOLDERS.items():
        started = time.perf_counter()
        build(root / name, seed=seed)
        facts[name] = {"seconds": round(time.perf_counter() - started, 3), "bytes": folder_bytes(root / name)}
    for tiny in TINY_FAMILIES:
        started = time.perf_counter()
        folder = tiny.build(root / tiny.name, seed=seed)
        facts[tiny.name] = {"seconds": round(time.perf_counter() - started, 3), "bytes": folder_bytes(folder)}
        logger.info("built %s in %.2f s (%d bytes)", tiny.name, facts[tiny.name]["seconds"], facts[tiny.name]["bytes"])
        lines += ["[[models]]", f'name = "{tiny.name}"', f'path = "{folder.as_posix()}"']
        if tiny.clip:
            lines.append(f'clip = "{(root / tiny.clip).as_posix()}"')
        if tiny.extras:
            lines.append("extras = { " + ", ".join(f'{k} = "{v}"' for k, v in tiny.extras.items()) + " }")
        lines.append("")
    (root / "build.json").write_text(json.dumps(facts, indent=2))
    config = root / "models.toml"
    config.write_text("\n".join(lines))
    return config


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Writes one tiny random-weight folder per model family")
    parser.add_argument("root", type=Path, help="folder to write them in, with a models.toml listing them")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(build_family_folders(args.root))
