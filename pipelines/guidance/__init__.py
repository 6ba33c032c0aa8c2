"""Guidance methods for the guidance lab: each a small piece that turns the denoiser's conditional and
unconditional predictions of one step into the prediction the sampler uses.

`methods.py` lists them (labels for the UI, what "strength" means for each, where each applies);
`guide.py` applies one to a step; `lab.py` renders a batch of (method, strength) cells from one noise;
`grid.py` runs a whole lab grid through the pipeline manager and composes its PNG.
"""

from .methods import GuidanceMethod

__all__ = ["GuidanceMethod"]
