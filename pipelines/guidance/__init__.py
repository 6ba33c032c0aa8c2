"""Guidance methods for the guidance lab: each a small piece that turns the denoiser's conditional and
unconditional predictions of one step into the prediction the sampler uses.

`methods.py` lists them (labels for the UI, what "strength" means for each, where each applies);
`lab.py` renders a grid of (method, strength) cells from one prompt and one initial noise.
"""

from .context import StepContext
from .methods import GuidanceMethod, guide

__all__ = ["GuidanceMethod", "StepContext", "guide"]
