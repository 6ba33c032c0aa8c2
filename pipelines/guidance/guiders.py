"""Builds the guider of one lab cell from the table in `methods.py`: diffusers' own guider classes, two of them with
a fix for running on a UNet, and ours (CLIP guidance, thresholding) in the same shape."""

from __future__ import annotations

import logging

import diffusers.guiders
import torch
from diffusers.guiders.guider_utils import BaseGuidance, GuiderOutput

from .clip_guidance import ClipGuidance
from .methods import MID_BLOCK, GuidanceMethod
from .thresholding import DynamicThresholdingGuidance, StaticThresholdingGuidance

# diffusers logs "Guiders are currently an experimental feature" at every guider built: once per cell and run here.
logging.getLogger("diffusers.guiders.guider_utils").setLevel(logging.ERROR)


class SmoothedEnergyGuidance(diffusers.guiders.SmoothedEnergyGuidance):
    """diffusers 0.42's SEG with the count of prepared passes it forgets to keep: its `prepare_models` never adds to
    `_count_prepared`, so the blur is never applied and the row would be plain CFG (tests/guidance checks both)."""

    def prepare_models(self, denoiser: torch.nn.Module) -> None:
        self._count_prepared += 1
        super().prepare_models(denoiser)


class MagnitudeAwareGuidance(diffusers.guiders.MagnitudeAwareGuidance):
    """diffusers' MAMBO-G on (batch, values) views: its norm over every non-batch dimension fails on a UNet's 4-D
    (batch, channels, height, width) predictions (`linalg.matrix_norm` takes two), and is the same norm flattened."""

    def forward(self, pred_cond: torch.Tensor, pred_uncond: torch.Tensor | None = None) -> GuiderOutput:
        shape = pred_cond.shape
        flat = super().forward(pred_cond.flatten(1), None if pred_uncond is None else pred_uncond.flatten(1))
        return GuiderOutput(pred=flat.pred.reshape(shape), pred_cond=pred_cond, pred_uncond=pred_uncond)


OURS: dict[str, type[BaseGuidance]] = {
    "ClipGuidance": ClipGuidance,
    "StaticThresholdingGuidance": StaticThresholdingGuidance,
    "DynamicThresholdingGuidance": DynamicThresholdingGuidance,
    "SmoothedEnergyGuidance": SmoothedEnergyGuidance,
    "MagnitudeAwareGuidance": MagnitudeAwareGuidance,
}


def guider_class(method: GuidanceMethod) -> type[BaseGuidance]:
    name = method.spec.guider
    return OURS.get(name) or getattr(diffusers.guiders, name)


def build_guider(
    method: GuidanceMethod, strength: float, start: float = 0.0, stop: float = 1.0, **extra
) -> BaseGuidance:
    """A fresh guider for one cell (its per-step state is the cell's own).

    Args:
        strength: the lab's strength, turned into the guider's arguments by the table.
        start, stop: the guidance interval, fractions of the steps.
        extra: what our guiders need besides settings (CLIP guidance: the CLIP functions).
    """
    spec = method.spec
    return guider_class(method)(**spec.settings, **spec.strength(strength), start=start, stop=stop, **extra)


def why_not_on(method: GuidanceMethod, unet, latent: bool = True) -> str | None:
    """Why `method` cannot run with this UNet (None when it can), in words for the cell."""
    reason = method.unavailable_reason(latent)
    if reason:
        return reason
    if method.spec.perturbs_unet:
        blocks = unet
        for part in MID_BLOCK.split("."):
            blocks = getattr(blocks, part, None) if not part.isdigit() else _item(blocks, int(part))
        if not isinstance(blocks, torch.nn.ModuleList) or len(blocks) == 0:
            return f"{method.label} perturbs the UNet's middle transformer block ({MID_BLOCK}), which this model lacks"
    if method is GuidanceMethod.FREQUENCY_DECOUPLED:
        try:
            import kornia  # noqa: F401
        except ImportError:
            return "Frequency-decoupled guidance needs the kornia package (pip install kornia==0.9.0)"
    return None


def _item(modules, index: int):
    try:
        return modules[index]
    except (TypeError, IndexError):
        return None


def hook_sites(unet) -> list[torch.nn.Module]:
    """The modules a guider's `prepare_models` may hook (the middle block's): checked to tell a perturbed pass."""
    blocks = unet.get_submodule(MID_BLOCK.rsplit(".transformer_blocks", 1)[0]) if hasattr(unet, "mid_block") else None
    return list(blocks.modules()) if blocks is not None else []


def is_hooked(sites: list[torch.nn.Module]) -> bool:
    """Whether a guider has hooked any of `sites` (diffusers keeps a module's hooks in `_diffusers_hook`)."""
    return any(getattr(getattr(m, "_diffusers_hook", None), "hooks", None) for m in sites)
