"""The `/inpaint` API with gradio_client, and the tab's place in the shared device queue."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipelines.png_info import read_parameters
from pipelines.shapes.render import PlacedShape, draw
from studio import build_app


@pytest.fixture(scope="module")
def client(studio_url):
    return Client(studio_url, verbose=False)


def test_inpaint_is_listed_with_named_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")
    names = [p["parameter_name"] for p in api["named_endpoints"]["/inpaint"]["parameters"]]
    assert names[:4] == ["editor", "prompt", "negative_prompt", "method"]
    assert {"denoising_strength", "mask_blur", "only_masked", "outpaint_sides", "outpaint_pixels"} <= set(names)
    assert "seed" in names


def test_model_bound_events_share_one_queue(studio_manager):
    demo = build_app(studio_manager)
    fns = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    assert fns["inpaint"].concurrency_id == fns["txt2img"].concurrency_id == "device"
    assert fns["inpaint"].concurrency_limit == 1


def test_inpaint_api_keeps_the_outside_and_names_the_method(client, tmp_path):
    scene = draw([PlacedShape("red", "circle", 16, 32, 10), PlacedShape("blue", "square", 48, 32, 10)])
    Image.fromarray(scene).save(tmp_path / "scene.png")
    layer = np.zeros((64, 64, 4), np.uint8)
    layer[20:44, 36:60] = (255, 0, 160, 255)
    Image.fromarray(layer, "RGBA").save(tmp_path / "mask.png")
    editor = {
        "background": handle_file(str(tmp_path / "scene.png")),
        "layers": [handle_file(str(tmp_path / "mask.png"))],
        "composite": None,
    }
    gallery, seed, status, parameters, preview = client.predict(
        editor=editor, prompt="a green triangle on the right", steps=3, seed=5, sampler="DDIM", api_name="/inpaint"
    )
    assert seed == 5 and "1 image(s)" in status
    (item,) = gallery
    path = item["image"] if isinstance(item["image"], str) else item["image"]["path"]
    out = np.asarray(Image.open(path).convert("RGB")).astype(int)
    mask = layer[..., 3] > 0
    assert np.abs(out - scene.astype(int))[~mask].max() <= 1
    assert item["caption"].startswith("(a)")
    assert "Seed: 5" in read_parameters(path) and "Inpaint method" in parameters


def test_inpaint_api_explains_an_empty_mask(client, tmp_path):
    Image.fromarray(draw([])).save(tmp_path / "blank.png")
    editor = {"background": handle_file(str(tmp_path / "blank.png")), "layers": [], "composite": None}
    with pytest.raises(Exception, match="`mask` is empty"):
        client.predict(editor=editor, prompt="a red circle", steps=2, api_name="/inpaint")
