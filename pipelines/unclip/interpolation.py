"""Interpolation: z_θ = slerp(z_1, z_2, θ) over whole vectors,
    ω = arccos(clamp(⟨z_1/|z_1|, z_2/|z_2|⟩, −1, 1)),
    slerp = sin((1−θ)ω)/sin ω · z_1 + sin(θω)/sin ω · z_2, lerp when sin ω ≈ 0,
with x_T either fixed (one seed for every frame) or "inverted": x_T,k = DDIM inversion of image k under z_k, and
x_T(θ) = slerp(x_T,1, x_T,2, θ), so that θ = 0 and θ = 1 reproduce the inputs. Both the inversions and the frames
are guided (default 5): unguided, the inverted noise holds each frame on its nearer end image and the strip jumps
half-way (shapes-unclip, 12 pairs × 7 frames: Spearman(θ, CLIP similarity to B) 0.82 at guidance 1, 0.93 at 5;
end-point PSNR 36.8 vs 36.6 dB).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..choices import LabelledEnum
from ..jobs import StepCounter, StepInfo, Stopped
from ..limits import check
from ..manager import PipelineManager
from .common import (
    UnclipResult,
    ddim_invert,
    decode,
    encode_image,
    load_image,
    resolve,
    unclip_pipe,
)


class NoiseMode(LabelledEnum):
    """x_T of the interpolation frames; the value is the UI label."""

    FIXED = "fixed"  # one seed's noise for every frame
    INVERTED = "inverted"  # slerp between the two inputs' DDIM-inverted noises (end points reproduce the inputs)

    @classmethod
    def field(cls) -> str:
        return "noise_mode"


def slerp(a: torch.Tensor, b: torch.Tensor, theta: float, eps: float = 1e-4) -> torch.Tensor:
    """Spherical interpolation between two tensors taken as whole vectors (all elements at once).

    Args:
        a, b: tensors of the same shape (an embedding (1, D) or a latent (1, C, H, W)).
        theta: 0 gives `a`, 1 gives `b`.
        eps: below this sin ω the two directions are (anti)parallel and plain lerp is used.

    For |a| = |b| the result keeps that norm for every θ (a lerp would shrink it mid-way).
    """
    if a.shape != b.shape:
        raise ValueError(f"slerp needs tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    a64, b64 = a.double(), b.double()
    dot = torch.clamp((a64 / a64.norm()).flatten() @ (b64 / b64.norm()).flatten(), -1.0, 1.0)
    omega = torch.arccos(dot)
    sin_omega = torch.sin(omega)
    if float(sin_omega) < eps:
        out = (1 - theta) * a64 + theta * b64
    else:
        out = (torch.sin((1 - theta) * omega) * a64 + torch.sin(theta * omega) * b64) / sin_omega
    return out.to(a.dtype)


@dataclass(frozen=True)
class InterpolationRequest:
    """A strip of frames between two images."""

    image_a: Image.Image | np.ndarray | None
    image_b: Image.Image | np.ndarray | None
    model: str | None = None
    frames: int = 7  # 2..16, θ = 0, 1/(k−1), ..., 1
    noise_mode: str = NoiseMode.INVERTED.value  # "fixed" or "inverted"
    steps: int = 20  # DDIM steps (also of the inversion), 1..150
    cfg_scale: float = 5.0  # of the inversions and of every frame; 1 = none (frames then cling to the ends)
    seed: int = -1  # the fixed noise (fixed mode) and the embedding noise


def interpolate(
    manager: PipelineManager,
    request: InterpolationRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """`request.frames` images along θ ∈ [0, 1] between two images (see the module docstring)."""
    # 1. Check inputs
    entry, request = resolve(manager, request)
    image_a, image_b = load_image(request.image_a, "image_a"), load_image(request.image_b, "image_b")
    mode = NoiseMode.from_label(request.noise_mode)
    check(request.frames, "interpolation_frames", "frames")
    thetas = [i / (request.frames - 1) for i in range(request.frames)]
    size = entry.native_size

    def work() -> UnclipResult:
        pipe = unclip_pipe(manager, entry)
        inversions = 2 if mode is NoiseMode.INVERTED else 0
        progress = StepCounter((request.frames + inversions) * request.steps, on_step, stop, preview_every)
        images, labels = [], []
        try:
            # 2. Encode both images: z_1, z_2
            z1, z2 = encode_image(pipe, image_a), encode_image(pipe, image_b)
            # 3. Noise: fixed, or each image's DDIM inversion
            if mode is NoiseMode.INVERTED:
                noises = []
                for image, z in ((image_a, z1), (image_b, z2)):
                    guidance, seed = request.cfg_scale, request.seed
                    noises.append(ddim_invert(pipe, image, z, request.steps, guidance, seed, size, progress))
            else:
                latent_size = size // pipe.vae_scale_factor
                shape = (1, pipe.unet.config.in_channels, latent_size, latent_size)
                fixed = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(request.seed))
                fixed = fixed.to(pipe.unet.device, pipe.unet.dtype) * pipe.scheduler.init_noise_sigma
            # 4. Decode each frame: slerp of embeddings (and of inverted noises)
            for theta in thetas:
                latents = slerp(*noises, theta) if mode is NoiseMode.INVERTED else fixed.clone()
                generator = torch.Generator("cpu").manual_seed(request.seed)
                images.append(decode(pipe, slerp(z1, z2, theta), request, generator, progress, latents, size=size))
                labels.append(f"θ = {theta:.2f}")
        except Stopped:
            return UnclipResult(images, labels, request.seed, request, progress.stopped_at, thetas[: len(images)])
        return UnclipResult(images, labels, request.seed, request, thetas=thetas)

    return manager.run(work)


def save_gif(frames: list[Image.Image], path, seconds_per_frame: float = 0.25, bounce: bool = True) -> None:
    """Writes the frames as a looping GIF (there and back when `bounce`), scaled up ×4 with crisp pixels."""
    if not frames:
        raise ValueError("`frames` is empty: compute an interpolation first")
    scale = max(1, 256 // max(frames[0].size))
    big = [f.convert("RGB").resize((f.width * scale, f.height * scale), Image.NEAREST) for f in frames]
    sequence = big + big[-2:0:-1] if bounce and len(big) > 2 else big
    sequence[0].save(
        path, save_all=True, append_images=sequence[1:], duration=int(seconds_per_frame * 1000), loop=0, disposal=2
    )
