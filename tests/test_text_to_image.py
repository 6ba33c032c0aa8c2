"""Text to image: reproducible, validated, stoppable, and every image carries its parameters."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pipelines.png_info import parse_parameters, read_parameters, save_png
from pipelines.samplers import Sampler
from pipelines.text_to_image import TextToImageRequest, base_steps, refiner_split, text_to_image

PROMPT = "a red circle on the left"


def test_same_seed_same_image(shared_manager):
    request = TextToImageRequest(PROMPT, seed=1234, steps=4)
    a = text_to_image(shared_manager, request).images[0]
    b = text_to_image(shared_manager, request).images[0]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = text_to_image(shared_manager, TextToImageRequest(PROMPT, seed=1235, steps=4)).images[0]
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_random_seed_is_reported_and_reproduces(shared_manager):
    first = text_to_image(shared_manager, TextToImageRequest(PROMPT, steps=3))
    assert 0 <= first.seed < 2**32
    again = text_to_image(shared_manager, TextToImageRequest(PROMPT, steps=3, seed=first.seed))
    np.testing.assert_array_equal(np.asarray(first.images[0]), np.asarray(again.images[0]))


def test_batch_uses_consecutive_seeds(shared_manager):
    batch = text_to_image(shared_manager, TextToImageRequest(PROMPT, seed=7, steps=3, batch_size=2))
    single = text_to_image(shared_manager, TextToImageRequest(PROMPT, seed=8, steps=3))
    assert len(batch.images) == 2
    assert "Seed: 8," in batch.parameters[1]
    np.testing.assert_allclose(np.asarray(batch.images[1]), np.asarray(single.images[0]), atol=2)


def test_default_size_is_the_models_native_size(shared_manager):
    result = text_to_image(shared_manager, TextToImageRequest(PROMPT, steps=2, seed=0))
    assert result.images[0].size == (64, 64)
    assert (result.request.width, result.request.height) == (64, 64)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prompt": "  "}, "`prompt` is empty: type what to draw"),
        ({"width": 500}, "`width` must be divisible by 8 for tiny-sd, got 500"),
        ({"height": 36}, "`height` must be divisible by 8 for tiny-sd, got 36"),
        ({"width": 4096, "height": 4096}, "`width`x`height` must be at most 16384 pixels"),
        ({"steps": 0}, "`steps` must be an integer from 1 to 150, got 0"),
        ({"cfg_scale": 99.0}, "`cfg_scale` must be from 0 to 30, got 99.0"),
        ({"seed": -5}, "`seed` must be -1 (random) or an integer from 0 to 4294967295, got -5"),
        ({"batch_size": 0}, "`batch_size` must be an integer from 1 to 8, got 0"),
        ({"sampler": "Heun++"}, "`sampler` must be one of"),
        ({"sampler": "LCM"}, "`sampler` 'LCM' needs an LCM-distilled model"),
        ({"refiner_switch": 0.0}, "`refiner_switch` must be greater than 0 and at most 1, got 0.0"),
        ({"refiner_switch": 1.5}, "`refiner_switch` must be greater than 0 and at most 1, got 1.5"),
        ({"refiner_switch": True}, "`refiner_switch` must be greater than 0 and at most 1, got True"),
        (
            {"refiner_switch": 0.8},
            "`refiner_switch` 0.8 needs a model with a refiner, and 'tiny-sd' has none (models with one: "
            "'SDXL base'); set it to 1 for no refiner",  # the Hub preset, listed beside the local folders
        ),
    ],
)
def test_invalid_requests_name_the_parameter_and_value(shared_manager, changes, message):
    request = TextToImageRequest(**{"prompt": PROMPT, "steps": 2, **changes})
    with pytest.raises(ValueError) as info:
        text_to_image(shared_manager, request)
    assert message in str(info.value)


@pytest.mark.parametrize("sampler", ["DDIM", "DDPM", "Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras"])
def test_every_sampler_runs(shared_manager, sampler):
    result = text_to_image(shared_manager, TextToImageRequest(PROMPT, sampler=sampler, steps=3, seed=0))
    assert f"Sampler: {sampler}," in result.parameters[0]


def test_stop_flag_stops_within_a_step(shared_manager):
    stop = threading.Event()
    steps_seen = []

    def on_step(info):
        steps_seen.append(info.step)
        if info.step == 2:
            stop.set()

    result = text_to_image(shared_manager, TextToImageRequest(PROMPT, steps=20, seed=3), on_step=on_step, stop=stop)
    assert result.stopped_at == 2
    assert steps_seen == [1, 2]
    assert result.images[0].size == (64, 64)


def test_progress_and_previews_are_reported(shared_manager):
    infos = []
    text_to_image(shared_manager, TextToImageRequest(PROMPT, steps=6, seed=3), on_step=infos.append, preview_every=2)
    assert [i.step for i in infos] == [1, 2, 3, 4, 5, 6]
    assert all(i.total == 6 for i in infos)
    assert [i.step for i in infos if i.preview is not None] == [2, 4]
    assert infos[1].preview.size == (64, 64)


def test_png_parameters_round_trip(shared_manager, tmp_path):
    request = TextToImageRequest(
        PROMPT, negative_prompt="a blue square", seed=99, steps=3, cfg_scale=5.5, sampler="Euler"
    )
    image = text_to_image(shared_manager, request).images[0]
    save_png(image, tmp_path / "out.png")
    p = parse_parameters(read_parameters(tmp_path / "out.png"))
    assert (p.prompt, p.negative_prompt, p.seed, p.steps, p.cfg_scale, p.sampler) == (
        PROMPT,
        "a blue square",
        99,
        3,
        5.5,
        "Euler",
    )
    assert (p.width, p.height, p.model) == (64, 64, "tiny-sd")
    restored = TextToImageRequest(
        p.prompt, p.negative_prompt, p.model, p.sampler, p.steps, p.cfg_scale, p.seed, p.width, p.height
    )
    again = text_to_image(shared_manager, restored).images[0]
    np.testing.assert_array_equal(np.asarray(again), np.asarray(image))


def test_switch_at_one_needs_no_refiner(shared_manager):
    alone = text_to_image(shared_manager, TextToImageRequest(PROMPT, seed=5, steps=3))
    switched = text_to_image(shared_manager, TextToImageRequest(PROMPT, seed=5, steps=3, refiner_switch=1.0))
    np.testing.assert_array_equal(np.asarray(switched.images[0]), np.asarray(alone.images[0]))
    assert switched.parameters == alone.parameters and switched.refiner is None


@pytest.mark.parametrize(
    ("steps", "switch", "expected"), [(20, 0.8, 16), (5, 0.5, 3), (10, 0.35, 4), (10, 0.25, 3), (4, 1.0, 4)]
)
def test_the_base_gets_round_steps_times_switch_halves_up(steps, switch, expected):
    assert base_steps(steps, switch) == expected


@pytest.mark.parametrize("sampler", [s.label for s in Sampler if s is not Sampler.LCM])
@pytest.mark.parametrize(("steps", "switch"), [(20, 0.8), (7, 0.3), (30, 0.55), (3, 0.5)])
def test_the_noise_level_split_gives_the_base_its_share_of_the_steps(shared_manager, sampler, steps, switch):
    """diffusers cuts by noise level (t ≥ c for the base, t < c for the refiner): the cutoff lands between the
    timestep of the base's last step and the refiner's first."""
    scheduler = shared_manager.request_pipeline("tiny-sd", sampler=sampler).scheduler
    split = refiner_split(scheduler, scheduler, steps, switch)
    k = base_steps(steps, switch)
    assert (split.base_steps, split.refiner_steps) == (k, steps - k)
    assert 0 < split.fraction < 1
