"""Tiny randomly initialised pipelines of every model family the studio offers, for tests and benchmarks (offline,
well under a second each on a CPU, a few MB each).

Same scale as the bundled shapes models: 64x64 images (32x32 for DeepFloyd IF stage I), small CLIP or T5 text
towers and word-level tokenizers over the shapes-world vocabulary, saved with `save_pretrained(...,
safe_serialization=True)` so `from_pretrained(folder, local_files_only=True)` reloads them as it would a user's folder.
One module per family; `families.build_family_folders` builds them all and writes a `--config` file.
"""

from __future__ import annotations

from .common import build_t5_tokenizer
from .deepfloyd_if import build_tiny_if_folder, build_tiny_if_stage2_folder
from .families import TINY_FAMILIES, TinyFamily, build_family_folders
from .kandinsky import (
    build_tiny_kandinsky22_folder,
    build_tiny_kandinsky22_inpaint_folder,
    build_tiny_kandinsky22_prior_folder,
)
from .sd import build_tiny_sd2_folder, build_tiny_sd_folder, build_tiny_sd_inpaint_folder
from .sdxl import build_tiny_sdxl_folder, build_tiny_sdxl_inpaint_folder, build_tiny_sdxl_refiner_folder
from .unclip import build_tiny_clip_folder, build_tiny_unclip_folder
from .upscaler import build_tiny_sd_upscaler_folder

__all__ = [
    "build_tiny_clip_folder",
    "build_tiny_sd_upscaler_folder",
    "TINY_FAMILIES",
    "TinyFamily",
    "build_family_folders",
    "build_t5_tokenizer",
    "build_tiny_if_folder",
    "build_tiny_if_stage2_folder",
    "build_tiny_kandinsky22_folder",
    "build_tiny_kandinsky22_inpaint_folder",
    "build_tiny_kandinsky22_prior_folder",
    "build_tiny_sd2_folder",
    "build_tiny_sd_folder",
    "build_tiny_sd_inpaint_folder",
    "build_tiny_sdxl_folder",
    "build_tiny_sdxl_inpaint_folder",
    "build_tiny_sdxl_refiner_folder",
    "build_tiny_unclip_folder",
]
