"""Property-based checks of parameter validation at the pipelines level (fast: nothing is generated).

The rule everywhere: a request is either accepted with every field in range, or refused with a ValueError
that names the parameter — never another exception, never a silent fix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.guidance.grid import MAX_CELLS, GuidanceGridRequest, validate_grid
from pipelines.limits import LIMITS, MAX_SEED
from pipelines.masks import normalise_image
from pipelines.models import ModelEntry
from pipelines.paint_with_words import PaintWithWordsRequest, Region, validate_paint
from pipelines.samplers import Sampler
from pipelines.text_to_image import TextToImageRequest, validate
from studio.guidance_lab_tab import parse_strengths

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENTRY = ModelEntry("tiny", "/nonexistent", "bundled", native_size=64, max_pixels=128 * 128, size_multiple=8)

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 8, 64, 150, 151, MAX_SEED, MAX_SEED + 1, float("nan"), float("inf")]),
)
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


@PROPS
@given(
    prompt=texts,
    sampler=st.one_of(st.sampled_from(Sampler.labels()), texts),
    steps=numbers,
    cfg=numbers,
    seed=numbers,
    width=numbers,
    height=numbers,
    batch=numbers,
)
def test_text_to_image_request_is_accepted_in_range_or_refused_by_name(
    prompt, sampler, steps, cfg, seed, width, height, batch
):
    request = TextToImageRequest(
        prompt, sampler=sampler, steps=steps, cfg_scale=cfg, seed=seed, width=width, height=height, batch_size=batch
    )
    try:
        validate(request, ENTRY)
    except ValueError as e:
        assert str(e).startswith("`"), f"the message must name the parameter: {e}"
        return
    assert prompt.strip() and Sampler.from_label(sampler) is not Sampler.LCM
    assert isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps <= LIMITS["steps"].high
    assert math.isfinite(cfg) and 0 <= cfg <= 30
    assert isinstance(seed, int) and -1 <= seed <= MAX_SEED
    assert isinstance(batch, int) and 1 <= batch <= LIMITS["batch_size"].high
    assert width % 8 == 0 and height % 8 == 0 and 8 <= width and 8 <= height and width * height <= ENTRY.max_pixels


@PROPS
@given(label=texts)
def test_sampler_labels_resolve_or_list_the_choices(label):
    try:
        sampler = Sampler.from_label(label)
    except ValueError as e:
        assert "`sampler` must be one of" in str(e)
    else:
        assert sampler.label.lower() == label.strip().lower()


@PROPS
@given(text=texts)
def test_strength_text_parses_to_numbers_or_explains(text):
    try:
        values = parse_strengths(text)
    except ValueError as e:
        assert "`strengths` must be numbers" in str(e)
    else:
        assert all(isinstance(v, float) for v in values)


@PROPS
@given(
    methods=st.lists(st.sampled_from(["No guidance", "Classifier-free", "CFG-Zero*", "Bogus"]), max_size=5),
    strengths=st.lists(numbers, max_size=12),
)
def test_guidance_grid_cells_are_in_range_or_refused(methods, strengths):
    request = GuidanceGridRequest("a red circle", methods=tuple(methods), strengths=tuple(strengths))
    try:
        cells = validate_grid(request)
    except ValueError as e:
        assert "`" in str(e) or "at most" in str(e), str(e)
        return
    assert 1 <= len(cells) <= MAX_CELLS
    assert all(math.isfinite(s) and 0 <= s <= 30 for _, s in cells)


@PROPS
@given(paint_weight=numbers, weight=numbers)
def test_paint_with_words_weights_are_in_range_or_refused(paint_weight, weight):
    layout = np.zeros((8, 8, 4), np.uint8)
    regions = (Region("red", "red circle", weight),)
    request = PaintWithWordsRequest("a red circle", layout, regions, paint_weight=paint_weight)
    try:
        validate_paint(request)
    except ValueError as e:
        assert str(e).startswith("`"), str(e)
        return
    assert 0 <= paint_weight <= LIMITS["paint_weight"].high and 0 <= weight <= LIMITS["region_weight"].high


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.int64, bool]),
    shape=st.sampled_from(
        [(0, 0), (1, 1), (4, 4), (4, 4, 1), (4, 4, 2), (4, 4, 3), (4, 4, 4), (4, 4, 5), (2, 2, 2, 2)]
    ),
)
def test_any_array_becomes_rgb_uint8_or_a_named_error(dtype, shape):
    array = np.zeros(shape, dtype=dtype)
    try:
        rgb = normalise_image(array)
    except ValueError as e:
        assert "`image`" in str(e)
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_cfg_is_refused_by_name(value):
    with pytest.raises(ValueError, match="`cfg_scale` must be from 0 to 30"):
        validate(TextToImageRequest("a red circle", cfg_scale=value, width=64, height=64, seed=1), ENTRY)
