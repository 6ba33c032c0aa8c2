"""Bad input on every tab, through the launched app: each case gets a message a person understands (or a
sensible repair), and the very next normal request still succeeds."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image
from robust_helpers import CORRUPT, PICKLE_ONLY, TALLY, call_raw, image_path, png_header_bomb, raw_row

from pipelines.paint_with_words import PALETTE

pytestmark = pytest.mark.timeout(120)

OK = "ok"  # the case is repaired: the request succeeds
BASE = {"prompt": "a red circle", "steps": 1, "seed": 1, "sampler": "Euler"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-files")

    def save(name, image):
        image.save(d / name)
        return str(d / name)

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(buffer, "PNG")
    (d / "truncated.png").write_bytes(buffer.getvalue()[:60])
    (d / "not-an-image.png").write_bytes(b"#!/bin/sh\necho this is a shell script\n" * 20)
    mask = np.zeros((64, 64, 4), np.uint8)
    mask[16:48, 16:48] = (255, 0, 160, 255)
    small = np.zeros((10, 13, 4), np.uint8)
    small[2:8, 2:8] = 255
    layout = np.zeros((64, 64, 4), np.uint8)
    layout[0:32, 0:32] = (*PALETTE[0].rgb, 255)
    return {
        "rgb": save("rgb.png", Image.new("RGB", (64, 64), (200, 30, 30))),
        "rgba": save("rgba.png", Image.new("RGBA", (64, 64), (200, 30, 30, 128))),
        "L": save("l.png", Image.new("L", (64, 64), 100)),
        "I;16": save("i16.png", Image.fromarray(np.full((64, 64), 30000, np.uint16))),
        "CMYK": save("cmyk.jpg", Image.new("CMYK", (64, 64), (0, 50, 50, 0))),
        "1px": save("one.png", Image.new("RGB", (1, 1), (1, 2, 3))),
        "70x50": save("odd.png", Image.new("RGB", (70, 50), (1, 2, 3))),
        "bomb": str(png_header_bomb(d / "bomb.png")),
        "truncated": str(d / "truncated.png"),
        "fake": str(d / "not-an-image.png"),
        "mask": save("mask.png", Image.fromarray(mask, "RGBA")),
        "full": save("full.png", Image.fromarray(np.full((64, 64, 4), 255, np.uint8), "RGBA")),
        "small-mask": save("small-mask.png", Image.fromarray(small, "RGBA")),
        "layout": save("layout.png", Image.fromarray(layout, "RGBA")),
    }


def expect(call, expected: str):
    """Runs `call`; `expected` is OK or a regex the user-facing error must contain. Returns the result."""
    if expected == OK:
        return call()
    with pytest.raises(Exception) as caught:  # gradio_client raises AppError with the gr.Error text
        call()
    message = str(caught.value)
    assert re.search(expected, message), f"expected /{expected}/, the user saw: {message!r}"
    assert "Traceback" not in message and "upstream Gradio app" not in message, message
    return None


def normal_request_succeeds(client):
    gallery, seed, status, _ = client.predict(api_name="/txt2img", **BASE)
    assert seed == 1 and "1 image(s)" in status and len(gallery) == 1


def counted(client):
    TALLY["bad_input_cases"] = int(TALLY.get("bad_input_cases", 0)) + 1
    normal_request_succeeds(client)


# --------------------------------------------------------------------- text to image
TXT2IMG_CASES = {
    "empty prompt": ({"prompt": ""}, r"`prompt` is empty: type what to draw"),
    "whitespace prompt": ({"prompt": "  \n\t "}, r"`prompt` is empty: type what to draw"),
    "10 000-character prompt": ({"prompt": ("a red circle " * 800)[:10_000]}, OK),
    "control characters": ({"prompt": "a red\x00 circle\x1b[31m\x07\r"}, OK),
    "emoji prompt": ({"prompt": "a red circle 🔴🟦👩‍🎨"}, OK),
    "steps 0": ({"steps": 0}, r"less than minimum value 1"),
    "steps negative": ({"steps": -5}, r"less than minimum value 1"),
    "steps 10**6": ({"steps": 10**6}, r"greater than maximum value 150"),
    "steps fractional": ({"steps": 1.5}, OK),
    "seed -1 (random)": ({"seed": -1}, OK),
    "seed 2**64": ({"seed": 2**64}, r"greater than maximum value 4294967295"),
    "seed below -1": ({"seed": -7}, r"less than minimum value -1"),
    "width not a multiple of 8": ({"width": 60}, r"`width` must be divisible by 8"),
    "height not a multiple of 8": ({"height": 70}, r"`height` must be divisible by 8"),
    "size 1x1": ({"width": 1, "height": 1}, r"less than minimum value 8"),
    "above the pixel cap": ({"width": 4096, "height": 4096}, r"must be at most 16384 pixels"),
    "batch 0": ({"batch_size": 0}, r"less than minimum value 1"),
    "cfg above range": ({"cfg_scale": 1000}, r"greater than maximum value 30"),
    "unknown sampler": ({"sampler": "Bogus 9000"}, r"Bogus 9000 is not in the list of choices"),
    "LCM on a non-LCM model": ({"sampler": "LCM"}, r"needs an LCM-distilled model"),
    "unknown model": ({"model": "no-such-model"}, r"no-such-model is not in the list of choices"),
    "model given as a path": ({"model": "/etc"}, r"is not in the list of choices"),
    "model given as a traversal": ({"model": "../tiny-sd"}, r"is not in the list of choices"),
    "Hub model while offline": ({"model": "SD 1.5"}, r"needs a download from the Hugging Face Hub"),
    "pickle-only checkpoint": ({"model": PICKLE_ONLY}, r"refuses them because loading a pickle can run"),
    "corrupt safetensors": ({"model": CORRUPT}, r"is corrupt or truncated"),
    "steps missing": ({"steps": None}, r"`steps` is missing"),
}


@pytest.mark.parametrize("case", list(TXT2IMG_CASES))
def test_txt2img_bad_input(client, case):
    overrides, expected = TXT2IMG_CASES[case]
    result = expect(lambda: client.predict(api_name="/txt2img", **{**BASE, **overrides}), expected)
    if result is not None:
        gallery, seed, status, parameters = result
        assert len(gallery) == 1 and 0 <= seed < 2**32 and "1 image(s)" in status
        image_path(gallery[0])  # a real file came back
    counted(client)


# Values JSON cannot carry: gradio_client refuses to send them, a hand-written request can. Each row is the
# endpoint's own parameters (their defaults, in API order) with BASE and the case's value put in.
NAN, INF = float("nan"), float("inf")
RAW_CASES = {
    "cfg NaN": ({"cfg_scale": NAN}, r"`cfg_scale` must be from 0 to 30"),
    "cfg +inf": ({"cfg_scale": INF}, r"greater than maximum value"),
    "cfg -inf": ({"cfg_scale": -INF}, r"less than minimum value"),
    "seed NaN": ({"seed": NAN}, r"`seed` has an invalid value"),
    "seed as text": ({"seed": "abc"}, r"`seed`"),
    "width NaN": ({"width": NAN}, r"`width` has an invalid value"),
    "steps NaN": ({"steps": NAN}, r"NaN"),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_txt2img_values_json_cannot_carry(client, robust_url, case):
    overrides, expected = RAW_CASES[case]
    kind, payload = call_raw(robust_url, "txt2img", raw_row(client, "/txt2img", {**BASE, **overrides}))
    assert kind == "error", payload
    assert payload["error"] and re.search(expected, payload["error"]), payload
    counted(client)


def test_png_info_rejects_a_non_image(client, files):
    expect(
        lambda: client.predict(handle_file(files["fake"]), api_name="/read_png_info"), r"not a PNG the studio can read"
    )
    counted(client)


# --------------------------------------------------------------------- inpainting
def editor(background: str | None, layers: tuple[str, ...]) -> dict:
    return {
        "background": handle_file(background) if background else None,
        "layers": [handle_file(p) for p in layers],
        "composite": None,
    }


INPAINT_CASES = {
    "RGBA image": ("rgba", ("mask",), OK),
    "L image": ("L", ("mask",), OK),
    "I;16 image": ("I;16", ("mask",), OK),
    "CMYK image": ("CMYK", ("mask",), OK),
    "1-pixel image": ("1px", ("mask",), r"`image` must be at least 8x8 pixels to inpaint, got 1x1"),
    "70x50 image": ("70x50", ("mask",), OK),  # repaired: "only the masked area" is turned on, and said so
    "20000x20000 header bomb": ("bomb", ("mask",), r"far too large to open safely"),
    "truncated PNG": ("truncated", ("mask",), r"damaged or truncated"),
    "non-image renamed .png": ("fake", ("mask",), r"not an image the studio can read"),
    "empty mask": ("rgb", (), r"`mask` is empty"),
    "full mask": ("rgb", ("full",), OK),
    "mask of the wrong size": ("rgb", ("small-mask",), OK),
    "no image": (None, ("mask",), r"`image` is missing"),
    "mask layer not an image": ("rgb", ("fake",), r"not an image the studio can read"),
}


@pytest.mark.parametrize("case", list(INPAINT_CASES))
def test_inpaint_bad_input(client, files, case):
    background, layers, expected = INPAINT_CASES[case]
    value = editor(files[background] if background else None, tuple(files[p] for p in layers))
    result = expect(
        lambda: client.predict(
            editor=value,
            prompt="a green triangle",
            steps=1,
            seed=3,
            method="Any model (replace known region)",
            api_name="/inpaint",
        ),
        expected,
    )
    if result is not None:
        gallery, seed, status, _, _ = result
        assert seed == 3 and "1 image(s)" in status and len(gallery) == 1
    counted(client)


# --------------------------------------------------------------------- paint with words
TABLE = {"headers": ["Colour", "Phrase", "Weight"], "data": [["red", "red circle", 1]]}
PWW_CASES = {
    "phrase not in the prompt": (
        {"regions": {**TABLE, "data": [["red", "green triangle", 1]]}},
        r"'green triangle' is not in the prompt",
    ),
    "nothing painted": ({"layout": "empty"}, r"`layout` is empty"),
    "no phrase for any colour": ({"regions": {**TABLE, "data": []}}, r"`regions` must tie at least one"),
    "weight not a number": (
        {"regions": {**TABLE, "data": [["red", "red circle", "heavy"]]}},
        r"weight for red must be a number",
    ),
    "paint weight above range": ({"paint_weight": 9}, r"greater than maximum value 2"),
    "unknown colour": ({"regions": {**TABLE, "data": [["ultraviolet", "red circle", 1]]}}, r"ultraviolet"),
    "layout not an image": ({"layout": "fake"}, r"not an image the studio can read"),
    "empty prompt": ({"prompt": " "}, r"`prompt` is empty: type what to draw"),
}


@pytest.mark.parametrize("case", list(PWW_CASES))
def test_paint_with_words_bad_input(client, files, case):
    overrides, expected = PWW_CASES[case]
    layout = overrides.pop("layout", "layout") if "layout" in overrides else "layout"
    overrides = {k: v for k, v in overrides.items() if k != "layout"}
    value = {
        "background": None,
        "layers": [] if layout == "empty" else [handle_file(files[layout])],
        "composite": None,
    }
    args = {"prompt": "a red circle above a blue square", "layout": value, "regions": TABLE, "steps": 1, "seed": 1}
    expect(lambda: client.predict(api_name="/paint_with_words", **{**args, **overrides}), expected)
    counted(client)


# --------------------------------------------------------------------- guidance lab
LAB_CASES = {
    "no methods": ({"methods": []}, r"`methods` must name at least one guidance method"),
    "strengths not numbers": ({"strengths": "a, b"}, r"`strengths` must be numbers separated by commas"),
    "no strengths": ({"strengths": " , "}, r"`strengths` must have at least one value"),
    "strength NaN": ({"strengths": "nan, 3"}, r"`strengths` must be numbers from 0 to 30"),
    "strength inf": ({"strengths": "inf"}, r"`strengths` must be numbers from 0 to 30"),
    "too many cells": ({"strengths": ", ".join(str(i / 2) for i in range(30))}, r"at most 36 cells"),
    "unknown method": ({"methods": ["Telepathy"]}, r"Telepathy'? .*is not in the list of choices"),
    "interval backwards": ({"intervals": "0.8-0.2"}, r"`intervals` must be \(start, stop\) fractions"),
    "interval as words": ({"intervals": "middle"}, r"`intervals` must be ranges of the steps"),
    "calibrate without a CLIP": ({"methods": ["CFG-Zero*"], "calibrate": True}, r"no CLIP model"),
}


@pytest.mark.parametrize("case", list(LAB_CASES))
def test_guidance_grid_bad_input(client, case):
    overrides, expected = LAB_CASES[case]
    args = {
        "prompt": "a red circle",
        "methods": ["No guidance", "Classifier-free"],
        "strengths": "3",
        "steps": 1,
        "seed": 1,
    }
    expect(lambda: client.predict(api_name="/guidance_grid", **{**args, **overrides}), expected)
    counted(client)


def test_guidance_grid_normal_run_after_the_bad_ones(client):
    cells, status, grid = client.predict(
        prompt="a red circle",
        methods=["No guidance", "Classifier-free"],
        strengths="3",
        steps=1,
        seed=1,
        api_name="/guidance_grid",
    )
    assert "Done: 2 cells" in status and len(cells) == 2 and grid
