"""The guidance lab's sampler: one prompt, one initial noise, many (method, strength) cells, batched.

The loop is StableDiffusionPipeline's (and StableDiffusionXLPipeline's) own (encode prompt → prepare latents → denoise
→ decode, with `pipeline_parts`), with the classifier-free combination replaced by `guide` per cell, so that a single
classifier-free cell gives the same image as the plain pipeline call with the same settings, bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from PIL import Image

from ..jobs import StepCounter, Stopped
from ..pipeline_parts import TextConditioning, decode_latents, encode_text
from .context import StepContext
from .guide import CellState, ClipGuide, guide
from .methods import GuidanceMethod


@dataclass(frozen=True)
class Cell:
    method: GuidanceMethod
    strength: float


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    image: Image.Image
    seconds: float  # this cell's share of its batch's wall time


def _alpha_bar(scheduler, t) -> float:
    index = int(round(float(t)))
    return float(scheduler.alphas_cumprod[min(max(index, 0), len(scheduler.alphas_cumprod) - 1)])


def _uses_unconditional(cell: Cell) -> bool:
    # s == 1 is plain conditional sampling; skipping ∅ there matches StableDiffusionPipeline exactly.
    if cell.method in (GuidanceMethod.CFG, GuidanceMethod.NEGATIVE_PROMPT) and cell.strength == 1:
        return False
    return cell.method.needs_unconditional


@torch.no_grad()
def render_cells(
    pipe,
    cells: list[Cell],
    prompt: str,
    negative_prompt: str,
    seed: int,
    steps: int,
    width: int,
    height: int,
    clip=None,
    counter: StepCounter | None = None,
) -> list[CellResult]:
    """Renders `cells` in one batch from the same initial noise (the noise of `seed`).

    Args:
        pipe: a StableDiffusionPipeline or StableDiffusionXLPipeline with its own (fresh) scheduler; not shared with
            another running request.
        clip: a `ClipScorer` (needed only by CLIP guidance cells).
        counter: counts the steps of the whole grid; Stop raises `Stopped` out of this batch, except at its last
            step, where the finished batch is kept (and `counter.stopped_at` says that Stop came).
    """
    start = time.perf_counter()
    device, n = pipe._execution_device, len(cells)
    # 1. Encode the prompt, ∅ and the negative prompt (with SDXL's added conditions where the UNet takes them)
    cond, empty = encode_text(pipe, prompt, None, width=width, height=height)
    negative = empty
    if any(c.method is GuidanceMethod.NEGATIVE_PROMPT for c in cells):
        _, negative = encode_text(pipe, prompt, negative_prompt or None, width=width, height=height)
    clip_guide = None
    if any(c.method is GuidanceMethod.CLIP for c in cells):
        if clip is None:
            raise ValueError("CLIP guidance needs a CLIP model for this model family; none is configured")
        vae, scale = pipe.vae, pipe.vae.config.scaling_factor
        clip_guide = ClipGuide(
            to_image=lambda x0: (vae.decode(x0 / scale).sample / 2 + 0.5).clamp(0, 1),
            image_embeddings=clip.image_embeddings,
            text_embedding=clip.text_embeddings([prompt]).to(device),
        )

    # 2. Timesteps, and the same initial noise for every cell
    scheduler = pipe.scheduler
    scheduler.set_timesteps(steps, device=device)
    generators = [torch.Generator("cpu").manual_seed(seed) for _ in cells]
    dtype = cond.hidden_states.dtype
    latents = pipe.prepare_latents(n, pipe.unet.config.in_channels, height, width, dtype, device, generators)
    extra_step_kwargs = pipe.prepare_extra_step_kwargs(generators, 0.0)
    guided = [i for i, c in enumerate(cells) if _uses_unconditional(c)]
    conditioning = TextConditioning.cat(
        [negative if cells[i].method is GuidanceMethod.NEGATIVE_PROMPT else empty for i in guided] + [cond] * n
    ).unet_kwargs()
    states = [CellState() for _ in cells]
    latent_space = True  # this loop serves latent (VAE) pipelines
    prediction_type = scheduler.config.prediction_type

    # 3. Denoising loop
    for step, t in enumerate(scheduler.timesteps):
        model_input = scheduler.scale_model_input(torch.cat([latents[guided], latents]), t)
        eps = pipe.unet(model_input, t, **conditioning, return_dict=False)[0]
        eps_uncond, eps_cond = eps[: len(guided)], eps[len(guided) :]
        x_t = model_input[len(guided) :]
        outputs = []
        for i, cell in enumerate(cells):
            context = StepContext(x_t[i : i + 1], _alpha_bar(scheduler, t), step, steps, latent_space, prediction_type)
            uncond_i = eps_uncond[guided.index(i) : guided.index(i) + 1] if i in guided else None
            method = GuidanceMethod.NONE if uncond_i is None and cell.method.needs_unconditional else cell.method
            outputs.append(guide(method, cell.strength, eps_cond[i : i + 1], uncond_i, context, states[i], clip_guide))
        latents = scheduler.step(torch.cat(outputs), t, latents, **extra_step_kwargs, return_dict=False)[0]
        if counter is not None:
            try:
                counter.tick()
            except Stopped:
                if step + 1 < steps:
                    raise

    # 4. Decode
    image = decode_latents(pipe, latents, generators)
    images = pipe.image_processor.postprocess(image, output_type="pil", do_denormalize=[True] * n)
    seconds = (time.perf_counter() - start) / n
    return [CellResult(cell, img, seconds) for cell, img in zip(cells, images)]
