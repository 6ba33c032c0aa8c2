"""Method (b), "inpainting model": a UNet fine-tuned with random erasing that takes 9 input channels
(4 latent + 1 mask + 4 masked-image latent), run by diffusers' own `StableDiffusionInpaintPipeline` call."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..jobs import StepCounter
from ..models import INPAINT
from .replace import to_uint8
from .request import InpaintRequest


@torch.inference_mode()
def inpaint_model_method(manager, entry, request: InpaintRequest, pixels, mask, counter: StepCounter) -> np.ndarray:
    """Method (b) on the work area `pixels` (H, W, 3) uint8 with `mask` (H, W) bool; an (H, W, 3) uint8 image."""
    pipe = manager.request_pipeline(entry.name, INPAINT, request.sampler)
    in_channels = pipe.unet.config.in_channels
    if in_channels != 9:
        raise ValueError(
            f"`inpaint_model` {entry.name!r} has a {in_channels}-channel UNet; method (b) needs a 9-channel "
            "inpainting UNet"
        )
    generator = torch.Generator("cpu").manual_seed(request.seed)
    height, width = mask.shape

    # 2-5. The pipeline's own loop; sizes already match, so nothing is resized inside it
    images = pipe(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt or None,
        image=Image.fromarray(pixels),
        mask_image=Image.fromarray(mask.astype(np.uint8) * 255, "L"),
        height=height,
        width=width,
        strength=request.denoising_strength,
        num_inference_steps=request.steps,
        guidance_scale=request.cfg_scale,
        generator=generator,
        output_type="np",
        callback_on_step_end=counter.pipeline_callback(),
        callback_on_step_end_tensor_inputs=["latents"],
    ).images
    return to_uint8(images[0])
