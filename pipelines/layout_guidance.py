"""Backward layout guidance (Chen, Laina & Vedaldi 2023, "Training-Free Layout Control with Cross-Attention
Guidance", https://arxiv.org/abs/2304.03373): move the latent so that each phrase's own attention falls in its
region.

After each of the first denoising steps, the UNet is run once more on the latent (conditional prompt only,
plain attention), every cross-attention layer records how much each pixel attends to each phrase's tokens, and
the latent takes a small step down the gradient of::

    E = Σ_layers Σ_phrases (1 − Σ_{pixels in R_k} A_k / Σ_{all pixels} A_k)²

`A_k` is the attention of a pixel to phrase k's tokens (summed over them, averaged over heads), `R_k` the
phrase's painted region at that layer's resolution. The step is normalised per image (mean |∇E| = 1) and
scaled by `step_size`, so it does not depend on the model's gradient scale.

Unlike the eDiff-I bias (`paint_with_words.py`), which edits the attention the model computes, this changes
the latent until the model's own attention agrees with the paint; on the bundled model the bias alone left
about a third of the objects beside their regions. Pipeline code: no UI imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .attention import cross_attention, cross_attention_wrapped
from .regions import layer_labels, layer_size

STEPS_FRACTION = 0.25  # guide after the first quarter of the steps: the layout is decided there
ITERATIONS = 2  # gradient steps per guided denoising step
MIN_SIDE = 8  # layers coarser than 8x8 say little about where a phrase lies (and blur small regions away)


@dataclass(frozen=True)
class LayoutTarget:
    """What the guidance pulls towards: a label map and, per label, the phrase's token positions."""

    labels: np.ndarray  # (H, W) uint8 at the image size; 0 = unpainted
    phrases: tuple[tuple[int, tuple[int, ...]], ...]  # (label, token positions of the phrase painted with it)


def can_guide(unet) -> bool:
    """Whether the guidance can call this UNet: SD 1.x/2.x-style, or SDXL's added text/time conditions."""
    return getattr(unet.config, "addition_embed_type", None) in (None, "text_time")


def guided_steps(total_steps: int) -> int:
    """How many denoising steps (from the first) are followed by a guidance update."""
    return max(1, math.ceil(STEPS_FRACTION * total_steps))


class _AttentionRecorder:
    """Cross-attention that records the attention maps (and computes the layer's output as usual)."""

    def __init__(self, original, maps: list[torch.Tensor]):
        self.original = original
        self.maps = maps

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        if encoder_hidden_states is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, temb, **kwargs)
        record = lambda weights: self.maps.append(weights.mean(dim=1))  # noqa: E731  (B, pixels, tokens)
        return cross_attention(attn, hidden_states, encoder_hidden_states, attention_mask, temb, see_weights=record)


def region_energy(maps: list[torch.Tensor], target: LayoutTarget, latent_size: tuple[int, int]) -> torch.Tensor:
    """E per image, (B,): how much of each phrase's attention lies outside its region, over the layers."""
    energy = maps[0].new_zeros(maps[0].shape[0])
    for attention in maps:
        if min(layer_size(attention.shape[1], latent_size)) < MIN_SIDE:
            continue
        labels = layer_labels(target.labels, attention.shape[1], latent_size).to(attention.device)
        for label, tokens in target.phrases:
            mass = attention[:, :, list(tokens)].sum(dim=-1)  # (B, pixels)
            inside = (mass * (labels == label).to(mass.dtype)).sum(dim=1) / mass.sum(dim=1).clamp(min=1e-8)
            energy = energy + (1 - inside) ** 2
    return energy


def guide_latents(
    unet, scheduler, latents, timestep, context, target: LayoutTarget, step_size: float, added_cond_kwargs=None
):
    """`ITERATIONS` gradient steps on `latents` (before the UNet sees them at `timestep`) towards the paint.

    Args:
        unet: the pipeline's UNet (its attention processors are swapped for the call and restored).
        scheduler: the pipeline's scheduler (for `scale_model_input`).
        latents: (B, C, h, w) the current latents.
        timestep: the timestep the next denoising step will use.
        context: (B, tokens, dim) the conditional prompt embeddings, one row per latent.
        target: the painted regions and their phrases' tokens.
        step_size: mean absolute change per latent element and iteration.
        added_cond_kwargs: SDXL's {"text_embeds", "time_ids"} for the conditional prompt, one row per latent.
    """
    maps: list[torch.Tensor] = []
    # Inference tensors (the pipeline runs under inference mode) cannot enter autograd: clone them outside it.
    with (
        cross_attention_wrapped(unet, lambda original: _AttentionRecorder(original, maps)),
        torch.inference_mode(False),
        torch.enable_grad(),
    ):
        x = latents.clone()
        context = context.clone()
        if added_cond_kwargs is not None:
            added_cond_kwargs = {k: v.clone() for k, v in added_cond_kwargs.items()}
        for _ in range(ITERATIONS):
            x = x.detach().requires_grad_(True)
            maps.clear()
            unet(scheduler.scale_model_input(x, timestep), timestep, context, added_cond_kwargs=added_cond_kwargs)
            energy = region_energy(maps, target, tuple(x.shape[-2:])).sum()
            (grad,) = torch.autograd.grad(energy, x)
            scale = grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)
            x = x - step_size * grad / scale
    return x.detach().to(latents.dtype)
