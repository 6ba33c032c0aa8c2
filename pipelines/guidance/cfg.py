"""Classifier-free guidance (Ho & Salimans 2021; GLIDE, Imagen, Stable Diffusion).

    ε̂ = ε(x_t, ∅) + s·(ε(x_t, c) − ε(x_t, ∅))

s = 1 is plain conditional sampling, s = 0 unconditional. A negative prompt replaces ∅ by its embedding
(the caller chooses which unconditional prediction to pass). Written exactly as diffusers'
StableDiffusionPipeline writes it, so a lab cell matches a text-to-image call bit for bit.
"""

from __future__ import annotations

import torch


def classifier_free(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    return eps_uncond + scale * (eps_cond - eps_uncond)
