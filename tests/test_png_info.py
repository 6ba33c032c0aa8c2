"""The A1111 `parameters` PNG chunk round-trips through a file."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from pipelines.png_info import GenerationParameters, format_parameters, parse_parameters, read_parameters, save_png

EXAMPLE = GenerationParameters(
    prompt="a red circle on the left",
    negative_prompt="blurry",
    steps=40,
    sampler="Euler a",
    cfg_scale=13,
    seed=353263948,
    width=1216,
    height=512,
    model="shapes-sd",
)


EXAMPLE_TEXT = (
    "a red circle on the left\nNegative prompt: blurry\n"
    "Steps: 40, Sampler: Euler a, CFG scale: 13, Seed: 353263948, Size: 1216x512, Model: shapes-sd"
)


def test_format_matches_a1111():
    assert format_parameters(EXAMPLE) == EXAMPLE_TEXT


def test_refiner_and_its_switch_are_written_as_a1111_does():
    refined = replace(EXAMPLE, refiner="SDXL refiner", refiner_switch=0.8)
    assert format_parameters(refined).endswith("Model: shapes-sd, Refiner: SDXL refiner, Refiner switch at: 0.8")
    assert parse_parameters(format_parameters(refined)) == refined
    assert "Refiner" not in format_parameters(EXAMPLE)  # the base alone says nothing about a refiner


def test_reads_an_a1111_refiner():
    text = (
        "a cat\nSteps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1, Size: 1024x1024, Model: sd_xl_base_1.0, "
        "Refiner: sd_xl_refiner_1.0 [7440042bbd], Refiner switch at: 0.8, Version: v1.9.4"
    )
    p = parse_parameters(text)
    assert (p.model, p.refiner, p.refiner_switch) == ("sd_xl_base_1.0", "sd_xl_refiner_1.0 [7440042bbd]", 0.8)
    base_alone = parse_parameters(EXAMPLE_TEXT)
    assert (base_alone.refiner, base_alone.refiner_switch) == ("", None)


def test_names_with_commas_or_colons_are_quoted_and_read_back():
    named = GenerationParameters(prompt="x", model="base, v2", refiner='D:\\models\\refiner "b"', refiner_switch=0.75)
    text = format_parameters(named)
    assert 'Model: "base, v2", Refiner: "D:\\\\models\\\\refiner \\"b\\"", Refiner switch at: 0.75' in text
    assert parse_parameters(text) == named


def test_png_file_round_trip(tmp_path):
    image = Image.new("RGB", (8, 8), "red")
    image.info["parameters"] = format_parameters(EXAMPLE)
    save_png(image, tmp_path / "a.png")
    assert parse_parameters(read_parameters(tmp_path / "a.png")) == EXAMPLE


def test_reads_a1111_text_with_extra_keys():
    text = (
        "masterpiece, a cat\nNegative prompt: ugly\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, "
        'Seed: 42, Size: 512x768, Model hash: abc, Model: sd15, Lora hashes: "a: 1, b: 2", Version: v1.9'
    )
    p = parse_parameters(text)
    assert (p.prompt, p.negative_prompt, p.sampler, p.cfg_scale, p.seed) == (
        "masterpiece, a cat",
        "ugly",
        "DPM++ 2M Karras",
        7.5,
        42,
    )
    assert (p.width, p.height, p.model) == (512, 768, "sd15")


def test_image_without_parameters_reads_none(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "b.png")
    assert read_parameters(tmp_path / "b.png") is None


@given(
    prompt=st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), min_size=1)
    .map(str.strip)
    .filter(lambda s: s and not s.startswith(("Steps:", "Negative prompt:"))),
    negative=st.sampled_from(["", "blurry, ugly", "text"]),
    steps=st.integers(1, 150),
    cfg=st.sampled_from([0.0, 1.0, 7.5, 12.25]),
    seed=st.integers(0, 2**32 - 1),
    refiner=st.sampled_from([("", None), ("SDXL refiner", 0.8), ("r", 0.05), ("a, b: c", 0.35)]),
)
def test_format_parse_round_trip(prompt, negative, steps, cfg, seed, refiner):
    name, switch = refiner
    p = GenerationParameters(
        prompt=prompt,
        negative_prompt=negative,
        steps=steps,
        cfg_scale=cfg,
        seed=seed,
        width=64,
        height=64,
        model="m",
        refiner=name,
        refiner_switch=switch,
    )
    assert parse_parameters(format_parameters(p)) == p
