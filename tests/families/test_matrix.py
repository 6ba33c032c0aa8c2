"""Every tab action on every family: it runs end to end through the code the UI calls, or it is not offered and
an API call with that model gets an error that says why and names the models that can.

"Runs" means: images of the model's native size, PNG parameters that name the model, pixels that are not one flat
value (random weights that overflow decode to a flat black image), and Stop honoured within a step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from pipelines import capabilities as caps
from pipelines.guidance import GuidanceMethod
from pipelines.guidance.grid import GuidanceGridRequest, guidance_grid
from pipelines.inpaint import InpaintRequest, Method, inpaint
from pipelines.paint_with_words import PaintWithWordsRequest, Region, paint_with_words
from pipelines.testing.families import TINY_FAMILIES
from pipelines.text_to_image import TextToImageRequest, text_to_image
from pipelines.unclip import (
    CaptionRequest,
    InterpolationRequest,
    TextDiffRequest,
    VariationsRequest,
    caption_to_image,
    interpolate,
    text_diff,
    variations,
)
from pipelines.upscale import UpscaleRequest, upscale

PROMPT = "a red circle"
MODELS = [tiny.name for tiny in TINY_FAMILIES]


def _picture(size: int = 64, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def _mask(size: int = 64) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
    return mask


def _layout(size: int = 64) -> np.ndarray:
    layout = np.full((size, size, 3), 255, dtype=np.uint8)
    layout[:, : size // 2] = (229, 57, 53)  # the palette's red
    return layout


@dataclass(frozen=True)
class TabAction:
    """One action of a tab: what it does with a model, the function it calls, and how its images come back."""

    name: str
    action: caps.Action
    run: Callable  # (manager, model, steps, on_step, stop) -> result
    images: Callable = lambda result: result.images  # the PNGs a person saves
    size: Callable = lambda entry: (entry.native_size, entry.native_size)  # of every image it draws


def _grid_images(result):
    return [result.grid]


TAB_ACTIONS = (
    TabAction(
        "text to image",
        caps.TEXT_TO_IMAGE,
        lambda m, model, steps, **kw: text_to_image(
            m, TextToImageRequest(prompt=PROMPT, model=model, steps=steps, seed=1), **kw
        ),
    ),
    TabAction(
        "guidance lab",
        caps.GUIDANCE_LAB,
        lambda m, model, steps, **kw: guidance_grid(
            m,
            GuidanceGridRequest(
                prompt=PROMPT, methods=(GuidanceMethod.CFG.label,), strengths=(4.0,), model=model, steps=steps, seed=1
            ),
            **kw,
        ),
        _grid_images,
    ),
    TabAction(
        "inpainting (a)",
        caps.INPAINT_ANY_MODEL,
        lambda m, model, steps, **kw: inpaint(
            m,
            InpaintRequest(
                prompt=PROMPT,
                image=_picture(),
                mask=_mask(),
                model=model,
                method=Method.REPLACE.label,
                steps=steps,
                resample=1,
                seed=1,
            ),
            **kw,
        ),
    ),
    TabAction(
        "inpainting (b)",
        caps.INPAINT_MODEL,
        lambda m, model, steps, **kw: inpaint(
            m,
            InpaintRequest(
                prompt=PROMPT,
                image=_picture(),
                mask=_mask(),
                inpaint_model=model,
                method=Method.INPAINT_MODEL.label,
                steps=steps,
                seed=1,
            ),
            **kw,
        ),
    ),
    TabAction(
        "paint with words",
        caps.PAINT_WITH_WORDS,
        lambda m, model, steps, **kw: paint_with_words(
            m,
            PaintWithWordsRequest(
                prompt=PROMPT,
                layout=_layout(),
                regions=(Region("red", "red circle"),),
                model=model,
                steps=steps,
                seed=1,
            ),
            **kw,
        ),
    ),
    TabAction(
        "unCLIP variations",
        caps.UNCLIP_ACTIONS,
        lambda m, model, steps, **kw: variations(
            m, VariationsRequest(image=_picture(), model=model, count=1, steps=steps, seed=1), **kw
        ),
    ),
    TabAction(
        "unCLIP caption to image",
        caps.UNCLIP_ACTIONS,
        lambda m, model, steps, **kw: caption_to_image(
            m, CaptionRequest(caption=PROMPT, model=model, prior_steps=2, steps=steps, seed=1), **kw
        ),
    ),
    TabAction(
        "unCLIP interpolation",
        caps.UNCLIP_ACTIONS,
        lambda m, model, steps, **kw: interpolate(
            m,
            InterpolationRequest(image_a=_picture(), image_b=_picture(seed=1), model=model, frames=2, steps=steps),
            **kw,
        ),
    ),
    TabAction(
        "unCLIP text diff",
        caps.UNCLIP_ACTIONS,
        lambda m, model, steps, **kw: text_diff(
            m,
            TextDiffRequest(
                image=_picture(),
                source_caption=PROMPT,
                target_caption="a blue circle",
                model=model,
                frames=1,
                steps=steps,
                seed=1,
            ),
            **kw,
        ),
    ),
)
TAB_ACTIONS += (
    TabAction(
        "upscale",
        caps.UPSCALE_ACTION,
        lambda m, model, steps, **kw: upscale(
            m, UpscaleRequest(images=(_picture(16),), prompt=PROMPT, model=model, steps=steps, seed=1), **kw
        ),
        size=lambda entry: (64, 64),  # 4x the 16x16 input
    ),
)
PAIRS = [(tab, model) for tab in TAB_ACTIONS for model in MODELS]


def _id(pair) -> str:
    return f"{pair[0].name}-{pair[1]}"


@pytest.mark.parametrize("tab, model", PAIRS, ids=[_id(p) for p in PAIRS])
def test_each_tab_runs_each_model_it_offers_and_refuses_the_others(families_manager, tab, model):
    entry = families_manager.registry.get(model)
    offered = caps.models_for(families_manager.registry, tab.action)
    if model not in offered:
        with pytest.raises(ValueError) as refused:
            tab.run(families_manager, model, 2, on_step=None, stop=None)
        message = str(refused.value)
        assert model in message and "cannot be used" in message
        assert all(name in message for name in offered), message
        return
    result = tab.run(families_manager, model, 2, on_step=None, stop=None)
    images = tab.images(result)
    assert images and result.stopped_at is None
    cells = [outcome.image for outcome in result.outcomes] if hasattr(result, "outcomes") else images
    assert all(image.size == tab.size(entry) for image in cells)
    for image in images:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        assert np.isfinite(pixels).all() and pixels.std() > 0, "a flat image: the model's output overflowed"
        assert model in image.info.get("parameters", ""), image.info


OFFERED = [
    (tab, model)
    for tab, model in PAIRS
    if tab.action.families and any(t.name == model and t.family in tab.action.families for t in TINY_FAMILIES)
]


@pytest.mark.parametrize("tab, model", OFFERED, ids=[_id(p) for p in OFFERED])
def test_stop_ends_each_offered_pair_within_a_step(families_manager, tab, model):
    if model not in caps.models_for(families_manager.registry, tab.action):
        pytest.skip(f"{model} needs an extra part for {tab.name}")
    stop, steps = threading.Event(), []

    def on_step(info):
        steps.append(info.step)
        stop.set()

    result = tab.run(families_manager, model, 4, on_step=on_step, stop=stop)
    assert result.stopped_at == 1 and steps == [1], (result.stopped_at, steps)


def test_every_tab_offers_exactly_the_models_its_action_accepts(families_manager):
    """The model pickers are built from the same table the actions check (no tab lists a model it refuses)."""
    registry = families_manager.registry
    for action in caps.ACTIONS:
        for name in registry.names():
            accepted = caps.why_not(action, registry.get(name)) is None
            assert (name in caps.models_for(registry, action)) is accepted
    assert "tiny-sdxl" in caps.models_for(registry, caps.GUIDANCE_LAB)
    assert "tiny-kandinsky22" not in caps.models_for(registry, caps.GUIDANCE_LAB)
