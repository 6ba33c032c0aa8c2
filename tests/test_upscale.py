"""The upscale action on a tiny random SD x4 upscaler folder: sizes, parameters, noise levels, refusals."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.png_info import attach, parse_parameters, read_parameters
from pipelines.testing import build_tiny_sd_folder, build_tiny_sd_upscaler_folder
from pipelines.text_to_image import TextToImageRequest, text_to_image
from pipelines.upscale import UpscaleRequest, upscale


@pytest.fixture(scope="module")
def upscale_manager(tmp_path_factory):
    root = tmp_path_factory.mktemp("upscaler")
    build_tiny_sd_upscaler_folder(root / "tiny-sd-upscaler")
    build_tiny_sd_folder(root / "tiny-sd")
    return PipelineManager(ManagerConfig(models_dir=root, device="cpu", offline=True, include_hub=False))


def _picture(size=16, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_a_batch_is_upscaled_4x_with_the_first_stage_parameters_kept(upscale_manager):
    source = attach(_picture(), "a red circle\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 5, Seed: 7, Size: 16x16")
    result = upscale(
        upscale_manager, UpscaleRequest(images=(source, _picture(seed=1)), prompt="a red circle", steps=2, seed=3)
    )
    assert [image.size for image in result.images] == [(64, 64), (64, 64)] and result.stopped_at is None
    first = parse_parameters(read_parameters(result.images[0]))
    assert (first.seed, first.width, first.upscaler, first.upscale_steps, first.upscale_seed) == (
        7,
        16,
        "tiny-sd-upscaler",
        2,
        3,
    )
    second = parse_parameters(read_parameters(result.images[1]))  # no parameters of its own: the upscaler's run
    assert (second.model, second.seed, second.width, second.upscale_noise_level) == ("tiny-sd-upscaler", 4, 64, 20)


def test_any_image_mode_is_taken(upscale_manager):
    modes = [_picture().convert(mode) for mode in ("RGBA", "L", "CMYK")]
    for image in modes:
        (out,) = upscale(upscale_manager, UpscaleRequest(images=(image,), steps=1, seed=1)).images
        assert out.size == (64, 64) and out.mode == "RGB"


def test_the_noise_level_changes_the_result(upscale_manager):
    low, high = (
        upscale(upscale_manager, UpscaleRequest(images=(_picture(),), steps=2, seed=1, upscale_noise_level=level))
        for level in (0, 300)
    )
    assert not np.array_equal(np.asarray(low.images[0]), np.asarray(high.images[0]))


@pytest.mark.parametrize(
    ("images", "overrides", "message"),
    [
        ((), {}, "`images` is empty"),
        ((_picture(12),), {}, "multiples of 8"),
        ((_picture(16), _picture(24)), {}, "the same size"),
        ((_picture(256),), {}, "more than tiny-sd-upscaler draws"),
        ((_picture(),), {"upscale_noise_level": 351}, "at most 350"),
        ((_picture(),), {"model": "no-such"}, "no-such"),
    ],
)
def test_bad_upscale_requests_say_what_is_wrong(upscale_manager, images, overrides, message):
    with pytest.raises(ValueError, match=message):
        upscale(upscale_manager, UpscaleRequest(images=images, steps=1, **overrides))


def _two_stages(**overrides) -> TextToImageRequest:
    settings = {"prompt": "a red circle", "model": "tiny-sd", "steps": 2, "seed": 5, "width": 32, "height": 32}
    return TextToImageRequest(**{**settings, "upscaler": "tiny-sd-upscaler", "upscale_steps": 3, **overrides})


def test_text_to_image_with_a_second_stage_reports_both_and_records_both(upscale_manager):
    steps = []
    result = text_to_image(
        upscale_manager, _two_stages(batch_size=2), on_step=lambda info: steps.append((info.step, info.stage))
    )
    assert result.upscaled and [image.size for image in result.images] == [(128, 128)] * 2
    assert steps == [(1, "tiny-sd: drawing"), (2, "tiny-sd: drawing")] + [
        (k, "tiny-sd-upscaler: upscaling x4") for k in (3, 4, 5)
    ]
    p = parse_parameters(result.parameters[1])
    assert (p.model, p.seed, p.width, p.steps, p.upscaler, p.upscale_steps) == (
        "tiny-sd",
        6,
        32,
        2,
        "tiny-sd-upscaler",
        3,
    )
    assert p.upscale_seed is None  # the upscaler drew image i with the image's own seed


@pytest.mark.parametrize(("stop_after", "size", "upscaled"), [(1, 32, False), (3, 128, True)])
def test_stop_ends_either_stage_within_a_step(upscale_manager, stop_after, size, upscaled):
    stop = threading.Event()

    def on_step(info):
        if info.step == stop_after:
            stop.set()

    result = text_to_image(upscale_manager, _two_stages(), on_step=on_step, stop=stop)
    assert result.stopped_at == stop_after and result.upscaled is upscaled
    assert result.images[0].size == (size, size)


def test_a_second_stage_must_be_an_upscaler_with_steps_in_range(upscale_manager):
    with pytest.raises(ValueError, match="upscale_steps"):
        text_to_image(upscale_manager, _two_stages(upscale_steps=0))
    with pytest.raises(ValueError, match="cannot be used for upscale x4"):
        text_to_image(upscale_manager, _two_stages(upscaler="tiny-sd"))


def test_an_upscaler_that_does_not_read_the_prompt_runs_unguided(tmp_path):
    from diffusers import StableDiffusionUpscalePipeline

    from pipelines.testing.common import tiny_unet

    folder = build_tiny_sd_upscaler_folder(tmp_path / "blind-upscaler")
    pipe = StableDiffusionUpscalePipeline.from_pretrained(folder)
    blocks = dict(down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2, mid_block_type=None)
    pipe.unet = tiny_unet(in_channels=7, num_class_embeds=1000, cross_attention_dim=32, sample_size=64, **blocks)
    pipe.save_pretrained(folder, safe_serialization=True)
    manager = PipelineManager(ManagerConfig(models_dir=tmp_path, device="cpu", offline=True, include_hub=False))
    batches = []
    unet = manager.request_pipeline("blind-upscaler", "upscale").unet
    unet.register_forward_hook(lambda module, args, output: batches.append(len(args[0])))
    results = [
        upscale(manager, UpscaleRequest(images=(_picture(),), prompt="a red circle", steps=2, seed=1, cfg_scale=s))
        for s in (1.0, 7.0)
    ]
    assert batches == [1, 1, 1, 1]  # one UNet pass per step: no unconditional half
    assert np.array_equal(np.asarray(results[0].images[0]), np.asarray(results[1].images[0]))
    assert parse_parameters(read_parameters(results[1].images[0])).cfg_scale == 7.0  # what was asked, same picture


def test_an_upscaler_that_reads_the_prompt_is_guided(upscale_manager):
    batches = []
    unet = upscale_manager.request_pipeline("tiny-sd-upscaler", "upscale").unet
    handle = unet.register_forward_hook(lambda module, args, output: batches.append(len(args[0])))
    try:
        upscale(upscale_manager, UpscaleRequest(images=(_picture(),), prompt="a red circle", steps=1, cfg_scale=5.0))
    finally:
        handle.remove()
    assert batches == [2]
