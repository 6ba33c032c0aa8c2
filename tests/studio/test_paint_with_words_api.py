"""The `/paint_with_words` API, called with gradio_client against a launched studio."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipelines.paint_with_words import INFO_KEY, PALETTE
from pipelines.png_info import read_parameters


@pytest.fixture(scope="module")
def client(studio_url):
    return Client(studio_url, verbose=False)


@pytest.fixture(scope="module")
def layer_file(tmp_path_factory):
    layer = np.zeros((128, 128, 4), dtype=np.uint8)
    layer[70:120, 8:58] = (*PALETTE[0].rgb, 255)  # red bottom-left
    layer[8:58, 70:120] = (*PALETTE[1].rgb, 255)  # blue top-right
    path = tmp_path_factory.mktemp("layers") / "layer.png"
    Image.fromarray(layer, "RGBA").save(path)
    return str(path)


def editor_value(path: str) -> dict:
    return {"background": None, "layers": [handle_file(path)], "composite": None}


def test_paint_with_words_is_listed_with_named_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")
    names = [p["parameter_name"] for p in api["named_endpoints"]["/paint_with_words"]["parameters"]]
    assert names[:4] == ["prompt", "layout", "regions", "paint_weight"]


def test_paint_with_words_returns_the_image_and_the_region_map(client, layer_file):
    table = {"headers": ["Colour", "Phrase", "Weight"], "data": [["red", "red circle", 1], ["blue", "blue square", 1]]}
    image, region_map, status, seed, parameters = client.predict(
        prompt="a red circle above a blue square",
        layout=editor_value(layer_file),
        regions=table,
        paint_weight=0.4,
        steps=3,
        seed=5,
        api_name="/paint_with_words",
    )
    assert seed == 5 and "Done in" in status
    assert image.endswith(".png") and region_map.endswith(".png")
    assert 'Paint with words: "w 0.4; steered; red: red circle (1); blue: blue square (1)"' in read_parameters(image)
    with Image.open(region_map) as opened:
        pixels = np.asarray(opened.convert("RGB"))
        mapping = json.loads(opened.info[INFO_KEY])
    assert pixels.shape == (64, 64, 3)
    assert tuple(pixels[50, 10]) == PALETTE[0].rgb and tuple(pixels[10, 50]) == PALETTE[1].rgb
    assert [r["phrase"] for r in mapping["regions"]] == ["red circle", "blue square"]


def test_phrase_not_in_prompt_reaches_the_client(client, layer_file):
    table = {"headers": ["Colour", "Phrase", "Weight"], "data": [["red", "green triangle", 1]]}
    with pytest.raises(Exception, match="'green triangle' is not in the prompt"):
        client.predict(
            prompt="a red circle above a blue square",
            layout=editor_value(layer_file),
            regions=table,
            steps=2,
            api_name="/paint_with_words",
        )
