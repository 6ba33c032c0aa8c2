"""Inpainting: regenerate the masked part of an image from a prompt, by GLIDE's two methods (Nichol et al. 2021).

- `request.py`: the methods, `InpaintRequest` (image and mask included), `InpaintResult`.
- `resolve.py`: which models run, the checks, and the crop policy for canvases a model cannot take whole.
- `replace.py`: (a) "any model": replacement of the known region after every step, with RePaint resampling.
- `inpaint_model.py`: (b) a 9-channel inpainting UNet through `StableDiffusionInpaintPipeline`.
- `action.py`: `inpaint`, the action: canvas preparation, each method on the work area, paste-back.
- `preview.py`: the mask preview; `parameters.py`: the PNG parameters text.

Nothing here imports gradio; errors are ValueErrors naming the parameter. Image geometry lives in `pipelines/masks.py`.
"""

from .action import inpaint
from .preview import mask_preview, result_preview
from .request import SIDES, InpaintRequest, InpaintResult, Method
from .resolve import INPAINTING_SIBLING, inpainting_model_for, inpainting_models, needs_crop, with_crop_policy

__all__ = [
    "INPAINTING_SIBLING",
    "SIDES",
    "InpaintRequest",
    "InpaintResult",
    "Method",
    "inpaint",
    "inpainting_model_for",
    "inpainting_models",
    "mask_preview",
    "needs_crop",
    "result_preview",
    "with_crop_policy",
]
