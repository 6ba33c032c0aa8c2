"""Two recent refinements of classifier-free guidance, using diffusers.guiders' own maths.

* APG, adaptive projected guidance (Sadat et al. 2024, arXiv:2410.02416): split the guidance update
  Δ = ε_c − ε_u into parts parallel and orthogonal to ε_c, keep mostly the orthogonal part (η = 0), cap
  its norm (r = 15) and smooth it over steps with negative momentum (β = −0.5). Less oversaturation at
  large s.
* CFG-Zero* (Fan et al. 2025, arXiv:2503.18886): scale the unconditional prediction by the optimal
  α = ⟨ε_c, ε_u⟩ / |ε_u|² before guiding, and output zero for the first step ("zero-init").
"""

from __future__ import annotations

import torch
from diffusers.guiders.adaptive_projected_guidance import MomentumBuffer, normalized_guidance
from diffusers.guiders.classifier_free_zero_star_guidance import cfg_zero_star_scale

APG_ETA = 0.0
APG_MOMENTUM = -0.5
APG_NORM_THRESHOLD = 15.0
ZERO_INIT_STEPS = 1


def adaptive_projected(
    eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float, momentum: MomentumBuffer
) -> torch.Tensor:
    """`momentum` carries the smoothed update from step to step; one buffer per image."""
    return normalized_guidance(eps_cond, eps_uncond, scale, momentum, APG_ETA, APG_NORM_THRESHOLD)


def new_momentum_buffer() -> MomentumBuffer:
    return MomentumBuffer(APG_MOMENTUM)


def cfg_zero_star(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float, step: int) -> torch.Tensor:
    if step < ZERO_INIT_STEPS:
        return torch.zeros_like(eps_cond)
    alpha = cfg_zero_star_scale(eps_cond.flatten(1), eps_uncond.flatten(1)).view(-1, *([1] * (eps_cond.ndim - 1)))
    eps_uncond = eps_uncond * alpha
    return eps_uncond + scale * (eps_cond - eps_uncond)
