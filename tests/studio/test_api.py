"""The stable `/txt2img` API, called with gradio_client against a launched studio."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client
from PIL import Image

from pipelines.png_info import parse_parameters, read_parameters
from pipelines.text_to_image import TextToImageRequest, text_to_image


@pytest.fixture(scope="module")
def client(studio_url):
    return Client(studio_url, verbose=False)


def test_txt2img_is_listed_with_named_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")
    endpoint = api["named_endpoints"]["/txt2img"]
    names = [p["parameter_name"] for p in endpoint["parameters"]]
    assert names == [
        "prompt",
        "negative_prompt",
        "model",
        "sampler",
        "steps",
        "cfg_scale",
        "seed",
        "width",
        "height",
        "batch_size",
        "refiner_switch",
        "upscaler",
        "upscale_steps",
        "upscale_noise_level",
    ]


def test_txt2img_returns_the_image_with_its_parameters(client, studio_manager):
    gallery, seed, status, parameters = client.predict(
        prompt="a red circle on the left", steps=4, seed=42, sampler="Euler", api_name="/txt2img"
    )
    assert seed == 42
    assert "1 image(s)" in status
    (item,) = gallery
    path = item["image"] if isinstance(item["image"], str) else item["image"]["path"]
    assert path.endswith(".png")
    text = read_parameters(path)
    assert text == item["caption"] == parameters
    p = parse_parameters(text)
    assert (p.prompt, p.seed, p.steps, p.sampler, p.width, p.height, p.model) == (
        "a red circle on the left",
        42,
        4,
        "Euler",
        64,
        64,
        "tiny-sd",
    )
    direct = text_to_image(
        studio_manager, TextToImageRequest("a red circle on the left", steps=4, seed=42, sampler="Euler")
    )
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(direct.images[0]))


def test_txt2img_validation_error_reaches_the_client(client):
    with pytest.raises(Exception, match="`width` must be divisible by 8"):
        client.predict(prompt="a red circle", width=60, steps=2, api_name="/txt2img")


def test_dropping_a_png_restores_its_settings(client):
    from gradio_client import handle_file

    gallery, *_ = client.predict(
        prompt="a blue square",
        negative_prompt="a red circle",
        steps=3,
        seed=5,
        cfg_scale=4.5,
        sampler="Euler a",
        api_name="/txt2img",
    )
    path = gallery[0]["image"] if isinstance(gallery[0]["image"], str) else gallery[0]["image"]["path"]
    restored = client.predict(handle_file(path), api_name="/read_png_info")
    prompt, negative, model, sampler, steps, cfg, seed, width, height, status = restored
    assert (prompt, negative, model, sampler, steps, cfg, seed, width, height) == (
        "a blue square",
        "a red circle",
        "tiny-sd",
        "Euler a",
        3,
        4.5,
        5,
        64,
        64,
    )
    assert "restored" in status
