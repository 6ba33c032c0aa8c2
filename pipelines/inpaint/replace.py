"""Method (a), "any model": GLIDE's replacement, with RePaint's resampling of the first half of the steps.

Run a text-to-image model's own denoising loop on the whole latent, and after every step overwrite the known
(unmasked) region with a fresh sample of q(x_t | x0) of the original:
x_t = sqrt(ᾱ_t)·x0 + sqrt(1−ᾱ_t)·ε, ε ~ N(0, I) drawn anew each step (the scheduler's `add_noise`).
Needs no retraining, but the model never sees the context clearly, so seams can show, and the layout is decided in
the first steps, when the known region is still nearly pure noise (exactly so on zero-terminal-SNR models).
Resampling (RePaint, Lugmayr et al. 2022) repeats each step of the first half `resample` times, re-noising the
result back to the step's noise level in between, x_t = sqrt(ᾱ_t/ᾱ_s)·x_s + sqrt(1 − ᾱ_t/ᾱ_s)·ε (s the next, less
noisy step; σ-scaled latents add sqrt(σ_t² − σ_s²)·ε instead), so the new part is redrawn after the model has seen
the kept part. Measured on the bundled model (bench.inpaint, 120 cases: seeds 0 and 100): asked object in the mask
73 % at 1 pass, 84 % at 4, 91 % at 8 (the default; 4.5× the UNet calls of plain replacement at 20 steps).
Redrawing every step instead of the first half did not help (4 passes: 78 % vs 79 % on 80 cases).
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import torch

from ..jobs import StepCounter, Stopped
from ..models import TXT2IMG
from ..pipeline_parts import TextConditioning, decode_latents, encode_pixels, encode_text
from .request import InpaintRequest


def steps_run(request: InpaintRequest) -> int:
    """Denoising steps one method takes: `steps` shortened by the denoising strength (as img2img)."""
    return min(int(request.steps * request.denoising_strength), request.steps)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] → uint8."""
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


@torch.inference_mode()
def replace_method(manager, entry, request: InpaintRequest, pixels, mask, counter: StepCounter) -> np.ndarray:
    """Method (a) on the work area `pixels` (H, W, 3) uint8 with `mask` (H, W) bool; an (H, W, 3) uint8 image.

    Notation: x0 = latents of the original (`image_latents`), m = latent mask (1 = generate),
    x_t ← m·x_t + (1 − m)·q(x_t | x0), a fresh ε per step.
    """
    pipe = manager.request_pipeline(entry.name, TXT2IMG, request.sampler)
    scheduler, unet = pipe.scheduler, pipe.unet
    device, dtype = unet.device, unet.dtype
    generator = torch.Generator("cpu").manual_seed(request.seed)
    do_cfg = request.cfg_scale > 1.0  # as diffusers: s <= 1 is a plain conditional pass

    # 2. Encode the prompt (negative first, as diffusers concatenates them), with SDXL's added conditions
    height, width = mask.shape
    cond, negative = encode_text(pipe, request.prompt, request.negative_prompt or None, width=width, height=height)
    conditioning = (TextConditioning.cat([negative, cond]) if do_cfg else cond).unet_kwargs()

    # 3. Timesteps, shortened by the denoising strength (as img2img)
    scheduler.set_timesteps(request.steps, device=device)
    t_start = request.steps - steps_run(request)
    timesteps = scheduler.timesteps[t_start * scheduler.order :]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(t_start * scheduler.order)

    # 4. Prepare latents: x0 of the original, the latent mask (a cell is generated if any of its pixels is)
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].to(device=device, dtype=torch.float32) / 127.5 - 1.0
    image_latents = encode_pixels(pipe, image)
    factor = pipe.vae_scale_factor
    mask_t = torch.from_numpy(mask.astype(np.float32))[None, None]
    latent_mask = torch.nn.functional.max_pool2d(mask_t, factor, factor).to(device=device, dtype=dtype)
    shape = image_latents.shape
    noise = torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
    if t_start == 0:
        latents = noise * scheduler.init_noise_sigma  # strength 1: pure noise, as the inpaint pipeline does
    else:
        latents = scheduler.add_noise(image_latents, noise, timesteps[:1])
    extra_step_kwargs = {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}

    # 5. Denoising loop; the first half of the steps is run `resample` times (RePaint)
    passes_until = len(timesteps) // 2 if request.resample > 1 else 0
    for i, t in enumerate(timesteps):
        next_t = timesteps[i + 1 : i + 2]
        passes = request.resample if i < passes_until else 1
        saved = copy.deepcopy(scheduler) if passes > 1 else None  # multistep solvers keep history
        for p in range(passes):
            if p > 0:
                scheduler = copy.deepcopy(saved)
                latents = _renoise(scheduler, latents, t, next_t, generator)
            latent_input = torch.cat([latents] * 2) if do_cfg else latents
            latent_input = scheduler.scale_model_input(latent_input, t)
            noise_pred = unet(latent_input, t, **conditioning, return_dict=False)[0]
            if do_cfg:
                noise_uncond, noise_text = noise_pred.chunk(2)
                noise_pred = noise_uncond + request.cfg_scale * (noise_text - noise_uncond)  # ε̂ = ε∅ + s(εc − ε∅)
            latents = scheduler.step(noise_pred, t, latents, **extra_step_kwargs, return_dict=False)[0]
            # GLIDE replacement: the known region becomes a fresh sample of q(x_{t_next} | x0)
            if len(next_t):
                fresh = torch.randn(shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
                known = scheduler.add_noise(image_latents, fresh, next_t)
            else:
                known = image_latents
            latents = latent_mask * latents + (1 - latent_mask) * known
        try:
            counter.tick(pipe, latents)
        except Stopped:
            break  # decode the partly denoised latent

    # 6. Decode
    decoded = decode_latents(pipe, latents)
    decoded = (decoded / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()
    return to_uint8(decoded)


def _renoise(scheduler, latents, t, next_t, generator):
    """Takes latents at the less noisy step `next_t` back to the noise level of `t` (only first-half steps are
    resampled, so there always is a next step)."""
    alphas = scheduler.alphas_cumprod.to(torch.float64).clamp(min=2**-24)  # ᾱ_T = 0 on zero-SNR schedules
    a_t, a_s = alphas[int(t)], alphas[int(next_t[0])]
    noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32).to(latents.device, latents.dtype)
    if float(scheduler.init_noise_sigma) > 1.0:  # σ-scaled latents (Euler family): x = x0 + σ·ε
        sigma_t, sigma_s = ((1 - a_t) / a_t).sqrt(), ((1 - a_s) / a_s).sqrt()
        return latents + float((sigma_t**2 - sigma_s**2).clamp(min=0).sqrt()) * noise
    ratio = a_t / a_s
    return float(ratio.sqrt()) * latents + float((1 - ratio).sqrt()) * noise
