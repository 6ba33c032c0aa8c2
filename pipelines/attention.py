"""Cross-attention of a diffusers `Attention` layer written out, with a hook on its logits and on its weights.

Paint with words adds a bias to the logits; layout guidance records the weights. Both run the same steps
as diffusers' `AttnProcessor`: Q from the image, K and V from the text, softmax(QKᵀ/√d + mask) V, the output
projection, residual and rescale. Logits and weights are float32 (a bias proportional to the largest logit,
and gradients through the softmax, both want the precision).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import torch


def is_cross_attention(name: str) -> bool:
    """diffusers names the cross-attention of a transformer block `attn2` (`attn1` is self-attention)."""
    return name.endswith("attn2.processor")


@contextmanager
def cross_attention_wrapped(unet, wrap: Callable):
    """Every cross-attention processor `p` of `unet` is `wrap(p)` inside the `with` block; the originals come back
    after it, also when it raises."""
    original = dict(unet.attn_processors)
    unet.set_attn_processor({name: wrap(p) if is_cross_attention(name) else p for name, p in original.items()})
    try:
        yield
    finally:
        unet.set_attn_processor(original)


def cross_attention(
    attn,
    hidden_states: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    temb: torch.Tensor | None = None,
    edit_logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
    see_weights: Callable[[torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """The layer's output, with `edit_logits(QKᵀ/√d) -> logits` before the softmax and `see_weights(weights)`
    after it; both get (batch, heads, pixels, tokens) float32 tensors."""
    residual = hidden_states
    if attn.spatial_norm is not None:
        hidden_states = attn.spatial_norm(hidden_states, temb)
    input_ndim = hidden_states.ndim
    if input_ndim == 4:
        batch, channel, height, width = hidden_states.shape
        hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
    batch = hidden_states.shape[0]
    n_tokens = encoder_hidden_states.shape[1]
    if attn.group_norm is not None:
        hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

    # 1. Q from the image, K and V from the text
    query = attn.to_q(hidden_states)
    if attn.norm_cross:
        encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
    key = attn.to_k(encoder_hidden_states)
    value = attn.to_v(encoder_hidden_states)
    head_dim = key.shape[-1] // attn.heads
    query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)  # (B, heads, pixels, d)
    key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)  # (B, heads, tokens, d)
    value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
    if getattr(attn, "norm_q", None) is not None:
        query = attn.norm_q(query)
    if getattr(attn, "norm_k", None) is not None:
        key = attn.norm_k(key)

    # 2. Logits QKᵀ/√d, edited, masked
    logits = (query.float() @ key.float().transpose(-1, -2)) * attn.scale  # (B, heads, pixels, tokens)
    if edit_logits is not None:
        logits = edit_logits(logits)
    if attention_mask is not None:
        mask = attn.prepare_attention_mask(attention_mask, n_tokens, batch)
        logits = logits + mask.view(batch, attn.heads, -1, n_tokens).float()

    # 3. softmax(logits) V, then the output projection as usual
    weights = logits.softmax(dim=-1)
    if see_weights is not None:
        see_weights(weights)
    hidden_states = (weights.to(value.dtype) @ value).transpose(1, 2).reshape(batch, -1, attn.heads * head_dim)
    hidden_states = attn.to_out[0](hidden_states)
    hidden_states = attn.to_out[1](hidden_states)
    if input_ndim == 4:
        hidden_states = hidden_states.transpose(-1, -2).reshape(batch, channel, height, width)
    if attn.residual_connection:
        hidden_states = hidden_states + residual
    return hidden_states / attn.rescale_output_factor
