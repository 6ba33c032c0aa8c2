"""The unCLIP APIs (`/variations`, `/interpolate`, `/text_diff`), called with gradio_client against a studio
launched on the bundled models (the tiny random test folder has no unCLIP model)."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.unclip import example_image
from studio import build_app, launch_options


@pytest.fixture(scope="module")
def client():
    manager = PipelineManager(ManagerConfig(device="cpu", offline=True, include_hub=False))
    demo = build_app(manager)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **launch_options())
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unclip-inputs")
    paths = {}
    for name, caption, seed in (("red", "a large red circle in the center", 0), ("blue", "a large blue square", 1)):
        paths[name] = str(folder / f"{name}.png")
        example_image(caption, seed).save(paths[name])
    return paths


def _parameters(client, endpoint: str) -> list[str]:
    api = client.view_api(print_info=False, return_format="dict")
    return [p["parameter_name"] for p in api["named_endpoints"][endpoint]["parameters"]]


def test_the_three_endpoints_are_listed_with_named_parameters(client):
    assert _parameters(client, "/variations")[:4] == ["image", "count", "noise_level", "eta"]
    assert _parameters(client, "/interpolate")[:4] == ["image_a", "image_b", "frames", "noise_mode"]
    assert _parameters(client, "/text_diff")[:4] == ["image", "source_caption", "target_caption", "theta"]


def test_variations_returns_count_images_and_the_seed(client, images):
    gallery, status, seed = client.predict(
        image=handle_file(images["red"]), count=2, seed=21, steps=3, api_name="/variations"
    )
    assert seed == 21 and "Done in" in status
    assert [item["caption"] for item in gallery] == ["seed 21", "seed 22"]
    with Image.open(gallery[0]["image"]) as first:
        assert first.size == (64, 64)


def test_interpolate_returns_the_strip_the_first_frame_and_a_gif(client, images):
    strip, frame, theta, gif, status = client.predict(
        image_a=handle_file(images["red"]),
        image_b=handle_file(images["blue"]),
        frames=3,
        noise_mode="fixed",
        seed=4,
        steps=3,
        api_name="/interpolate",
    )
    assert [item["caption"] for item in strip] == ["θ = 0.00", "θ = 0.50", "θ = 1.00"]
    assert theta == 0 and "noise fixed" in status
    assert frame.endswith(".png") and gif.endswith(".gif")
    with Image.open(gif) as opened:
        assert opened.n_frames >= 3


def test_text_diff_returns_frames_along_theta(client, images):
    gallery, status = client.predict(
        image=handle_file(images["red"]),
        source_caption="a red circle",
        target_caption="a blue circle",
        theta=1.0,
        frames=2,
        seed=3,
        steps=3,
        api_name="/text_diff",
    )
    assert [item["caption"] for item in gallery] == ["θ = 0.00", "θ = 1.00"] and "Done in" in status


def test_missing_image_reaches_the_client_as_a_message(client, images):
    with pytest.raises(Exception, match="`image` is missing"):
        client.predict(image=None, count=1, steps=2, api_name="/variations")
    with pytest.raises(Exception, match="`image_b` is missing"):
        client.predict(image_a=handle_file(images["red"]), image_b=None, steps=2, api_name="/interpolate")


def test_bad_values_reach_the_client_naming_the_parameter(client, images):
    with pytest.raises(Exception, match="`source_caption` is empty"):
        client.predict(
            image=handle_file(images["red"]), source_caption="", target_caption="a blue circle", api_name="/text_diff"
        )
    with pytest.raises(Exception, match="5000 is greater than maximum value 999"):  # Gradio's slider bounds
        client.predict(image=handle_file(images["red"]), noise_level=5000, steps=2, api_name="/variations")


def test_caption_to_image_draws_an_input_from_a_caption(client):
    image, status = client.predict(caption="a large blue square", seed=2, api_name="/caption_to_image")
    assert "Drawn from" in status and "seed 2" in status
    with Image.open(image) as opened:
        assert opened.size == (64, 64)
