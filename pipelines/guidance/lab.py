"""The guidance lab's sampler: one prompt, one initial noise, many (method, strength, interval) cells, batched.

The loop is StableDiffusionPipeline's (and StableDiffusionXLPipeline's) own (encode prompt → prepare latents → denoise
→ decode, with `pipeline_parts`), with the classifier-free combination replaced by each cell's guider (diffusers'
`BaseGuidance` protocol: `set_state`, `prepare_inputs`, `prepare_models` / `cleanup_models` around each pass, then
`guider(batches)`), so that a single classifier-free cell gives the same image as the plain pipeline call, bit for bit.

Per step, every cell's passes that need the UNet as it is (ε(c), ε(∅), ε(negative)) go into one batched UNet call,
unconditional rows first as the pipelines order them; a pass its guider changes the UNet for (a hook on the middle
block: PAG, SEG, SLG, AutoGuidance) runs alone, while the hook is on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from PIL import Image

from ..jobs import StepCounter, Stopped
from ..pipeline_parts import TextConditioning, decode_latents, encode_text
from .context import StepContext
from .guiders import build_guider, hook_sites, is_hooked
from .methods import GuidanceMethod


@dataclass(frozen=True)
class Cell:
    method: GuidanceMethod
    strength: float
    start: float = 0.0  # guidance interval: on for the steps from start to stop (fractions of the steps)
    stop: float = 1.0


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    image: Image.Image
    seconds: float  # this cell's share of its batch's wall time


def _alpha_bar(scheduler, t) -> float:
    index = int(round(float(t)))
    return float(scheduler.alphas_cumprod[min(max(index, 0), len(scheduler.alphas_cumprod) - 1)])


def _clip_settings(pipe, clip, prompt: str) -> dict:
    """What CLIP guidance needs: x̂0 -> image in [0, 1], image -> embedding, and the caption's embedding."""
    if clip is None:
        raise ValueError("CLIP guidance needs a CLIP model for this model family; none is configured")
    vae, scale = pipe.vae, pipe.vae.config.scaling_factor
    return {
        "to_image": lambda x0: (vae.decode(x0 / scale).sample / 2 + 0.5).clamp(0, 1),
        "image_embeddings": clip.image_embeddings,
        "text_embedding": clip.text_embeddings([prompt]).to(pipe._execution_device),
    }


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
    device, n, unet = pipe._execution_device, len(cells), pipe.unet
    # 1. Encode the prompt, ∅ and the negative prompt (with SDXL's added conditions where the UNet takes them)
    cond, empty = encode_text(pipe, prompt, None, width=width, height=height)
    texts = {"cond": cond, "empty": empty}
    if any(c.method.spec.uses_negative_prompt for c in cells):
        texts["negative"] = encode_text(pipe, prompt, negative_prompt or None, width=width, height=height)[1]
    clip_settings = _clip_settings(pipe, clip, prompt) if any(c.method is GuidanceMethod.CLIP for c in cells) else {}
    guiders = [
        build_guider(
            c.method, c.strength, c.start, c.stop, **(clip_settings if c.method is GuidanceMethod.CLIP else {})
        )
        for c in cells
    ]
    unconditional = ["negative" if c.method.spec.uses_negative_prompt else "empty" for c in cells]

    # 2. Timesteps, and the same initial noise for every cell
    scheduler = pipe.scheduler
    scheduler.set_timesteps(steps, device=device)
    generators = [torch.Generator("cpu").manual_seed(seed) for _ in cells]
    dtype = cond.hidden_states.dtype
    latents = pipe.prepare_latents(n, unet.config.in_channels, height, width, dtype, device, generators)
    extra_step_kwargs = pipe.prepare_extra_step_kwargs(generators, 0.0)
    prediction_type = scheduler.config.prediction_type
    sites = hook_sites(unet) if any(c.method.spec.perturbs_unet for c in cells) else []

    # 3. Denoising loop
    for step, t in enumerate(scheduler.timesteps):
        x_t = scheduler.scale_model_input(latents, t)
        passes, shared = [], []  # per cell its guider's passes; the passes of the one batched UNet call
        for i, guider in enumerate(guiders):
            guider.set_state(step=step, num_inference_steps=steps, timestep=t)
            if hasattr(guider, "set_context"):
                guider.set_context(
                    StepContext(x_t[i : i + 1], _alpha_bar(scheduler, t), step, steps, True, prediction_type)
                )
            batches = guider.prepare_inputs({"text": ("cond", unconditional[i])})
            for batch in batches:
                guider.prepare_models(unet)
                if is_hooked(sites):  # the guider changed the UNet for this pass: run it now, alone
                    kwargs = texts[batch.text].unet_kwargs()
                    batch.noise_pred = unet(x_t[i : i + 1], t, **kwargs, return_dict=False)[0]
                else:
                    shared.append((i, batch))
                guider.cleanup_models(unet)
            passes.append(batches)
        shared.sort(key=lambda pass_: pass_[1].text == "cond")  # unconditional rows first (stable), as pipelines do
        if shared:
            conditioning = TextConditioning.cat([texts[batch.text] for _, batch in shared]).unet_kwargs()
            rows = torch.cat([x_t[i : i + 1] for i, _ in shared])
            predictions = unet(rows, t, **conditioning, return_dict=False)[0]
            for k, (_, batch) in enumerate(shared):
                batch.noise_pred = predictions[k : k + 1]
        guided = torch.cat([guider(batches).pred for guider, batches in zip(guiders, passes)])
        latents = scheduler.step(guided, t, latents, **extra_step_kwargs, return_dict=False)[0]
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
