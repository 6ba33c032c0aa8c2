"""The guidance methods the lab offers: one table, one line per method, deciding its label, the guider class that
applies it and what the lab's "strength" means for it (no torch here, so the UI can list them without loading a
model library; `guiders.py` builds the guiders).

Most rows are diffusers' own guiders (`diffusers.guiders`, settings in `__init__`, per-step state, the maths in
`forward`); CLIP guidance and thresholding are ours, in the same shape (`clip_guidance.py`, `thresholding.py`).
"Strength" is the number in the lab's columns: for every method built on classifier-free guidance it is the
guidance scale s; for CLIP guidance the gradient scale on the CLIP similarity; "No guidance" ignores it.

Every row also takes a guidance interval (Kynkäänniemi et al. 2024, arXiv:2404.07724): guidance on for the steps
from `start` to `stop` (fractions of the steps, diffusers' `int(start·steps) ≤ step < int(stop·steps)`), plain
conditional sampling elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..choices import LabelledEnum

# The self-attention of the UNet's middle block (SD 1.x/2.x and SDXL alike): where PAG perturbs, SEG blurs, SLG and
# AutoGuidance skip. diffusers' "auto" layer lookup only finds DiT blocks, so UNets name them.
MID_BLOCK = "mid_block.attentions.0.transformer_blocks"


class GuidanceMethod(LabelledEnum):
    NONE = "No guidance"
    CFG = "Classifier-free"
    NEGATIVE_PROMPT = "Classifier-free + negative prompt"
    CLIP = "CLIP guidance (GLIDE)"
    STATIC_THRESHOLD = "CFG + static thresholding (Imagen)"
    DYNAMIC_THRESHOLD = "CFG + dynamic thresholding (Imagen)"
    RESCALE = "CFG + guidance rescale φ=0.7"
    APG = "Adaptive projected guidance (APG)"
    APG_MIX = "CFG, then APG (APG mix)"
    CFG_ZERO_STAR = "CFG-Zero*"
    TANGENTIAL = "Tangential CFG (TCFG)"
    FREQUENCY_DECOUPLED = "Frequency-decoupled guidance (FDG)"
    MAGNITUDE_AWARE = "Magnitude-aware guidance (MAMBO-G)"
    PERTURBED_ATTENTION = "CFG + perturbed attention (PAG)"
    SMOOTHED_ENERGY = "CFG + smoothed energy (SEG)"
    SKIP_LAYER = "CFG + skip-layer guidance (SLG)"
    AUTOGUIDANCE = "AutoGuidance (weakened mid-block as ∅)"

    @classmethod
    def field(cls) -> str:
        return "method"

    @property
    def spec(self) -> MethodSpec:
        return METHODS[self]

    def unavailable_reason(self, latent: bool) -> str | None:
        """Why this method cannot run on a model of this kind, or None when it can."""
        return self.spec.latent_reason if latent else None

    def description(self, latent: bool = True) -> str:
        return self.spec.description


def _scale(s: float) -> dict:
    return {"guidance_scale": s}


def _mid_block(**skip) -> dict:
    """A `LayerSkipConfig` (as diffusers' guiders accept it, a dict) on the middle block's first transformer."""
    return {"indices": [0], "fqn": MID_BLOCK, **skip}


@dataclass(frozen=True)
class MethodSpec:
    """One row of the table."""

    guider: str  # a class of `diffusers.guiders`, or of ours named in `guiders.OURS`
    strength: Callable[[float], dict]  # the lab's strength -> the guider's arguments
    description: str  # what a person reads beside the grid
    settings: dict = field(default_factory=dict)  # fixed arguments
    perturbs_unet: bool = False  # needs a pass of the UNet with MID_BLOCK changed (hooks); SD/SDXL UNets have it
    latent_reason: str | None = None  # why it does not apply to latent models (None: it does)
    uses_negative_prompt: bool = False  # ∅ is the negative prompt's embedding


_STATIC_ON_LATENTS = (
    "Static thresholding clips x̂0 to the pixel range [−1, 1]; a latent model's x̂0 is a VAE latent with no such "
    "range, so clipping it would only destroy the image. Use dynamic thresholding, which has a latent form."
)

METHODS: dict[GuidanceMethod, MethodSpec] = {
    GuidanceMethod.NONE: MethodSpec(
        "ClassifierFreeGuidance",
        lambda s: _scale(1.0),
        "ε(x_t, c) only: plain conditional sampling; strength is ignored.",
    ),
    GuidanceMethod.CFG: MethodSpec(
        "ClassifierFreeGuidance", _scale, "ε̂ = ε(∅) + s·(ε(c) − ε(∅)) (Ho & Salimans 2021)."
    ),
    GuidanceMethod.NEGATIVE_PROMPT: MethodSpec(
        "ClassifierFreeGuidance",
        _scale,
        "Classifier-free guidance with the negative prompt in place of ∅.",
        uses_negative_prompt=True,
    ),
    GuidanceMethod.CLIP: MethodSpec(
        "ClipGuidance",
        lambda s: {"scale": s},
        "Conditional prediction pushed up the gradient of the CLIP similarity of x̂0 (decoded) with the prompt "
        "(GLIDE); strength = gradient scale.",
    ),
    GuidanceMethod.STATIC_THRESHOLD: MethodSpec(
        "StaticThresholdingGuidance",
        _scale,
        "CFG, then x̂0 clipped to [−1, 1] (Imagen; pixel models only).",
        latent_reason=_STATIC_ON_LATENTS,
    ),
    GuidanceMethod.DYNAMIC_THRESHOLD: MethodSpec(
        "DynamicThresholdingGuidance",
        _scale,
        "CFG, then x̂0 brought to the per-channel spread of CFG at scale 3 (Imagen's dynamic thresholding, in the "
        "latent 'mimic' form).",
    ),
    GuidanceMethod.RESCALE: MethodSpec(
        "ClassifierFreeGuidance",
        _scale,
        "CFG, then rescaled toward the std of ε(c) with φ = 0.7 (Lin et al. 2023).",
        settings={"guidance_rescale": 0.7},
    ),
    GuidanceMethod.APG: MethodSpec(
        "AdaptiveProjectedGuidance",
        _scale,
        "Only the part of the guidance orthogonal to ε(c), norm-capped at 15, with momentum −0.5 (Sadat et al. 2024).",
        settings={
            "adaptive_projected_guidance_momentum": -0.5,
            "adaptive_projected_guidance_rescale": 15.0,
            "eta": 0.0,
        },
    ),
    GuidanceMethod.APG_MIX: MethodSpec(
        "AdaptiveProjectedMixGuidance",
        lambda s: {"guidance_scale": s, "adaptive_projected_guidance_scale": s},
        "CFG for the first 5 steps, APG after (HunyuanImage 2.1's mix); both at s.",
    ),
    GuidanceMethod.CFG_ZERO_STAR: MethodSpec(
        "ClassifierFreeZeroStarGuidance",
        _scale,
        "ε(∅) scaled by the optimal α = ⟨ε(c), ε(∅)⟩/|ε(∅)|²; the first step outputs zero (Fan et al. 2025).",
        settings={"zero_init_steps": 1},
    ),
    GuidanceMethod.TANGENTIAL: MethodSpec(
        "TangentialClassifierFreeGuidance",
        _scale,
        "CFG with ε(∅) projected onto the main singular direction of [ε(c); ε(∅)] (Kwon et al. 2025).",
    ),
    GuidanceMethod.FREQUENCY_DECOUPLED: MethodSpec(
        "FrequencyDecoupledGuidance",
        lambda s: {"guidance_scales": [s, s / 2]},
        "CFG per level of a Laplacian pyramid: s on the fine detail, s/2 on the coarse layout and colour "
        "(Sadat et al. 2025; their SDXL setting is 10 / 5).",
    ),
    GuidanceMethod.MAGNITUDE_AWARE: MethodSpec(
        "MagnitudeAwareGuidance",
        _scale,
        "CFG whose scale shrinks where |ε(c) − ε(∅)| / |ε(∅)| is large: 1 + (s − 1)·exp(−8·ratio) (MAMBO-G).",
    ),
    GuidanceMethod.PERTURBED_ATTENTION: MethodSpec(
        "PerturbedAttentionGuidance",
        _scale,
        "CFG at s plus 3 × (ε(c) − ε(c) with the middle block's self-attention map replaced by the identity) "
        "(Ahn et al. 2024).",
        settings={
            "perturbed_guidance_scale": 3.0,
            "perturbed_guidance_start": 0.0,
            "perturbed_guidance_stop": 1.0,
            "perturbed_guidance_config": _mid_block(skip_attention=False, skip_attention_scores=True, skip_ff=False),
        },
        perturbs_unet=True,
    ),
    GuidanceMethod.SMOOTHED_ENERGY: MethodSpec(
        "SmoothedEnergyGuidance",
        _scale,
        "CFG at s plus 3 × (ε(c) − ε(c) with the middle block's attention queries blurred flat) (Hong 2024).",
        settings={"seg_guidance_scale": 3.0, "seg_guidance_config": {"indices": [0], "fqn": MID_BLOCK}},
        perturbs_unet=True,
    ),
    GuidanceMethod.SKIP_LAYER: MethodSpec(
        "SkipLayerGuidance",
        _scale,
        "CFG at s plus 2.8 × (ε(c) − ε(c) without the middle transformer block), from 1 % to 20 % of the steps "
        "(SD 3.5's skip-layer guidance).",
        settings={"skip_layer_guidance_scale": 2.8, "skip_layer_config": _mid_block()},
        perturbs_unet=True,
    ),
    GuidanceMethod.AUTOGUIDANCE: MethodSpec(
        "AutoGuidance",
        _scale,
        "Guides away from a weaker version of the model itself (Karras et al. 2024): here ε(∅) from the UNet without "
        "its middle transformer block.",
        settings={"auto_guidance_config": _mid_block(dropout=1.0)},
        perturbs_unet=True,
    ),
}

# diffusers.guiders classes the lab does not offer, and why (the README lists them).
NOT_OFFERED = {
    "LTX2Guidance": "written for LTX-2's audio-video transformer (spatio-temporal and cross-modality guidance)",
}
