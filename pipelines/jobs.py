"""The one contract every action in `pipelines/` follows (k-diffusion's one callback payload is the model):

    result = action(manager, request, *, on_step=None, stop=None, preview_every=0)

- `request` is a frozen dataclass holding everything that decides the result (images included);
- `on_step(StepInfo)` is called from the generating thread after every denoising step of the whole job
  (several pipeline calls count as one job: a batch of variations, both inpainting methods, a lab grid);
- `stop` is a `threading.Event`; when it is set the job ends at the next step boundary and the result says
  where: `result.stopped_at` is the step Stop was honoured at, None when the job ran to the end;
- `preview_every`: decode a preview of the current latent every this many steps (0 = never).

`StepCounter` implements the counting, previews and Stop once, for every action.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from .pipeline_parts import latents_to_pixels, pixels_to_pil


@dataclass(frozen=True)
class StepInfo:
    """What `on_step` receives: `step` of `total` steps done, a preview every few steps when asked for, and,
    for actions that finish results one by one (the lab's batches), the results finished so far."""

    step: int
    total: int
    preview: Image.Image | None = None
    partial: Any = None
    stage: str = ""  # which part of a job with several (e.g. "Upscaling x4"), for the progress bar


class Stopped(Exception):
    """Raised by `StepCounter.tick` when Stop is set; an action catches it and returns what it has finished."""


class StepCounter:
    """Counts the steps of one job, reports them as `StepInfo`, decodes previews and honours Stop.

    Args:
        total: steps in the whole job.
        on_step, stop, preview_every: as in the module docstring.
    """

    def __init__(
        self,
        total: int,
        on_step: Callable[[StepInfo], None] | None = None,
        stop: threading.Event | None = None,
        preview_every: int = 0,
    ) -> None:
        self.total, self.done = total, 0
        self.on_step, self.stop, self.preview_every = on_step, stop, preview_every
        self.stopped_at: int | None = None
        self.stage = ""  # set by an action whose job has stages; every StepInfo carries it
        self.last_latents: torch.Tensor | None = None  # x_t at Stop, to decode when Stop ends a pipeline call

    def tick(self, pipe=None, latents: torch.Tensor | None = None) -> None:
        """One step done. Raises `Stopped` when Stop is set and steps remain (keeping `latents` in `last_latents`).

        Args:
            pipe: the pipeline whose VAE decodes the preview (None: no preview).
            latents: (batch, channels, h, w) current x_t; other shapes (a prior's z_i) get no preview.
        """
        self.done += 1
        if self.on_step is not None:
            preview = None
            wanted = self.preview_every and self.done % self.preview_every == 0 and self.done < self.total
            if wanted and pipe is not None and latents is not None and latents.ndim == 4:
                preview = decode_preview(pipe, latents)
            self.on_step(StepInfo(step=self.done, total=self.total, preview=preview, stage=self.stage))
        if self.stop is not None and self.stop.is_set() and self.done < self.total:
            self.stopped_at, self.last_latents = self.done, latents
            raise Stopped

    def report(self, partial: Any) -> None:
        """Hands results finished so far to `on_step` (at the current step count)."""
        if self.on_step is not None:
            self.on_step(StepInfo(step=self.done, total=self.total, partial=partial, stage=self.stage))

    def pipeline_callback(self):
        """A diffusers `callback_on_step_end`: counts the step, and on Stop ends the pipeline's loop.

        diffusers' `_interrupt` skips the remaining steps and still decodes, so the partly denoised image comes
        back (and `stopped_at` says where). A pipeline whose loop does not read `_interrupt` gets `Stopped` raised
        out of its call instead, with the step's latents kept in `last_latents` for the caller to decode.
        """

        def callback(pipeline, i, t, kwargs):
            try:
                self.tick(pipeline, kwargs["latents"])
            except Stopped:
                if not honours_interrupt(pipeline):  # its loop never reads `_interrupt` (Kandinsky 2.2's decoder)
                    raise
                pipeline._interrupt = True
            return kwargs

        return callback

    def legacy_callback(self, pipe):
        """The older `callback(i, t, latents)` of pipelines without `callback_on_step_end` (Stable unCLIP,
        DeepFloyd IF); Stop raises `Stopped` out of the pipeline call, with the step's latents in `last_latents`."""

        def callback(i: int, t, latents: torch.Tensor) -> None:
            self.tick(pipe, latents)

        return callback


def honours_interrupt(pipeline) -> bool:
    """Whether the pipeline's loop ends on `_interrupt` (diffusers pipelines that do expose an `interrupt`
    property)."""
    return isinstance(getattr(type(pipeline), "interrupt", None), property)


def takes_step_end_callback(pipeline) -> bool:
    """Whether the pipeline's call takes `callback_on_step_end` (else only the older `callback`)."""
    return "callback_on_step_end" in inspect.signature(type(pipeline).__call__).parameters


@torch.no_grad()
def decode_preview(pipe, latents: torch.Tensor) -> Image.Image:
    """Decodes the first latent of the batch as the pipeline's family does (cheap at preview sizes).

    Args:
        latents: (batch, channels, h, w) current x_t.
    """
    return pixels_to_pil(latents_to_pixels(pipe, latents[:1]))[0]
