"""The guidance methods the lab offers, and `guide`, which applies one to one step's predictions.

"Strength" is the number in the lab's columns. For every method built on classifier-free guidance it is
the guidance scale s; for CLIP guidance it is the CLIP gradient scale (in units of
`clip_guidance.GRADIENT_UNIT`, on the conditional prediction, as GLIDE did); "No guidance" ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import torch
from diffusers.guiders.guider_utils import rescale_noise_cfg

from . import thresholding
from .cfg import classifier_free
from .clip_guidance import clip_guided
from .context import StepContext
from .modern import adaptive_projected, cfg_zero_star, new_momentum_buffer

RESCALE_PHI = 0.7  # φ of Lin et al. 2023 ("Common diffusion noise schedules and sample steps are flawed")


class GuidanceMethod(Enum):
    NONE = "No guidance"
    CFG = "Classifier-free"
    NEGATIVE_PROMPT = "Classifier-free + negative prompt"
    CLIP = "CLIP guidance (GLIDE)"
    STATIC_THRESHOLD = "CFG + static thresholding (Imagen)"
    DYNAMIC_THRESHOLD = "CFG + dynamic thresholding (Imagen)"
    RESCALE = "CFG + guidance rescale φ=0.7"
    APG = "Adaptive projected guidance (APG)"
    CFG_ZERO_STAR = "CFG-Zero*"

    @property
    def label(self) -> str:
        return self.value

    @classmethod
    def from_label(cls, label: str) -> GuidanceMethod:
        for method in cls:
            if label in (method.value, method.name):
                return method
        raise ValueError(f"`method` must be one of {[m.value for m in cls]}, got {label!r}")

    @property
    def needs_unconditional(self) -> bool:
        return self not in (GuidanceMethod.NONE, GuidanceMethod.CLIP)

    def unavailable_reason(self, latent: bool) -> str | None:
        """Why this method cannot run on a model of this kind, or None when it can."""
        if self is GuidanceMethod.STATIC_THRESHOLD and latent:
            return (
                "Static thresholding clips x̂0 to the pixel range [−1, 1]; a latent model's x̂0 is a VAE latent "
                "with no such range, so clipping it would only destroy the image. Use it with a pixel-space "
                "model (DeepFloyd IF), or use dynamic thresholding, which has a latent form."
            )
        return None

    def description(self, latent: bool) -> str:
        return {
            GuidanceMethod.NONE: "ε(x_t, c) only: plain conditional sampling; strength is ignored.",
            GuidanceMethod.CFG: "ε̂ = ε(∅) + s·(ε(c) − ε(∅)).",
            GuidanceMethod.NEGATIVE_PROMPT: "Classifier-free guidance with the negative prompt in place of ∅.",
            GuidanceMethod.CLIP: "Conditional prediction pushed up the gradient of CLIP similarity of x̂0 "
            "(decoded) with the prompt; strength = gradient scale.",
            GuidanceMethod.STATIC_THRESHOLD: "CFG, then x̂0 clipped to [−1, 1] (pixel models only).",
            GuidanceMethod.DYNAMIC_THRESHOLD: (
                "CFG, then x̂0 brought to the spread of CFG at scale 3, per channel (latent 'mimic' form)."
                if latent
                else "CFG, then Imagen's percentile clip of x̂0 (p = 99.5 %)."
            ),
            GuidanceMethod.RESCALE: "CFG, then rescaled toward the std of ε(c) with φ = 0.7.",
            GuidanceMethod.APG: "Only the part of the guidance orthogonal to ε(c), norm-capped, with momentum.",
            GuidanceMethod.CFG_ZERO_STAR: "ε(∅) scaled by the optimal α; the first step outputs zero.",
        }[self]


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
        return context.eps_from_x0(thresholding.static_threshold(context.x0_from_eps(guided)))
    if method is GuidanceMethod.DYNAMIC_THRESHOLD:
        x0 = context.x0_from_eps(guided)
        if context.latent:
            mimic = classifier_free(eps_cond, eps_uncond, thresholding.MIMIC_SCALE)
            x0 = thresholding.mimic_threshold(x0, context.x0_from_eps(mimic))
        else:
            x0 = thresholding.dynamic_threshold(x0)
        return context.eps_from_x0(x0)
    raise ValueError(f"unknown guidance method {method!r}")
