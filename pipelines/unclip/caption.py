"""Caption -> image, when the folder has a prior: `StableUnCLIPPipeline` built from the decoder's components and a
`PriorTransformer` (caption → z_i) in the folder's `prior*` sub-folders; its image can then be varied or edited.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import require_text
from ..jobs import StepCounter, StepInfo, Stopped
from ..limits import check
from ..manager import PipelineManager
from ..models import ModelEntry
from .common import UnclipResult, resolve, unclip_pipe


@dataclass(frozen=True)
class CaptionRequest:
    """A picture from a caption: the prior draws z_i, the decoder draws the image."""

    caption: str
    model: str | None = None
    prior_steps: int = 25  # DDPM steps of the prior
    prior_cfg_scale: float = 4.0  # classifier-free guidance of the prior
    steps: int = 20  # DDIM steps of the decoder
    cfg_scale: float = 5.0  # decoder guidance on the image embedding
    seed: int = -1


def has_prior(entry: ModelEntry) -> bool:
    """Whether the model folder holds a prior (caption -> z_i) next to the decoder."""
    return entry.is_local and (Path(entry.source) / "prior" / "config.json").is_file()


def _load_prior_parts(folder: str, device: str, dtype: torch.dtype) -> tuple:
    """(tokenizer, text encoder with projection, PriorTransformer, scheduler config) of a folder."""
    from diffusers import DDPMScheduler, PriorTransformer
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    root = Path(folder)
    tokenizer = AutoTokenizer.from_pretrained(root / "prior_tokenizer", local_files_only=True)
    text_encoder = CLIPTextModelWithProjection.from_pretrained(
        root / "prior_text_encoder", dtype=dtype, local_files_only=True
    )
    prior = PriorTransformer.from_pretrained(root / "prior", dtype=dtype, local_files_only=True)
    config = DDPMScheduler.load_config(root / "prior_scheduler")
    return (
        tokenizer,
        text_encoder.to(device).eval().requires_grad_(False),
        prior.to(device).eval().requires_grad_(False),
        config,
    )


def caption_to_image(
    manager: PipelineManager,
    request: CaptionRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> UnclipResult:
    """One image from a caption with the prior + decoder (`StableUnCLIPPipeline`, sharing the decoder's weights)."""
    # 1. Check inputs
    entry, request = resolve(manager, request)
    require_text(request.caption, "caption", "type what to draw")
    if not has_prior(entry):
        raise ValueError(f"{entry.name} has no prior (caption -> image embedding): upload an image instead")
    check(request.prior_steps, "steps", "prior_steps")

    def work() -> UnclipResult:
        from diffusers import DDPMScheduler, StableUnCLIPPipeline

        base = unclip_pipe(manager, entry)
        device, dtype = str(base.unet.device), base.unet.dtype
        tokenizer, text_encoder, prior, scheduler_config = manager.side_model(  # in the budget, gone with Unload all
            ("unclip-prior", entry.source, device, dtype),
            lambda: _load_prior_parts(entry.source, device, dtype),
            label=f"{entry.name} prior",
            use="caption -> image embedding",
            owner=entry.name,
        )
        # 2. The text-to-image pipeline on the decoder's own components (no copy of the weights)
        pipe = StableUnCLIPPipeline(
            prior_tokenizer=tokenizer,
            prior_text_encoder=text_encoder,
            prior=prior,
            prior_scheduler=DDPMScheduler.from_config(scheduler_config),
            image_normalizer=base.image_normalizer,
            image_noising_scheduler=base.image_noising_scheduler,
            tokenizer=base.tokenizer,
            text_encoder=base.text_encoder,
            unet=base.unet,
            scheduler=base.scheduler,
            vae=base.vae,
        )
        pipe.set_progress_bar_config(disable=True)
        progress = StepCounter(request.prior_steps + request.steps, on_step, stop, preview_every)
        # 3. Prior then decoder, the pipeline's own loops
        try:
            image = pipe(
                prompt=request.caption,
                prior_num_inference_steps=request.prior_steps,
                prior_guidance_scale=request.prior_cfg_scale,
                num_inference_steps=request.steps,
                guidance_scale=request.cfg_scale,
                height=entry.native_size,
                width=entry.native_size,
                generator=torch.Generator("cpu").manual_seed(request.seed),
                callback=progress.legacy_callback(pipe),
                callback_steps=1,
            ).images[0]
        except Stopped:
            return UnclipResult([], [], request.seed, request, stopped_at=progress.stopped_at)
        return UnclipResult([image], [request.caption], request.seed, request)

    return manager.run(work)
