"""`guide`: applies one guidance method to one denoising step's predictions."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from diffusers.guiders.guider_utils import rescale_noise_cfg

from . import thresholding
from .cfg import classifier_free
from .clip_guidance import clip_guided
from .context import StepContext
from .methods import GuidanceMethod
from .modern import adaptive_projected, cfg_zero_star, new_momentum_buffer

RESCALE_PHI = 0.7  # φ of Lin et al. 2023 ("Common diffusion noise schedules and sample steps are flawed")


@dataclass
class ClipGuide:
    """What CLIP guidance needs: x̂0 -> image in [0, 1], image -> embedding, and the caption's embedding."""

    to_image: object
    image_embeddings: object
    text_embedding: torch.Tensor


@dataclass
class CellState:
    """Per-image state a method carries across steps (APG's momentum)."""

    momentum: object = field(default_factory=new_momentum_buffer)


def guide(
    method: GuidanceMethod,
    strength: float,
    eps_cond: torch.Tensor,
    eps_uncond: torch.Tensor | None,
    context: StepContext,
    state: CellState,
    clip: ClipGuide | None = None,
) -> torch.Tensor:
    """The prediction ε̂ that the sampler steps with, for one (method, strength) cell.

    For a v-prediction model every ε here is the model's v (guidance is linear in either; the methods that need
    x̂0 or ε̂ convert through `context`).

    Args:
        eps_cond: ε(x_t, c) for this cell's images, (B, C, H, W).
        eps_uncond: ε(x_t, ∅) — or ε(x_t, negative prompt) for NEGATIVE_PROMPT; None when not needed.
        context: the step (x_t, ᾱ_t, index) for this cell's images.
    """
    if method is GuidanceMethod.NONE:
        return eps_cond
    if method is GuidanceMethod.CLIP:
        if clip is None:
            raise ValueError("CLIP guidance needs a CLIP model; none was given")
        return clip_guided(eps_cond, context, strength, clip.to_image, clip.image_embeddings, clip.text_embedding)
    if method in (GuidanceMethod.CFG, GuidanceMethod.NEGATIVE_PROMPT):
        return classifier_free(eps_cond, eps_uncond, strength)
    if method is GuidanceMethod.RESCALE:
        return rescale_noise_cfg(classifier_free(eps_cond, eps_uncond, strength), eps_cond, RESCALE_PHI)
    if method is GuidanceMethod.APG:
        return adaptive_projected(eps_cond, eps_uncond, strength, state.momentum)
    if method is GuidanceMethod.CFG_ZERO_STAR:
        return cfg_zero_star(eps_cond, eps_uncond, strength, context.step)
    guided = classifier_free(eps_cond, eps_uncond, strength)
    if method is GuidanceMethod.STATIC_THRESHOLD:
        reason = method.unavailable_reason(context.latent)
        if reason:
            raise ValueError(reason)
        return context.prediction_from_x0(thresholding.static_threshold(context.x0_from_prediction(guided)))
    if method is GuidanceMethod.DYNAMIC_THRESHOLD:
        x0 = context.x0_from_prediction(guided)
        if context.latent:
            mimic = classifier_free(eps_cond, eps_uncond, thresholding.MIMIC_SCALE)
            x0 = thresholding.mimic_threshold(x0, context.x0_from_prediction(mimic))
        else:
            x0 = thresholding.dynamic_threshold(x0)
        return context.prediction_from_x0(x0)
    raise ValueError(f"unknown guidance method {method!r}")
