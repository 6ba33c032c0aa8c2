"""What an inpainting run is asked and what it gives back: the methods, the request, the result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..choices import LabelledEnum
from ..samplers import Sampler

SIDES = ("left", "right", "top", "bottom")  # outpainting directions


class Method(LabelledEnum):
    """The value is the label shown in the UI and written in the parameters."""

    REPLACE = "Any model (replace known region)"
    INPAINT_MODEL = "Inpainting model (9-channel UNet)"
    BOTH = "Both, side by side"

    @classmethod
    def field(cls) -> str:
        return "method"

    @property
    def short(self) -> str:
        """A caption for results: which of GLIDE's two ways made the image."""
        return {"REPLACE": "(a) any model: replacement", "INPAINT_MODEL": "(b) inpainting model"}.get(
            self.name, "both"
        )

    def runs(self) -> tuple[Method, ...]:
        return (Method.REPLACE, Method.INPAINT_MODEL) if self is Method.BOTH else (self,)


@dataclass(frozen=True)
class InpaintRequest:
    """Everything that decides the result. Defaults live here and nowhere else; limits in pipelines/limits.py."""

    prompt: str
    image: Image.Image | np.ndarray | None = None  # RGB, RGBA, L, I;16, CMYK, uint8/uint16 arrays
    mask: Image.Image | np.ndarray | None = None  # the image's size; white/opaque/True = regenerate
    negative_prompt: str = ""
    model: str | None = None  # text-to-image model for method (a); None = the default (bundled) model
    inpaint_model: str | None = None  # 9-channel model for method (b); None = the one matching `model`
    method: str = Method.REPLACE.label  # a `Method` label
    sampler: str = Sampler.DPMPP_2M.label
    steps: int = 20  # denoising steps at denoising strength 1
    cfg_scale: float = 7.0  # classifier-free guidance scale
    seed: int = -1  # -1 = random; both methods use the same seed
    denoising_strength: float = 1.0  # 1 = the masked area starts from pure noise; lower keeps more of the original
    resample: int = 8  # method (a): passes over each step of the first half (RePaint); 1 = plain replacement
    mask_blur: int = 0  # feather: blend this many px outside the mask (0 = hard edge, outside = the original)
    only_masked: bool = False  # inpaint a padded box around the mask at the model's native size, then paste back
    only_masked_padding: int = 16  # pixels of context around the mask's bounding box in that mode
    outpaint_left: int = 0  # pixels added to the canvas on each side; the new area is filled (joins the mask)
    outpaint_right: int = 0
    outpaint_top: int = 0
    outpaint_bottom: int = 0

    @property
    def outpaint(self) -> tuple[int, int, int, int]:
        """Pixels added on the (left, right, top, bottom) sides."""
        return tuple(getattr(self, f"outpaint_{side}") for side in SIDES)


@dataclass(frozen=True)
class InpaintResult:
    images: list[Image.Image]  # one per method run, in `labels` order, each with `.info["parameters"]`
    labels: list[str]  # short method captions, "(a) …" / "(b) …"
    parameters: list[str]
    notes: list[str]  # things the person should know (full mask = text-to-image, converted image mode, crop...)
    seed: int
    canvas: Image.Image  # the (outpainted) image the methods started from, RGB
    mask: Image.Image  # the mask used on the canvas ("L", 0..255, feathered)
    crop_box: tuple[int, int, int, int] | None  # (left, top, right, bottom) in "only masked" mode
    request: InpaintRequest  # with seed and model names resolved
    stopped_at: int | None = None  # the step Stop was honoured at (steps of all methods counted together)
