"""The A1111 `parameters` PNG chunk round-trips through a file."""

from __future__ import annotations

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


def test_format_matches_a1111():
    assert format_parameters(EXAMPLE) == (
        "a red circle on the left\nNegative prompt: blurry\n"
        "Steps: 40, Sampler: Euler a, CFG scale: 13, Seed: 353263948, Size: 1216x512, Model: shapes-sd"
    )


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
)
def test_format_parse_round_trip(prompt, negative, steps, cfg, seed):
    p = GenerationParameters(
        prompt=prompt, negative_prompt=negative, steps=steps, cfg_scale=cfg, seed=seed, width=64, height=64, model="m"
    )
    assert parse_parameters(format_parameters(p)) == p
