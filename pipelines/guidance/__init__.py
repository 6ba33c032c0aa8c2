"""Guidance methods for the guidance lab: each turns the denoiser's predictions of one step into the prediction the
sampler uses, in the shape of diffusers' guiders (settings in `__init__`, per-step state, the maths in `forward`).

`methods.py` is the table (labels for the UI, the guider class, what "strength" means for each); `guiders.py` builds
a cell's guider (diffusers' own, and `clip_guidance.py` / `thresholding.py` for ours); `lab.py` renders a batch of
cells from one noise; `calibration.py` searches the strength that matches CFG's CLIP score; `grid.py` runs a whole
lab grid through the pipeline manager and composes its PNG.
"""

from .methods import GuidanceMethod

__all__ = ["GuidanceMethod"]
