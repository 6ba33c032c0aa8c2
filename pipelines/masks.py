"""Images and masks for inpainting: reading what users upload, and the geometry around the mask.

Normalisation turns any upload (RGBA, L, 16-bit, CMYK) into RGB uint8 and refuses what cannot work with a
ValueError naming the parameter; masks are boolean (True = regenerate). Then the geometry: outpainting (extend
the canvas), feather, the padded crop box of "only masked area", and the paste-back that returns every pixel
of weight 0 from the original unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

MAX_IMAGE_PIXELS = 4096 * 4096  # any input image (the crop mode scales the work area down to the model's size)
MIN_SIDE = 8  # one latent pixel of an SD VAE


def normalise_image(image, notes: list[str] | None = None) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array from a PIL image or array (RGB, RGBA, L, 1, P, I;16, CMYK, uint16 arrays).

    RGBA is composited on white, 16-bit is scaled to 8-bit; each conversion adds a line to `notes`.
    """
    notes = notes if notes is not None else []
    if image is None:
        raise ValueError("`image` is missing: upload an image (or send one from another tab)")
    if isinstance(image, np.ndarray):
        array = image
        if array.dtype == np.uint16:
            array = (array.astype(np.float32) / 257.0).round().astype(np.uint8)
            notes.append("The 16-bit image was converted to 8 bits per channel.")
        elif array.dtype == bool:
            array = array.astype(np.uint8) * 255
        elif array.dtype != np.uint8:
            raise ValueError(f"`image` must be a uint8 or uint16 array, got dtype {array.dtype}")
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
            raise ValueError(f"`image` must have shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        if array.shape[2] == 4:
            image = Image.fromarray(array, "RGBA")
        else:
            check_pixels(array.shape[1], array.shape[0])
            return np.ascontiguousarray(array)
    if not isinstance(image, Image.Image):
        raise ValueError(f"`image` must be a PIL image or a numpy array, got {type(image).__name__}")
    check_pixels(*image.size)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        scale = 257.0 if mode.startswith("I;16") or array.max() > 255 else 1.0
        gray = np.clip(array / scale, 0, 255).round().astype(np.uint8)
        notes.append(f"The 16-bit image ({mode}) was converted to 8-bit RGB.")
        return np.repeat(gray[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        if np.asarray(rgba)[..., 3].min() < 255:
            notes.append("Transparent parts of the image were filled with white.")
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB")).copy()
    if mode != "RGB":
        if mode == "CMYK":
            notes.append("The CMYK image was converted to RGB.")
        image = image.convert("RGB")
    return np.asarray(image).copy()


def normalise_mask(mask) -> np.ndarray:
    """A binary mask (H, W) bool — True where to generate — from a PIL image or array.

    RGBA masks use their alpha (an editor layer: painted = opaque); RGB/L masks use brightness; threshold 50 %.
    """
    if mask is None:
        raise ValueError("`mask` is missing: paint over the part of the image to regenerate")
    if isinstance(mask, Image.Image):
        if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
            array = np.asarray(mask.convert("RGBA"))[..., 3]
        elif mask.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = (np.asarray(mask, dtype=np.float32) / 257.0).astype(np.uint8)
        else:
            array = np.asarray(mask.convert("L"))
    elif isinstance(mask, np.ndarray):
        array = mask
        if array.dtype == bool:
            return array.copy() if array.ndim == 2 else array.any(axis=-1)
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[..., 3]
        elif array.ndim == 3:
            array = array.max(axis=2)
        if array.ndim != 2:
            raise ValueError(f"`mask` must have shape (H, W), (H, W, 3) or (H, W, 4), got {mask.shape}")
        if array.dtype == np.uint16:
            array = array / 257.0
        elif np.issubdtype(array.dtype, np.floating):
            array = array * 255.0
    else:
        raise ValueError(f"`mask` must be a PIL image or a numpy array, got {type(mask).__name__}")
    return np.asarray(array) >= 128


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes a mask (bool or uint8, (H, W)) to `size` = (width, height) with nearest neighbour.

    The studio calls this for editor layers, whose size may differ from the image's; `inpaint` itself refuses
    a mismatch instead of hiding it.
    """
    array = np.asarray(mask).astype(np.uint8)
    if array.shape[:2] == (size[1], size[0]):
        return np.asarray(mask)
    resized = cv2.resize(array, size, interpolation=cv2.INTER_NEAREST)
    return resized.astype(bool) if np.asarray(mask).dtype == bool else resized


def mask_from_layers(layers, size: tuple[int, int]) -> np.ndarray:
    """The mask painted in an image editor: union of its layers' alpha (at least half opaque), resized to `size`.

    Args:
        layers: RGBA arrays (H, W, 4) or PIL images, or None/[] when nothing was painted.
        size: (width, height) of the image the mask is for.
    Returns:
        (height, width) bool; all False when nothing was painted.
    """
    width, height = size
    mask = np.zeros((height, width), dtype=bool)
    for layer in layers or []:
        if layer is None:
            continue
        mask |= resize_mask(normalise_mask(layer), size)
    return mask


def check_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ValueError(f"`image` is empty, got {width}x{height}")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ValueError(f"`image` must be at least {MIN_SIDE}x{MIN_SIDE} pixels to inpaint, got {width}x{height}")
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"`image` must have at most {MAX_IMAGE_PIXELS} pixels, got {width}x{height} = {width * height}; "
            "scale it down first"
        )


# --------------------------------------------------------------------- geometry
def outpaint(
    image: np.ndarray, mask: np.ndarray, left: int = 0, right: int = 0, top: int = 0, bottom: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Extends the canvas; the new area is filled by repeating the edge pixels and added to the mask.

    Args:
        image: (H, W, 3) uint8.  mask: (H, W) bool.
    Returns:
        (H + top + bottom, W + left + right, 3) image and the matching mask.
    """
    if not any((left, right, top, bottom)):
        return image, mask
    canvas = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    new_mask = np.ones(canvas.shape[:2], dtype=bool)
    new_mask[top : top + image.shape[0], left : left + image.shape[1]] = mask
    return canvas, new_mask


def feather(mask: np.ndarray, radius: int) -> np.ndarray:
    """The blend weight per pixel, float32 in [0, 1]: 1 on the whole drawn mask, easing to 0 over `radius` px outside.

    The feather grows outward, so everything painted is regenerated (no half-kept edge of a removed object) and the
    seam is blended into the surroundings. radius 0 gives the binary mask: outside pixels keep weight exactly 0.
    """
    weight = mask.astype(np.float32)
    if radius <= 0 or not mask.any():
        return weight
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)  # px to the nearest masked pixel
    ramp = np.clip(1.0 - distance / (radius + 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)  # smoothstep: no visible kink at either end


def crop_box(mask: np.ndarray, padding: int, aspect: float = 1.0, multiple: int = 1) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) around the mask's pixels, padded, grown to `aspect` (= w / h), in the image.

    Grows symmetrically and shifts inward at the borders; when the image is too small for the aspect, the box is
    the largest that fits. `multiple` rounds the box size up (when it fits) so scaling stays clean.
    """
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("`mask` is empty: paint over the part of the image to regenerate")
    x0, x1 = max(int(xs.min()) - padding, 0), min(int(xs.max()) + 1 + padding, width)
    y0, y1 = max(int(ys.min()) - padding, 0), min(int(ys.max()) + 1 + padding, height)
    w, h = x1 - x0, y1 - y0
    if w / h < aspect:
        w = min(int(np.ceil(h * aspect)), width)
    else:
        h = min(int(np.ceil(w / aspect)), height)
    if multiple > 1:
        w = min(-(-w // multiple) * multiple, width)
        h = min(-(-h // multiple) * multiple, height)
    w, h = max(w, x1 - x0), max(h, y1 - y0)

    def place(lo: int, hi: int, size: int, limit: int) -> int:
        start = (lo + hi - size) // 2
        return min(max(start, 0), limit - size)

    left, top = place(x0, x1, w, width), place(y0, y1, h, height)
    return left, top, left + w, top + h


def paste_back(original: np.ndarray, generated: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """original·(1 − m) + generated·m per pixel, rounded; where m = 0 the original comes back bit-exact."""
    m = weight[..., None]
    blended = original.astype(np.float32) * (1.0 - m) + generated.astype(np.float32) * m
    out = np.clip(blended.round(), 0, 255).astype(np.uint8)
    out[weight <= 0] = original[weight <= 0]
    return out


# --------------------------------------------------------------------- models and validation
