"""The guidance methods the lab offers: labels, what "strength" means, where each applies (no torch here,
so the UI can list them without loading a model library; `guide.py` applies them).

"Strength" is the number in the lab's columns. For every method built on classifier-free guidance it is
the guidance scale s; for CLIP guidance it is the gradient scale s on the CLIP cosine similarity (applied to
the conditional prediction, as GLIDE did); "No guidance" ignores it.
"""

from __future__ import annotations

from ..choices import LabelledEnum


class GuidanceMethod(LabelledEnum):
    NONE = "No guidance"
    CFG = "Classifier-free"
    NEGATIVE_PROMPT = "Classifier-free + negative prompt"
    CLIP = "CLIP guidance (GLIDE)"
    STATIC_THRESHOLD = "CFG + static thresholding (Imagen)"
    DYNAMIC_THRESHOLD = "CFG + dynamic thresholding (Imagen)"
    RESCALE = "CFG + guidance rescale φ=0.7"
    APG = "Adaptive projected guidance (APG)"
    CFG_ZERO_STAR = "CFG-Zero*"

    @classmethod
    def field(cls) -> str:
        return "method"

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
