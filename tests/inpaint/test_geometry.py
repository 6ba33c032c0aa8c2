"""Mask geometry without a model: crop box, outpainting, feather, paste-back, mask reading."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pipelines.masks import crop_box, feather, mask_from_layers, normalise_mask, outpaint, paste_back, resize_mask


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(8, 300),
    height=st.integers(8, 300),
    data=st.data(),
    padding=st.integers(0, 64),
)
def test_crop_box_holds_the_padded_mask_is_square_when_it_fits_and_stays_inside(width, height, data, padding):
    x0 = data.draw(st.integers(0, width - 1))
    y0 = data.draw(st.integers(0, height - 1))
    x1 = data.draw(st.integers(x0 + 1, width))
    y1 = data.draw(st.integers(y0 + 1, height))
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    left, top, right, bottom = crop_box(mask, padding)
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    assert left <= max(x0 - padding, 0) and right >= min(x1 + padding, width)
    assert top <= max(y0 - padding, 0) and bottom >= min(y1 + padding, height)
    side = max(min(x1 + padding, width) - max(x0 - padding, 0), min(y1 + padding, height) - max(y0 - padding, 0))
    if side <= min(width, height):
        assert right - left == bottom - top == side


def test_crop_box_is_centred_on_the_mask_and_shifted_in_at_borders():
    mask = np.zeros((100, 100), bool)
    mask[40:50, 40:60] = True
    assert crop_box(mask, 5) == (35, 30, 65, 60)
    mask = np.zeros((100, 100), bool)
    mask[0:4, 90:100] = True
    assert crop_box(mask, 2) == (88, 0, 100, 12)


@given(left=st.integers(0, 40), right=st.integers(0, 40), top=st.integers(0, 40), bottom=st.integers(0, 40))
@settings(max_examples=50, deadline=None)
def test_outpaint_sizes_and_masks(left, right, top, bottom):
    image = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    mask = np.zeros((24, 32), bool)
    canvas, new_mask = outpaint(image, mask, left, right, top, bottom)
    assert canvas.shape == (24 + top + bottom, 32 + left + right, 3)
    assert np.array_equal(canvas[top : top + 24, left : left + 32], image)
    assert new_mask.sum() == canvas.shape[0] * canvas.shape[1] - 24 * 32
    assert not new_mask[top : top + 24, left : left + 32].any()


def test_feather_zero_is_the_binary_mask_and_radius_ramps():
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    assert np.array_equal(feather(mask, 0), mask.astype(np.float32))
    soft = feather(mask, 4)
    assert soft[mask].min() == 1.0 and soft[0, 0] == 0.0 and 0 < soft[16, 6] < 1 and soft[16, 2] == 0


def test_paste_back_is_exact_where_the_weight_is_zero():
    rng = np.random.default_rng(1)
    original = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    weight = np.zeros((16, 16), np.float32)
    weight[4:8, 4:8] = 1
    weight[8, 4:8] = 0.5
    out = paste_back(original, generated, weight)
    assert np.array_equal(out[weight == 0], original[weight == 0])
    assert np.array_equal(out[weight == 1], generated[weight == 1])


def test_masks_from_editor_layers_and_images():
    layer = np.zeros((8, 8, 4), np.uint8)
    layer[2:4, 2:4, 3] = 255
    layer[5, 5, 3] = 60  # anti-aliased fringe below half: not masked
    assert normalise_mask(layer).sum() == 4
    assert normalise_mask(Image.fromarray(layer, "RGBA")).sum() == 4
    assert normalise_mask(Image.fromarray(layer[..., 3], "L")).sum() == 4
    assert normalise_mask(np.array([[0.0, 0.9]])).tolist() == [[False, True]]


def test_resize_mask_to_the_image_size():
    mask = np.zeros((10, 20), bool)
    mask[:, 10:] = True
    resized = resize_mask(mask, (40, 20))
    assert resized.shape == (20, 40) and resized.dtype == bool
    assert resized[:, 21:].all() and not resized[:, :19].any()


def test_editor_layers_are_united_and_resized_to_the_image():
    small = np.zeros((32, 32, 4), np.uint8)  # a layer at half the image's resolution
    small[:, 16:, 3] = 255
    other = np.zeros((64, 64, 4), np.uint8)
    other[:8, :8, 3] = 200
    mask = mask_from_layers([small, None, other], (64, 64))
    assert mask.shape == (64, 64)
    assert mask[:, 32:].all() and mask[:8, :8].all() and not mask[20:, :30].any()
    assert not mask_from_layers([], (10, 6)).any() and mask_from_layers(None, (10, 6)).shape == (6, 10)
