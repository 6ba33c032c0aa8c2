"""Variations: z_i of the input image, decoded from fresh noise x_T (one seed per image).

How far they stray: `noise_level` (Stable unCLIP noises z_i before decoding: 0 keeps it, 999 nearly erases it) and
DDIM η (0 deterministic, 1 adds fresh noise each step).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..jobs import StepCounter, StepInfo, Stopped
from ..limits import check
from ..manager import PipelineManager
from .common import (
    UnclipResult,
    decode,
    encode_image,
    load_image,
    resolve,
    unclip_pipe,
)


@dataclass(frozen=True)
class VariationsRequest:
    """Variations of one image. Defaults live here and nowhere else."""

    image: Image.Image | np.ndarray | None
    model: str | None = None  # registry name of a Stable unCLIP model; None = the bundled one
    count: int = 4  # images, 1..8; image i uses seed + i
    noise_level: int = 0  # 0..999: noise added to z_i before decoding (further from the input when higher)
    eta: float = 0.0  # DDIM η, 0..1: 0 = deterministic per seed, 1 = fresh noise at every step
    steps: int = 20  # DDIM steps, 1..150
    cfg_scale: float = 5.0  # classifier-free guidance on the image embedding (1 = none), 0..30
    seed: int = -1  # -1 = random


def variations(
    manager: PipelineManager,
    request: VariationsRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """`request.count` images from the input's CLIP image embedding, each from its own seed.

    Args:
        on_step: called after every denoising step (counted over all images) from the generating thread.
        stop: when set, the run ends at the next step; the finished images are returned.
        preview_every: decode a preview every this many steps (0 = never).
    """
    # 1. Check inputs
    entry, request = resolve(manager, request)
    image = load_image(request.image, "image")
    check(request.count, "variations", "count")
    check(request.noise_level, "noise_level")
    check(request.eta, "eta")

    def work() -> UnclipResult:
        pipe = unclip_pipe(manager, entry)
        progress = StepCounter(request.count * request.steps, on_step, stop, preview_every)
        # 2. Encode the image: z_i
        embeds = encode_image(pipe, image)
        images, labels = [], []
        try:
            for i in range(request.count):
                # 3. Decode from fresh noise: seed + i
                generator = torch.Generator("cpu").manual_seed(request.seed + i)
                images.append(
                    decode(
                        pipe,
                        embeds,
                        request,
                        generator,
                        progress,
                        eta=request.eta,
                        noise_level=request.noise_level,
                        size=entry.native_size,
                    )
                )
                labels.append(f"seed {request.seed + i}")
        except Stopped:
            return UnclipResult(images, labels, request.seed, request, stopped_at=progress.stopped_at)
        return UnclipResult(images, labels, request.seed, request)

    return manager.run(work)
