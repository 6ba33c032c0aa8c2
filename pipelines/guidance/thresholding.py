"""Thresholding of the implied clean image x̂0, against the saturation large guidance scales cause.

Imagen (Saharia et al. 2022) — for pixel-space models, x̂0 in [−1, 1]:
  * static: clip x̂0 to [−1, 1];
  * dynamic: s_p = the p-th percentile of |x̂0| per sample; if s_p > 1, clip x̂0 to [−s_p, s_p] and divide
    by s_p. (diffusers' schedulers do this with `thresholding=True`; DeepFloyd IF uses p = 0.95.)

Latent models have no [−1, 1] range to clip to, so static thresholding does not apply there, and dynamic
thresholding takes the "mimic scale" form popularised by the sd-dynamic-thresholding extension: also form
the guided prediction at a low mimic scale m; centre each channel of both x̂0; clamp the high-scale one at
the p-th percentile of its magnitude (never below the mimic's spread) and rescale it to the mimic's spread;
add the high-scale means back.
"""

from __future__ import annotations

import torch
from diffusers.guiders import ClassifierFreeGuidance
from diffusers.guiders.guider_utils import GuiderOutput

from .context import StepContext

MIMIC_SCALE = 3.0  # the guidance scale whose dynamic range the latent form imitates
PERCENTILE = 0.995


def static_threshold(x0: torch.Tensor) -> torch.Tensor:
    """Pixel space only: clip x̂0 to [−1, 1]."""
    return x0.clamp(-1.0, 1.0)


def dynamic_threshold(x0: torch.Tensor, percentile: float = PERCENTILE) -> torch.Tensor:
    """Pixel space (Imagen): per sample s_p = quantile(|x̂0|, p), s = max(s_p, 1); x̂0 ← clip(x̂0, −s, s) / s."""
    flat = x0.abs().flatten(1).float()
    s = torch.quantile(flat, percentile, dim=1).clamp(min=1.0).to(x0.dtype)
    s = s.view(-1, *([1] * (x0.ndim - 1)))
    return x0.clamp(-s, s) / s


def mimic_threshold(x0_high: torch.Tensor, x0_mimic: torch.Tensor, percentile: float = PERCENTILE) -> torch.Tensor:
    """Latent space: bring x̂0 at a high guidance scale to the per-channel spread of x̂0 at the mimic scale.

    Args:
        x0_high: x̂0 at the user's guidance scale, (B, C, H, W).
        x0_mimic: x̂0 at `MIMIC_SCALE`, same shape.
    """
    dims = (-2, -1)
    mean_high = x0_high.mean(dim=dims, keepdim=True)
    centred_high = x0_high - mean_high
    centred_mimic = x0_mimic - x0_mimic.mean(dim=dims, keepdim=True)
    mimic_spread = centred_mimic.abs().amax(dim=dims, keepdim=True)
    limit = torch.quantile(centred_high.abs().flatten(2).float(), percentile, dim=2).to(x0_high.dtype)[..., None, None]
    limit = torch.maximum(limit, mimic_spread)
    return centred_high.clamp(-limit, limit) / limit * mimic_spread + mean_high


class _ThresholdedGuidance(ClassifierFreeGuidance):
    """diffusers' classifier-free guidance, then x̂0 of the guided prediction thresholded by `threshold`.
    `set_context` gives the step (x_t, ᾱ_t, what the model predicts) before `forward`."""

    _context: StepContext | None = None

    def set_context(self, context: StepContext) -> None:
        self._context = context

    def threshold(self, x0: torch.Tensor, pred_cond: torch.Tensor, pred_uncond: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, pred_cond: torch.Tensor, pred_uncond: torch.Tensor | None = None) -> GuiderOutput:
        guided = super().forward(pred_cond, pred_uncond)
        if not self._is_cfg_enabled():
            return guided
        x0 = self.threshold(self._context.x0_from_prediction(guided.pred), pred_cond, pred_uncond)
        return GuiderOutput(pred=self._context.prediction_from_x0(x0), pred_cond=pred_cond, pred_uncond=pred_uncond)


class StaticThresholdingGuidance(_ThresholdedGuidance):
    """CFG, then x̂0 clipped to [−1, 1] (pixel models)."""

    def threshold(self, x0: torch.Tensor, pred_cond: torch.Tensor, pred_uncond: torch.Tensor) -> torch.Tensor:
        return static_threshold(x0)


class DynamicThresholdingGuidance(_ThresholdedGuidance):
    """CFG, then Imagen's dynamic thresholding of x̂0: the percentile clip on pixel models, the mimic form (toward
    the spread of guidance at `MIMIC_SCALE`) on latent ones."""

    def __init__(self, guidance_scale: float = 7.5, start: float = 0.0, stop: float = 1.0, **settings) -> None:
        super().__init__(guidance_scale=guidance_scale, start=start, stop=stop, **settings)
        self._mimic = ClassifierFreeGuidance(guidance_scale=MIMIC_SCALE)

    def threshold(self, x0: torch.Tensor, pred_cond: torch.Tensor, pred_uncond: torch.Tensor) -> torch.Tensor:
        if not self._context.latent:
            return dynamic_threshold(x0)
        mimic = self._mimic.forward(pred_cond, pred_uncond).pred
        return mimic_threshold(x0, self._context.x0_from_prediction(mimic))
