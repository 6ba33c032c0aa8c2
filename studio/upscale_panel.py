"""Upscale x4 (cascaded super-resolution, `pipelines/upscale.py`): the second-stage controls of Text to image, and a
panel under a tab's results that upscales them (the stable API endpoint `/upscale`, which takes any images).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from PIL import Image

from pipelines.capabilities import UPSCALE_ACTION, models_for
from pipelines.manager import PipelineManager
from pipelines.upscale import UpscaleRequest, upscale

from .components import DEVICE_EVENT, limit_slider, run_buttons, wire_stop
from .runner import bind, build_request, run_action, seed_of
from .sessions import StopFlags

OFF = "Off"
DEFAULTS = UpscaleRequest(images=())
NOISE_INFO = "Noise added to the small image first (Imagen): more redraws its flaws, too much loses it"


@dataclass
class SecondStage:
    """Text to image's second-stage controls: upscaler (or Off), its steps and noise level."""

    upscaler: gr.Dropdown
    steps: gr.Slider
    noise_level: gr.Slider

    @property
    def inputs(self) -> list:
        return [self.upscaler, self.steps, self.noise_level]


def upscaler_choices(manager: PipelineManager) -> list[str]:
    return [OFF, *models_for(manager.registry, UPSCALE_ACTION)]


def second_stage_controls(manager: PipelineManager, prefix: str) -> SecondStage:
    """The accordion of Text to image's optional second stage (off by default)."""
    choices = upscaler_choices(manager)
    with gr.Accordion("Upscale x4 (a second diffusion stage)", open=False, elem_id=f"{prefix}-upscale"):
        upscaler = gr.Dropdown(
            choices,
            value=OFF,
            label="Upscaler",
            info="Off, or a model that draws the result 4x larger from it (add one with --config)"
            if len(choices) == 1
            else "Off, or a model that draws the result 4x larger from it",
            elem_id=f"{prefix}-upscaler",
        )
        steps = limit_slider("upscale_steps", DEFAULTS.steps, "Upscale steps", f"{prefix}-upscale-steps")
        noise = limit_slider(
            "upscale_noise_level",
            DEFAULTS.upscale_noise_level,
            "Upscale noise level",
            f"{prefix}-upscale-noise",
            info=NOISE_INFO,
        )
    return SecondStage(upscaler, steps, noise)


def picked_upscaler(value: str | None) -> str | None:
    """The dropdown's value as a request field: None for Off."""
    return None if not value or value == OFF else value


# ---------------------------------------------------------------------------------------------- handler
def run(
    manager: PipelineManager,
    stop_flags: StopFlags,
    images: list | None,
    prompt: str = "",
    upscaler: str | None = None,
    steps: float = DEFAULTS.steps,
    noise_level: float = DEFAULTS.upscale_noise_level,
    cfg_scale: float = DEFAULTS.cfg_scale,
    seed: float = DEFAULTS.seed,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
):
    """Upscales images 4x with a second diffusion model conditioned on each low-resolution image (cascaded
    super-resolution, as GLIDE, DALL-E 2 and Imagen do); every PNG keeps its own parameters and adds the upscale's.

    Args:
        images: the pictures to upscale (the same size, sides multiples of 8).
        prompt: what they show (both upscalers read it); may be empty.
        upscaler: an upscaler's name from the studio's model list; empty = the first one.
        steps: upscaler denoising steps, {upscale_steps}.
        noise_level: noise added to the small images first (noise-conditioning augmentation),
            {upscale_noise_level}; the SD x4 upscaler takes at most 350.
        cfg_scale: classifier-free guidance scale of the upscaler, {cfg_scale}.
        seed: -1 for random; image i uses seed + i.

    Returns:
        the upscaled images (PNG with parameters) and a status line.
    """
    if isinstance(images, Image.Image):  # a tab whose result is one image (paint with words)
        images = [images]
    pictures = [_as_image(item) for item in images or ()]
    req = build_request(
        lambda: UpscaleRequest(
            images=tuple(p for p in pictures if p is not None),
            prompt=prompt or "",
            model=picked_upscaler(upscaler),
            steps=int(steps),
            upscale_noise_level=int(noise_level),
            cfg_scale=float(cfg_scale),
            seed=seed_of(seed),
        )
    )
    finished = yield from run_action(upscale, req, manager, stop_flags, request, progress, desc="Upscaling x4")
    result = finished.result
    size = "x".join(str(v) for v in result.images[0].size) if result.images else "?"
    status = finished.status(f"{len(result.images)} image(s) upscaled to {size}", " (partly denoised)")
    yield [(image, image.info.get("parameters", "")) for image in result.images], status


def _as_image(item):
    """A gallery item (image, caption) or an image."""
    return item[0] if isinstance(item, (tuple, list)) else item


def upscale_panel(
    manager: PipelineManager,
    stop_flags: StopFlags,
    source: gr.Gallery | gr.Image,
    prompt: gr.Textbox | None,
    prefix: str,
    public: bool = False,
):
    """Under a tab's results: upscale them x4 into a gallery of their own. `prompt`: what the results show (None:
    the tab has no prompt; upscalers then run unconditioned). `public`: this panel's event is the `/upscale` endpoint
    (one panel is; the others are the same handler, kept off the API)."""
    choices = upscaler_choices(manager)[1:]
    with gr.Accordion("Upscale these results x4", open=False, elem_id=f"{prefix}-upscale-panel"):
        if not choices:
            gr.Markdown("No upscaler is listed: add one (the SD x4 upscaler, IF stage II) with `--config`.")
        with gr.Row():
            upscaler = gr.Dropdown(
                choices, value=choices[0] if choices else None, label="Upscaler", elem_id=f"{prefix}-panel-upscaler"
            )
            steps = limit_slider("upscale_steps", DEFAULTS.steps, "Steps", f"{prefix}-panel-steps")
            noise = limit_slider(
                "upscale_noise_level", DEFAULTS.upscale_noise_level, "Noise level", f"{prefix}-panel-noise"
            )
        run_btn, stop_btn = run_buttons("Upscale x4", f"{prefix}-panel")
        gallery = gr.Gallery(
            label="Upscaled", format="png", type="pil", columns=2, interactive=False, elem_id=f"{prefix}-upscaled"
        )
        status = gr.Markdown("", elem_id=f"{prefix}-upscale-status")
    if prompt is None:
        prompt = gr.Textbox(value="", visible=False)
    cfg = gr.Number(value=DEFAULTS.cfg_scale, visible=False)
    seed = gr.Number(value=DEFAULTS.seed, visible=False)
    event = run_btn.click(
        bind(run, manager, stop_flags, name="upscale"),
        inputs=[source, prompt, upscaler, steps, noise, cfg, seed],
        outputs=[gallery, status],
        **({"api_name": "upscale"} if public else {"api_visibility": "private"}),
        **DEVICE_EVENT,
        show_progress_on=[gallery],
    )
    wire_stop(stop_btn, stop_flags, status)
    return event
