"""What will be regenerated, drawn for a person: the canvas with the mask tinted and the work box outlined."""

from __future__ import annotations

import cv2
import numpy as np

from ..limits import LIMITS
from ..masks import crop_box, feather, normalise_image, normalise_mask, outpaint, resize_mask
from .request import InpaintRequest, InpaintResult


def mask_preview(image, mask, request: InpaintRequest, display_size: int = 256) -> np.ndarray:
    """The (outpainted) canvas with the feathered mask tinted, and the work box of "only masked" outlined.

    Small images are enlarged by a whole factor (nearest neighbour) to about `display_size` so the mask is visible.
    Raises the same ValueErrors as `inpaint` for the image and mask. Returns an RGB uint8 array.
    """
    pixels = normalise_image(image)
    binary = normalise_mask(mask)
    if binary.shape != pixels.shape[:2]:
        binary = resize_mask(binary, (pixels.shape[1], pixels.shape[0]))
    pixels, binary = outpaint(pixels, binary, *request.outpaint)
    weight = feather(binary, max(0, min(int(request.mask_blur), int(LIMITS["mask_blur"].high))))
    box = None
    if request.only_masked and binary.any():
        box = crop_box(weight > 0, max(0, int(request.only_masked_padding)))
    return _draw(pixels, weight, box, display_size)


def result_preview(result: InpaintResult, display_size: int = 256) -> np.ndarray:
    """The same picture for a finished run: its (outpainted) canvas, the feathered mask it used, its work box."""
    weight = np.asarray(result.mask, dtype=np.float32) / 255.0
    return _draw(np.asarray(result.canvas.convert("RGB")), weight, result.crop_box, display_size)


def _draw(pixels: np.ndarray, weight: np.ndarray, box, display_size: int) -> np.ndarray:
    tint = np.array([255, 0, 160], np.float32)
    alpha = 0.55 * weight[..., None]
    out = (pixels.astype(np.float32) * (1 - alpha) + tint * alpha).round().astype(np.uint8)
    factor = max(1, display_size // max(out.shape[:2]))
    if factor > 1:
        out = np.repeat(np.repeat(out, factor, axis=0), factor, axis=1)
    if box is not None:
        left, top, right, bottom = box
        thickness = max(1, min(out.shape[:2]) // 128)
        cv2.rectangle(
            out, (left * factor, top * factor), (right * factor - 1, bottom * factor - 1), (0, 120, 255), thickness
        )
    return out
