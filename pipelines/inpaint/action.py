"""The inpainting action: prepare the canvas, run each method on the work area, paste back.

image/mask normalisation (clear ValueErrors) → outpainting (extend the canvas, new area joins the mask) → mask
feather → optional "only masked area at full resolution" crop (padded box around the mask, scaled to the model's
native size) → generate → scale back into the box → paste: every pixel with mask weight 0 comes back from the
original unchanged (the VAE round trip changes pixels everywhere).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from ..jobs import StepCounter, StepInfo
from ..manager import PipelineManager
from ..masks import crop_box, feather, normalise_image, normalise_mask, outpaint, paste_back
from ..png_info import attach
from .inpaint_model import inpaint_model_method
from .parameters import inpaint_parameters
from .replace import replace_method, steps_run
from .request import InpaintRequest, InpaintResult, Method
from .resolve import resolve, validate


def inpaint(
    manager: PipelineManager,
    request: InpaintRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> InpaintResult:
    """Regenerates the masked part of `request.image` from `request.prompt` with the requested method(s).

    Args:
        manager: loads the models (lazily) and serialises work on the device.
        request: settings, image and mask; validated here, errors name the parameter.
        on_step, stop, preview_every: the job contract (`pipelines/jobs.py`); steps of all methods count together.

    Returns:
        one image per method; pixels with mask weight 0 are exactly the original's.
    """
    # 1. Check inputs
    notes: list[str] = []
    request, entries = resolve(request, manager)
    pixels = normalise_image(request.image, notes)
    if request.mask is None:
        raise ValueError("`mask` is missing: paint over the part of the image to regenerate")
    binary = normalise_mask(request.mask)
    if binary.shape != pixels.shape[:2]:
        raise ValueError(
            f"`mask` size {binary.shape[1]}x{binary.shape[0]} differs from `image` size "
            f"{pixels.shape[1]}x{pixels.shape[0]}; resize the mask to the image first"
        )
    pixels, binary = outpaint(pixels, binary, *request.outpaint)
    validate(request, entries, (pixels.shape[1], pixels.shape[0]))
    if not binary.any():
        raise ValueError("`mask` is empty: paint over the part of the image to regenerate")
    if binary.all():
        notes.append("The mask covers the whole image, so nothing of the original is kept: this is text-to-image.")
    weight = feather(binary, request.mask_blur)
    box = crop_box(weight > 0, request.only_masked_padding, aspect=1.0) if request.only_masked else None
    counter = StepCounter(steps_run(request) * len(entries), on_step, stop, preview_every)
    return manager.run(_generate, manager, request, entries, pixels, weight, box, notes, counter)


def _generate(manager, request, entries, pixels, weight, box, notes, counter: StepCounter) -> InpaintResult:
    images, labels, texts = [], [], []
    for run, entry in zip(Method.from_label(request.method).runs(), entries, strict=True):
        if counter.stopped_at is not None:
            break
        # 2. The work area: the whole canvas, or the padded box scaled to the model's native size
        if box is None:
            work_pixels, work_weight = pixels, weight
        else:
            left, top, right, bottom = box
            size = (entry.native_size, entry.native_size)
            work_pixels = cv2.resize(pixels[top:bottom, left:right], size, interpolation=_interp(right - left, size))
            work_weight = cv2.resize(weight[top:bottom, left:right], size, interpolation=cv2.INTER_LINEAR)
        work_mask = work_weight > 0
        # 3-5. Generate
        method = replace_method if run is Method.REPLACE else inpaint_model_method
        generated = method(manager, entry, request, work_pixels, work_mask, counter)
        # 6. Back into the canvas, then paste: outside the mask stays the original
        if box is not None:
            left, top, right, bottom = box
            full = pixels.copy()
            full[top:bottom, left:right] = cv2.resize(
                generated, (right - left, bottom - top), interpolation=_interp(generated.shape[1], (right - left,))
            )
            generated = full
        result = Image.fromarray(paste_back(pixels, generated, weight))
        text = inpaint_parameters(request, entry, run, pixels.shape)
        attach(result, text)
        images.append(result)
        labels.append(run.short)
        texts.append(text)
    return InpaintResult(
        images=images,
        labels=labels,
        parameters=texts,
        notes=notes,
        seed=request.seed,
        canvas=Image.fromarray(pixels),
        mask=Image.fromarray((weight * 255).round().astype(np.uint8), "L"),
        crop_box=box,
        request=request,
        stopped_at=counter.stopped_at,
    )


def _interp(source: int, target: tuple[int, ...]) -> int:
    return cv2.INTER_AREA if source > target[0] else cv2.INTER_CUBIC
