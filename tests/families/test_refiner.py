"""Experts by noise level (eDiff-I) on the tiny SDXL pair: the base draws the noisy start, its refiner the rest.

"Refiner: switch at" f gives the base round(steps · f) steps and the refiner the others, in one job: progress counts
both, Stop ends within a step in either, previews keep coming, the PNG says which refiner and where, and f = 1 is
the base alone bit for bit.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import pytest

from pipelines.models import IMG2IMG, TXT2IMG
from pipelines.png_info import parse_parameters, read_parameters, save_png
from pipelines.text_to_image import TextToImageRequest, text_to_image
from studio import text_to_image_tab

PROMPT = "a red circle on the left"
BASE, REFINER = "tiny-sdxl", "tiny-sdxl-refiner"


@contextmanager
def unet_calls(manager):
    """[(model, timestep)] of every UNet forward of the base and the refiner while the block runs."""
    calls: list[tuple[str, float]] = []
    handles = []
    for name, task in ((BASE, TXT2IMG), (REFINER, IMG2IMG)):
        unet = manager.pipeline(name, task).unet  # per-request pipelines share these modules

        def hook(module, args, kwargs, name=name):
            timestep = args[1] if len(args) > 1 else kwargs["timestep"]
            calls.append((name, float(timestep)))

        handles.append(unet.register_forward_pre_hook(hook, with_kwargs=True))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def request(**changes) -> TextToImageRequest:
    return TextToImageRequest(**{"prompt": PROMPT, "model": BASE, "steps": 5, "seed": 11, **changes})


@pytest.mark.parametrize(("steps", "switch", "base_steps"), [(5, 0.6, 3), (4, 0.8, 3), (10, 0.25, 3), (6, 0.5, 3)])
def test_the_base_draws_its_share_of_the_steps_then_the_refiner_the_rest(families_manager, steps, switch, base_steps):
    infos = []
    with unet_calls(families_manager) as calls:
        result = text_to_image(
            families_manager, request(steps=steps, refiner_switch=switch, sampler="Euler"), on_step=infos.append
        )
    models = [model for model, _ in calls]
    assert models == [BASE] * base_steps + [REFINER] * (steps - base_steps)  # one (batched CFG) UNet pass a step
    scheduler = families_manager.request_pipeline(BASE, TXT2IMG, "Euler").scheduler
    scheduler.set_timesteps(steps)
    assert [t for _, t in calls] == [float(t) for t in scheduler.timesteps]  # the refiner goes on where the base left
    assert (result.refiner, result.switched_at, result.stopped_at) == (REFINER, base_steps, None)
    assert [(i.step, i.total) for i in infos] == [(s, steps) for s in range(1, steps + 1)]  # one job of `steps`
    assert result.images[0].size == (64, 64) and np.asarray(result.images[0]).std() > 0


@pytest.mark.parametrize("sampler", ["DPM++ 2M", "Euler a", "DDIM"])
def test_the_split_holds_for_other_samplers_and_a_batch(families_manager, sampler):
    with unet_calls(families_manager) as calls:
        result = text_to_image(families_manager, request(steps=4, refiner_switch=0.5, sampler=sampler, batch_size=2))
    assert [model for model, _ in calls] == [BASE, BASE, REFINER, REFINER]
    assert len(result.images) == 2 and "Seed: 12," in result.parameters[1]


@pytest.mark.parametrize("switch", [1.0, 0.95])  # 0.95 of 5 steps rounds to 5: no step is left for the refiner
def test_switch_at_one_is_the_base_alone_bit_for_bit(families_manager, switch):
    alone = text_to_image(families_manager, request())
    with unet_calls(families_manager) as calls:
        switched = text_to_image(families_manager, request(refiner_switch=switch))
    assert {model for model, _ in calls} == {BASE}
    np.testing.assert_array_equal(np.asarray(switched.images[0]), np.asarray(alone.images[0]))
    assert switched.parameters == alone.parameters and "Refiner" not in switched.parameters[0]
    assert switched.refiner is None and switched.switched_at is None


def test_the_refiner_changes_the_image(families_manager):
    alone = text_to_image(families_manager, request())
    refined = text_to_image(families_manager, request(refiner_switch=0.6))
    assert not np.array_equal(np.asarray(refined.images[0]), np.asarray(alone.images[0]))


@pytest.mark.parametrize(("stop_at", "refiner_calls"), [(4, 1), (2, 0)])  # in the refiner's steps, in the base's
def test_stop_ends_within_a_step_in_either_stage(families_manager, stop_at, refiner_calls):
    stop, seen = threading.Event(), []

    def on_step(info):
        seen.append(info.step)
        if info.step == stop_at:
            stop.set()

    with unet_calls(families_manager) as calls:
        result = text_to_image(families_manager, request(steps=6, refiner_switch=0.5), on_step=on_step, stop=stop)
    assert result.stopped_at == stop_at and seen == list(range(1, stop_at + 1))
    assert [model for model, _ in calls].count(REFINER) == refiner_calls
    assert len(calls) == stop_at
    image = np.asarray(result.images[0])
    assert result.images[0].size == (64, 64) and np.isfinite(image).all() and image.std() > 0  # decoded, not blank


def test_previews_come_from_both_models(families_manager):
    infos = []
    text_to_image(families_manager, request(steps=6, refiner_switch=0.5), on_step=infos.append, preview_every=2)
    assert [i.step for i in infos if i.preview is not None] == [2, 4]  # step 4 is the refiner's
    assert all(i.preview.size == (64, 64) for i in infos if i.preview is not None)


def test_png_parameters_name_the_refiner_and_reproduce_the_image(families_manager, tmp_path):
    result = text_to_image(families_manager, request(refiner_switch=0.6, negative_prompt="a blue square"))
    text = result.parameters[0]
    assert text.endswith("Model: tiny-sdxl, Refiner: tiny-sdxl-refiner, Refiner switch at: 0.6")
    save_png(result.images[0], tmp_path / "refined.png")
    p = parse_parameters(read_parameters(tmp_path / "refined.png"))
    assert (p.model, p.refiner, p.refiner_switch) == (BASE, REFINER, 0.6)
    again = text_to_image(
        families_manager,
        TextToImageRequest(
            p.prompt,
            p.negative_prompt,
            p.model,
            p.sampler,
            p.steps,
            p.cfg_scale,
            p.seed,
            p.width,
            p.height,
            refiner_switch=p.refiner_switch,
        ),
    )
    np.testing.assert_array_equal(np.asarray(again.images[0]), np.asarray(result.images[0]))
    # The tab restores the switch once the PNG's model is set; a model without a refiner hides it at 1.
    slider = text_to_image_tab.read_png_refiner(families_manager, str(tmp_path / "refined.png"), BASE)
    assert (slider.value, slider.visible) == (0.6, True)
    with pytest.warns(UserWarning, match="tiny-sd has none, so it draws alone"):
        hidden = text_to_image_tab.read_png_refiner(families_manager, str(tmp_path / "refined.png"), "tiny-sd")
    assert (hidden.value, hidden.visible) == (1.0, False)


def test_a_model_without_a_refiner_refuses_a_switch_naming_those_with_one(families_manager):
    with pytest.raises(ValueError) as refused:
        text_to_image(families_manager, request(model="tiny-sd", refiner_switch=0.8))
    assert str(refused.value).startswith(
        "`refiner_switch` 0.8 needs a model with a refiner, and 'tiny-sd' has none (models with one: 'tiny-sdxl')"
    )


def test_a_switch_that_leaves_the_base_no_step_is_refused(families_manager):
    with pytest.raises(ValueError, match=r"`refiner_switch` 0.05 leaves the base model no step of 5"):
        text_to_image(families_manager, request(refiner_switch=0.05))


def test_the_switch_shows_only_for_a_model_with_a_refiner(families_manager):
    *_, shown = text_to_image_tab.on_model_change(families_manager, BASE)
    assert shown.visible is True and "tiny-sdxl-refiner" in shown.info
    assert "value" not in shown._constructor_args[0]  # the user's switch stays as it was
    *_, hidden = text_to_image_tab.on_model_change(families_manager, "tiny-sd")
    assert (hidden.visible, hidden.value) == (False, 1.0)  # a hidden switch never asks for a refiner
