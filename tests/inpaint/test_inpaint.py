"""Inpainting on the tiny random models: what must hold whatever the weights (random weights draw noise)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from pipelines.inpaint import InpaintRequest, Method, inpaint
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import TXT2IMG
from pipelines.png_info import read_parameters
from pipelines.samplers import Sampler

FAST = dict(steps=3, seed=7, sampler="DDIM")


def run(manager, image, mask, **kwargs):
    return inpaint(manager, InpaintRequest("a green triangle on the right", image, mask, **{**FAST, **kwargs}))


def outside_diff(result_image, original, mask) -> int:
    out = np.asarray(result_image).astype(int)
    return int(np.abs(out - original.astype(int))[~mask].max())


@pytest.mark.parametrize("method", [Method.REPLACE, Method.INPAINT_MODEL])
def test_mask_outside_is_untouched(inpaint_manager, scene, right_mask, method):
    result = run(inpaint_manager, scene, right_mask, method=method.label)
    (image,) = result.images
    assert image.size == (64, 64) and image.mode == "RGB"
    assert outside_diff(image, scene, right_mask) <= 1
    inside = np.abs(np.asarray(image).astype(int) - scene.astype(int))[right_mask].mean()
    assert inside > 5  # the masked part was regenerated


def test_both_side_by_side_use_the_same_seed(inpaint_manager, scene, right_mask):
    both = run(inpaint_manager, scene, right_mask, method=Method.BOTH.label)
    assert both.labels == [Method.REPLACE.short, Method.INPAINT_MODEL.short]
    a = run(inpaint_manager, scene, right_mask, method=Method.REPLACE.label)
    b = run(inpaint_manager, scene, right_mask, method=Method.INPAINT_MODEL.label)
    assert np.array_equal(np.asarray(both.images[0]), np.asarray(a.images[0]))
    assert np.array_equal(np.asarray(both.images[1]), np.asarray(b.images[0]))
    assert both.request.inpaint_model == "tiny-sd-inpaint"
    assert "Seed: 7" in both.parameters[0] and "Seed: 7" in both.parameters[1]
    assert read_parameters(both.images[1]) == both.parameters[1]


def test_same_seed_same_image_and_other_seed_differs(inpaint_manager, scene, right_mask):
    first = np.asarray(run(inpaint_manager, scene, right_mask).images[0])
    again = np.asarray(run(inpaint_manager, scene, right_mask).images[0])
    other = np.asarray(run(inpaint_manager, scene, right_mask, seed=8).images[0])
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ 2M"])
def test_partial_strength_with_other_samplers_keeps_outside(inpaint_manager, scene, right_mask, sampler):
    result = run(inpaint_manager, scene, right_mask, sampler=sampler, denoising_strength=0.5, steps=4, cfg_scale=1.0)
    assert outside_diff(result.images[0], scene, right_mask) <= 1


@pytest.mark.parametrize("sampler", ["DDIM", "Euler", "DPM++ 2M"])
def test_resampling_redraws_the_first_half_of_the_steps_and_keeps_outside(inpaint_manager, scene, right_mask, sampler):
    unet = inpaint_manager.request_pipeline("tiny-sd", TXT2IMG, Sampler.from_label(sampler)).unet
    calls = []
    hook = unet.register_forward_hook(lambda *_: calls.append(1))
    try:
        once = run(inpaint_manager, scene, right_mask, sampler=sampler, steps=4, resample=1)
        plain_calls = len(calls)
        thrice = run(inpaint_manager, scene, right_mask, sampler=sampler, steps=4, resample=3)
    finally:
        hook.remove()
    assert plain_calls == 4 and len(calls) - plain_calls == 2 * 3 + 2  # steps 1-2 three times, steps 3-4 once
    assert outside_diff(thrice.images[0], scene, right_mask) <= 1
    assert not np.array_equal(np.asarray(once.images[0]), np.asarray(thrice.images[0]))
    assert "Resample passes: 3" in thrice.parameters[0] and "Resample" not in once.parameters[0]


def test_feather_blends_only_near_the_edge(inpaint_manager, scene, right_mask):
    result = run(inpaint_manager, scene, right_mask, mask_blur=3)
    weight = np.asarray(result.mask)
    assert weight[right_mask].min() == 255  # all of the drawn mask is regenerated
    far = np.ones_like(right_mask)
    far[14:50, 30:64] = False  # more than 4 px from the mask
    assert weight[far].max() == 0
    assert 0 < weight[32, 32] < 255  # 2 px outside: blended
    assert np.abs(np.asarray(result.images[0]).astype(int) - scene.astype(int))[far].max() <= 1


@pytest.mark.parametrize("method", [Method.REPLACE, Method.INPAINT_MODEL])
def test_only_masked_area_at_full_resolution(inpaint_manager, method):
    # A 200x120 image (not a multiple of 8): only the padded box around the mask is worked on, at 64x64.
    image = np.full((120, 200, 3), 230, np.uint8)
    image[:, :100] = (40, 80, 225)
    mask = np.zeros((120, 200), bool)
    mask[50:70, 140:170] = True
    result = run(inpaint_manager, image, mask, method=method.label, only_masked=True, only_masked_padding=8)
    assert result.images[0].size == (200, 120)
    left, top, right, bottom = result.crop_box
    assert right - left == bottom - top  # the model's square native aspect
    assert left <= 140 - 8 and right >= 170 + 8 and top <= 50 - 8 and bottom >= 70 + 8
    assert outside_diff(result.images[0], image, mask) <= 1


def test_outpainting_extends_the_canvas_and_keeps_the_original(inpaint_manager, scene):
    mask = np.zeros((64, 64), bool)  # nothing painted: only the new area is generated
    result = run(inpaint_manager, scene, mask, outpaint_right=32, outpaint_top=8)
    out = np.asarray(result.images[0])
    assert out.shape == (72, 96, 3)
    assert np.abs(out[8:, :64].astype(int) - scene.astype(int)).max() <= 1
    assert np.asarray(result.mask)[8:, :64].max() == 0 and np.asarray(result.mask)[:, 64:].min() == 255
    assert "Size: 96x72" in result.parameters[0]


def test_full_mask_is_text_to_image_and_says_so(inpaint_manager, scene):
    result = run(inpaint_manager, scene, np.ones((64, 64), bool))
    assert any("text-to-image" in note for note in result.notes)


def test_stop_ends_early(inpaint_manager, scene, right_mask):
    stop = threading.Event()
    steps = []

    def on_step(info):
        steps.append(info.step)
        stop.set()

    result = inpaint(
        inpaint_manager,
        InpaintRequest("a red circle", scene, right_mask, steps=10, seed=1, sampler="DDIM"),
        on_step=on_step,
        stop=stop,
    )
    assert result.stopped_at == 1 and steps == [1]
    assert outside_diff(result.images[0], scene, right_mask) <= 1


# --------------------------------------------------------------------- image modes
def test_rgba_grayscale_16bit_and_cmyk_are_converted(inpaint_manager, scene, right_mask):
    rgba = Image.fromarray(scene).convert("RGBA")
    alpha = np.full((64, 64), 255, np.uint8)
    alpha[:4, :4] = 0
    rgba.putalpha(Image.fromarray(alpha))
    result = run(inpaint_manager, rgba, right_mask)
    assert any("white" in n for n in result.notes)
    out = np.asarray(result.images[0])
    assert out[0, 0].tolist() == [255, 255, 255] and out.shape == (64, 64, 3)

    gray = Image.fromarray(scene).convert("L")
    assert (
        outside_diff(run(inpaint_manager, gray, right_mask).images[0], np.asarray(gray.convert("RGB")), right_mask)
        <= 1
    )

    sixteen = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    assert sixteen.mode == "I;16"
    result = run(inpaint_manager, sixteen, right_mask)
    assert any("16-bit" in n for n in result.notes)
    assert outside_diff(result.images[0], np.asarray(gray.convert("RGB")), right_mask) <= 1

    cmyk = Image.fromarray(scene).convert("CMYK")
    result = run(inpaint_manager, cmyk, right_mask)
    assert any("CMYK" in n for n in result.notes)
    assert outside_diff(result.images[0], np.asarray(cmyk.convert("RGB")), right_mask) <= 1


def test_editor_layer_mask_uses_alpha(inpaint_manager, scene, right_mask):
    layer = np.zeros((64, 64, 4), np.uint8)
    layer[right_mask] = (0, 0, 0, 255)  # a black brush: colour says nothing, alpha says everything
    result = run(inpaint_manager, scene, layer)
    assert np.array_equal(np.asarray(result.mask) > 0, right_mask)


# --------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "image, mask, kwargs, message",
    [
        ("scene", np.zeros((64, 64), bool), {}, "`mask` is empty"),
        ("scene", np.ones((32, 64), bool), {}, "`mask` size 64x32 differs from `image` size 64x64"),
        (
            np.zeros((60, 60, 3), np.uint8),
            np.ones((60, 60), bool),
            {},
            "must be divisible by 8 for tiny-sd, got 60x60",
        ),
        ("scene", "right", {"outpaint_left": 4}, "got 68x64 after outpainting"),
        (np.zeros((136, 136, 3), np.uint8), np.ones((136, 136), bool), {}, "at most 16384 pixels for tiny-sd"),
        ("scene", "right", {"denoising_strength": 0.0}, "`denoising_strength` must be greater than 0"),
        ("scene", "right", {"denoising_strength": 0.1, "steps": 3}, "leaves no denoising step"),
        ("scene", "right", {"mask_blur": -1}, "`mask_blur` must be an integer from 0 to 64, got -1"),
        ("scene", "right", {"resample": 0}, "`resample` must be an integer from 1 to 10, got 0"),
        ("scene", "right", {"resample": 2.5}, "`resample` must be an integer from 1 to 10, got 2.5"),
        ("scene", "right", {"outpaint_right": 10_000}, "`outpaint_right` must be an integer from 0 to 512"),
        ("scene", "right", {"method": "magic"}, "`method` must be one of"),
        ("scene", "right", {"inpaint_model": "tiny-sd", "method": Method.INPAINT_MODEL.label}, "not an inpainting"),
        ("scene", "right", {"steps": 0}, "`steps` must be an integer from 1 to 150, got 0"),
        (None, "right", {}, "`image` is missing"),
        ("scene", None, {}, "`mask` is missing"),
        (np.zeros((64, 64, 3), np.float32), "right", {}, "`image` must be a uint8 or uint16 array, got dtype float32"),
    ],
)
def test_bad_input_gets_a_clear_message(inpaint_manager, scene, right_mask, image, mask, kwargs, message):
    image = scene if isinstance(image, str) else image
    mask = right_mask if isinstance(mask, str) else mask
    with pytest.raises(ValueError) as error:
        run(inpaint_manager, image, mask, **kwargs)
    assert message in str(error.value)


def test_huge_image_is_refused_before_any_work(inpaint_manager):
    huge = Image.new("RGB", (5000, 4000))
    with pytest.raises(ValueError, match=r"`image` must have at most 16777216 pixels, got 5000x4000"):
        run(inpaint_manager, huge, np.ones((4000, 5000), bool))


def test_without_an_inpainting_model_method_b_says_what_to_do(tiny_folder, scene, right_mask):
    manager = PipelineManager(
        ManagerConfig(models_dir=tiny_folder.parent, device="cpu", offline=True, include_hub=False)
    )
    with pytest.raises(ValueError, match="needs an inpainting model"):
        run(manager, scene, right_mask, method=Method.BOTH.label)
