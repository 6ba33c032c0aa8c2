"""The lab's grid through the pipeline manager, on the tiny random model."""

import numpy as np
import pytest

from pipelines.guidance import GuidanceMethod
from pipelines.guidance.grid import GuidanceGridRequest, guidance_grid
from pipelines.png_info import read_parameters
from pipelines.text_to_image import TextToImageRequest, text_to_image


def test_a_one_cell_grid_is_bit_identical_to_txt2img(shared_manager):
    request = GuidanceGridRequest(
        prompt="a red circle", methods=(GuidanceMethod.CFG.label,), strengths=(6.0,), steps=5, seed=11
    )
    (cell,) = guidance_grid(shared_manager, request).outcomes
    (image,) = text_to_image(
        shared_manager, TextToImageRequest(prompt="a red circle", steps=5, cfg_scale=6.0, seed=11)
    ).images
    assert np.array_equal(np.asarray(cell.image), np.asarray(image))


def test_grid_streams_batches_and_labels_every_cell(shared_manager, monkeypatch):
    import pipelines.guidance.grid as grid

    monkeypatch.setattr(grid, "MAX_CELLS_PER_BATCH", 2)
    request = GuidanceGridRequest(
        prompt="a red circle",
        methods=(GuidanceMethod.NONE.label, GuidanceMethod.CFG.label, GuidanceMethod.STATIC_THRESHOLD.label),
        strengths=(2.0, 5.0),
        steps=3,
        seed=1,
    )
    progress, updates = [], []

    def on_step(info):
        progress.append((info.step, info.total))
        if info.partial is not None:
            updates.append(info.partial)

    result = guidance_grid(shared_manager, request, on_step=on_step)
    assert len(updates) == 2  # 3 renders (one for the whole "no guidance" row) in batches of 2
    outcomes = result.outcomes
    assert updates[-1] == outcomes
    assert [(o.method, o.strength) for o in outcomes] == [
        (m, s) for m in (GuidanceMethod.NONE, GuidanceMethod.CFG, GuidanceMethod.STATIC_THRESHOLD) for s in (2.0, 5.0)
    ]
    static = [o for o in outcomes if o.method is GuidanceMethod.STATIC_THRESHOLD]
    assert all(o.image is None and "latent" in o.note for o in static)  # never a silent no-op
    assert progress[-1] == (6, 6)
    assert "Guidance methods: No guidance | Classifier-free" in read_parameters(result.grid)
    assert result.stopped_at is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("methods", (), "at least one"),
        ("methods", ("Magic guidance",), "must be one of"),
        ("strengths", (), "at least one"),
        ("strengths", (float("nan"),), "from 0 to 30"),
        ("prompt", "  ", "prompt"),
    ],
)
def test_bad_grid_requests_say_what_is_wrong(shared_manager, field, value, message):
    request = GuidanceGridRequest(prompt="a red circle", steps=2)
    request = GuidanceGridRequest(**{**request.__dict__, field: value})
    with pytest.raises(ValueError, match=message):
        guidance_grid(shared_manager, request)


def test_stop_ends_the_grid_and_keeps_the_cells_already_rendered(shared_manager, monkeypatch):
    import threading

    import pipelines.guidance.grid as grid

    monkeypatch.setattr(grid, "MAX_CELLS_PER_BATCH", 1)
    stop = threading.Event()
    request = GuidanceGridRequest(
        prompt="a red circle", methods=(GuidanceMethod.CFG.label,), strengths=(2.0, 4.0, 6.0), steps=3
    )

    def on_step(info):
        if info.step == 3:  # the first batch (one cell) is done
            stop.set()

    result = guidance_grid(shared_manager, request, on_step=on_step, stop=stop)
    assert [o.strength for o in result.outcomes] == [2.0]
    assert result.stopped_at == 3


def test_rows_are_methods_at_each_guidance_interval(shared_manager):
    request = GuidanceGridRequest(
        prompt="a red circle",
        methods=(GuidanceMethod.NONE.label, GuidanceMethod.CFG.label),
        strengths=(6.0,),
        intervals=((0.0, 1.0), (0.5, 1.0)),
        steps=4,
        seed=3,
    )
    result = guidance_grid(shared_manager, request)
    labels = [o.label for o in result.outcomes]
    assert labels == ["No guidance · 6", "Classifier-free · 6", "Classifier-free, guidance on 50%–100% of steps · 6"]
    full, late = (np.asarray(o.image) for o in result.outcomes[1:])
    assert not np.array_equal(full, late)
    assert "Guidance intervals: 0-1, 0.5-1" in read_parameters(result.grid)


@pytest.mark.parametrize("interval", [(0.5, 0.5), (-0.1, 1.0), (0.2, 1.5), (float("nan"), 1.0), (0.3,)])
def test_bad_intervals_say_what_is_wrong(shared_manager, interval):
    request = GuidanceGridRequest(prompt="a red circle", steps=2, intervals=(interval,))
    with pytest.raises(ValueError, match="0 ≤ start < stop ≤ 1"):
        guidance_grid(shared_manager, request)
