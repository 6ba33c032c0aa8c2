"""CLIP guidance (GLIDE, Nichol et al. 2021): push each step toward higher CLIP similarity between the
image and the caption.

    ε̂ = ε(x_t, c) − sqrt(1−ᾱ_t) · s · ∇_{x_t} sim(E_I(D(x̂0)), E_T(y))

GLIDE trained a noise-aware CLIP; the practical form scores the implied clean image x̂0 (decoded by the
VAE D for latent models) with an ordinary CLIP. The gradient is taken through the decoder and CLIP but
not through the UNet (x̂0 is treated as a function of x_t with ε̂ fixed), which keeps the cost at one
decoder and one CLIP backward pass per step. Steps with ᾱ_t below `MIN_ALPHA_BAR` are left unguided: at
(near) pure noise, as the first step of a zero-terminal-SNR schedule, x̂0 = (x_t − sqrt(1−ᾱ_t)·ε̂)/sqrt(ᾱ_t)
is not defined. (SD's usual schedule never goes below ᾱ = 0.0047, so it is guided at every step.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .context import StepContext

MIN_ALPHA_BAR = 1e-3


def clip_guided(
    eps_cond: torch.Tensor,
    context: StepContext,
    scale: float,
    to_image: Callable[[torch.Tensor], torch.Tensor],
    image_embeddings: Callable[[torch.Tensor], torch.Tensor],
    text_embedding: torch.Tensor,
) -> torch.Tensor:
    """Args:
    eps_cond: the model's output for (x_t, c), ε or v as `context.prediction_type` says, (B, C, H, W).
    scale: s, the gradient scale on the cosine similarity (the lab's strength; 1–12 is the useful range on
        the bundled model, where it raises the CLIP score above classifier-free guidance's).
    to_image: x̂0 -> images in [0, 1], (B, 3, H', W') (the VAE decode for latent models).
    image_embeddings: images -> unit-norm CLIP embeddings (B, D); differentiable.
    text_embedding: unit-norm CLIP embedding of the caption, (1, D) or (B, D).
    """
    if scale == 0 or context.alpha_bar < MIN_ALPHA_BAR:
        return eps_cond
    eps = context.eps_from_prediction(eps_cond).detach()
    with torch.enable_grad():
        x_t = context.x_t.detach().requires_grad_(True)
        x0 = (x_t - (1 - context.alpha_bar) ** 0.5 * eps) / context.alpha_bar**0.5
        similarity = (image_embeddings(to_image(x0)) * text_embedding).sum()
        (gradient,) = torch.autograd.grad(similarity, x_t)
    return context.prediction_from_eps(eps - (1 - context.alpha_bar) ** 0.5 * scale * gradient)
