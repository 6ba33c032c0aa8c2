"""Text diffs: z_d = normalize(z_t(target) − z_t(source)) from the CLIP text tower paired with the image encoder;
frames decode |z_i| · slerp(ẑ_i, z_d, θ) (z_i's norm is kept: the decoder was trained on it) from the image's own
DDIM-inverted x_T, as DALL-E 2 does, so that the edit keeps the picture's layout (θ = 0 gives the image back). With a
fixed seed's noise instead, red → blue at θ = 1 kept the shape in 0.44 of cases, not 1.00.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import require_text
from ..jobs import StepCounter, StepInfo, Stopped
from ..limits import check
from ..manager import PipelineManager
from ..models import ModelEntry
from .common import (
    UnclipResult,
    ddim_invert,
    decode,
    encode_image,
    load_image,
    resolve,
    unclip_entry,
    unclip_pipe,
)
from .interpolation import slerp


@dataclass(frozen=True)
class TextDiffRequest:
    """An edit by a text difference: frames at θ = 0 .. `theta`."""

    image: Image.Image | np.ndarray | None
    source_caption: str  # what the image shows ("a red circle")
    target_caption: str  # what it should show ("a blue circle")
    model: str | None = None
    theta: float = 0.75  # the last frame's θ, 0..1 (0 = the image's own embedding)
    frames: int = 4  # 1..16 frames at θ = linspace(0, theta) (just `theta` when 1)
    steps: int = 20
    cfg_scale: float = 5.0
    seed: int = -1  # the embedding noise; x_T is the image's DDIM inversion, the same for every frame


def text_embedding_pair(manager: PipelineManager, entry: ModelEntry, source: str, target: str) -> torch.Tensor:
    """z_d = normalize(z_t(target) − z_t(source)) from the CLIP text tower paired with the image encoder."""
    scorer = manager.clip_scorer(entry)
    if scorer is None:
        raise ValueError(
            f"text diffs need the CLIP text tower that matches {entry.name}'s image encoder ({entry.clip}); "
            "it is not available on this machine"
        )
    z_source, z_target = scorer.text_embeddings([source, target])
    diff = z_target - z_source
    if float(diff.norm()) < 1e-6:
        raise ValueError(f"`target_caption` must differ in meaning from `source_caption`, got {target!r} twice")
    return torch.nn.functional.normalize(diff, dim=-1)[None]


def text_diff(
    manager: PipelineManager,
    request: TextDiffRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """Edits an image by the text difference target − source (see the module docstring)."""
    # 1. Check inputs
    entry, request = resolve(manager, request)
    image = load_image(request.image, "image")
    require_text(request.source_caption, "source_caption", "say what the image shows, e.g. “a red circle”")
    require_text(request.target_caption, "target_caption", "say what it should show, e.g. “a blue circle”")
    check(request.theta, "theta")
    check(request.frames, "text_diff_frames", "frames")
    if request.frames == 1:
        thetas = [float(request.theta)]
    else:
        thetas = [request.theta * i / (request.frames - 1) for i in range(request.frames)]

    def work() -> UnclipResult:
        pipe = unclip_pipe(manager, entry)
        # 2. Encode: z_i from the image, z_d from the captions
        z_i = encode_image(pipe, image)
        z_d = text_embedding_pair(manager, entry, request.source_caption, request.target_caption)
        if z_d.shape != z_i.shape:
            raise ValueError(
                f"the CLIP text tower of {entry.name} ({entry.clip}) gives {z_d.shape[-1]}-d embeddings but its image "
                f"encoder {z_i.shape[-1]}-d: configure the matching CLIP pair for text diffs"
            )
        z_d = z_d.to(z_i.device, z_i.dtype)
        norm = z_i.norm()
        progress = StepCounter((len(thetas) + 1) * request.steps, on_step, stop, preview_every)
        images, labels = [], []
        try:
            # 3. x_T: the image's DDIM inversion under z_i, unguided (DALL-E 2 keeps it fixed while z moves)
            inverted = ddim_invert(pipe, image, z_i, request.steps, 1.0, request.seed, entry.native_size, progress)
            # 4. Decode |z_i| · slerp(ẑ_i, z_d, θ) from the inverted noise
            for theta in thetas:
                embeds = norm * slerp(z_i / norm, z_d, theta)
                generator = torch.Generator("cpu").manual_seed(request.seed)
                images.append(
                    decode(pipe, embeds, request, generator, progress, inverted.clone(), size=entry.native_size)
                )
                labels.append(f"θ = {theta:.2f}")
        except Stopped:
            return UnclipResult(images, labels, request.seed, request, progress.stopped_at, thetas[: len(images)])
        return UnclipResult(images, labels, request.seed, request, thetas=thetas)

    return manager.run(work)


def best_caption(manager: PipelineManager, model: str | None, image, candidates: list[str]) -> str:
    """The candidate caption the model's CLIP finds closest to `image` (to prefill a text diff's source)."""
    entry = unclip_entry(manager, model)
    scorer = manager.clip_scorer(entry)
    if scorer is None or not candidates:
        return ""
    return manager.run(scorer.best_captions, [load_image(image, "image")], candidates)[0]
