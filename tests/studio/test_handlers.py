"""Each tab's handler called as a plain function, without a server (hysts' model.py / app.py split).

The handlers live at module level with the manager and the Stop flags as their first arguments; these tests drive
them with the tiny random model (and the bundled unCLIP model for that tab) and read what the browser would get.
"""

from __future__ import annotations

import inspect
import threading

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.text_to_image import TextToImageRequest, text_to_image
from studio import guidance_lab_tab, inpaint_tab, paint_with_words_tab, text_to_image_tab, unclip_tab
from studio.runner import bind, run_action
from studio.sessions import StopFlags


class Tracker:
    """Stands in for the event's `gr.Progress`: records what the handler reported."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, progress, desc=None, unit=None, **_):
        self.calls.append((progress, desc))


def last(generator):
    """The handler's final outputs (the values the browser keeps), and every output before them."""
    outputs = list(generator)
    return outputs[-1], outputs[:-1]


def test_text_to_image_handler_gives_images_seed_status_and_parameters(shared_manager):
    tracker = Tracker()
    (gallery, seed, status, parameters), previews = last(
        text_to_image_tab.generate(
            shared_manager, StopFlags(), "a red circle", model="tiny-sd", steps=4, seed=12, progress=tracker
        )
    )
    assert seed == 12 and len(gallery) == 1 and "Steps: 4" in parameters and "seed 12" in status
    assert gallery[0][0].size == (64, 64) and status.startswith("1 image(s) in")
    assert [p for p, _ in tracker.calls if p is not None][-1] == (4, 4)  # every step reached the progress bar
    assert previews and previews[0][2].startswith("Step 2/4")  # a live preview before the result


def test_a_bad_value_is_a_message_not_a_crash(shared_manager):
    with pytest.raises(gr.Error, match="`steps` must be an integer from 1 to 150, got 0"):
        last(text_to_image_tab.generate(shared_manager, StopFlags(), "a red circle", steps=0, progress=Tracker()))
    with pytest.raises(gr.Error, match="`prompt` is empty"):
        last(text_to_image_tab.generate(shared_manager, StopFlags(), "  ", progress=Tracker()))


def test_stop_flags_end_the_run_within_a_step(shared_manager):
    stop_flags = StopFlags()

    def stopped_at_step_2(manager, request, *, on_step, stop, preview_every):
        def watch(info):
            on_step(info)
            if info.step == 2:
                stop_flags.stop("anonymous")  # what the session's Stop button does

        return text_to_image(manager, request, on_step=watch, stop=stop, preview_every=preview_every)

    request = TextToImageRequest("a red circle", model="tiny-sd", steps=10, seed=1)
    runner = run_action(stopped_at_step_2, request, shared_manager, stop_flags, None, Tracker())
    with pytest.raises(StopIteration) as done:
        while True:
            next(runner)
    finished = done.value.value
    assert finished.result.stopped_at == 2 and finished.total == 10
    assert finished.status("done", " (partly denoised)") == "Stopped at step 2/10 (partly denoised)"
    assert len(stop_flags) == 0  # the run's flag is forgotten when it ends


def test_lab_handler_streams_cells_then_the_grid(shared_manager):
    (cells, status, grid), streamed = last(
        guidance_lab_tab.run(
            shared_manager,
            StopFlags(),
            "a red circle",
            model="tiny-sd",
            methods=["No guidance", "Classifier-free"],
            strengths="2, 5",
            steps=2,
            seed=3,
            progress=Tracker(),
        )
    )
    assert status.startswith("Done: 4 cells · seed 3") and isinstance(grid, Image.Image)
    assert len(cells) == 3  # "No guidance" ignores the strength: one cell for its row
    assert streamed and streamed[0][1].endswith("cells so far")


def test_lab_handler_reads_guidance_intervals_into_rows(shared_manager):
    (cells, status, grid), _ = last(
        guidance_lab_tab.run(
            shared_manager,
            StopFlags(),
            "a red circle",
            model="tiny-sd",
            methods=["Classifier-free"],
            strengths="5",
            steps=2,
            seed=3,
            intervals="0-1, 0.5-1",
            progress=Tracker(),
        )
    )
    assert status.startswith("Done: 2 cells")
    assert [caption.split(" — ")[0] for _, caption in cells] == [
        "Classifier-free · 5",
        "Classifier-free, guidance on 50%–100% of steps · 5",
    ]
    with pytest.raises(gr.Error, match="`intervals` must be ranges of the steps"):
        last(guidance_lab_tab.run(shared_manager, StopFlags(), "a red circle", intervals="late", progress=Tracker()))


def test_inpaint_handler_keeps_outside_and_explains_the_crop(shared_manager):
    image = np.full((136, 136, 4), 255, np.uint8)  # more pixels than tiny-sd takes whole → the crop policy
    layer = np.zeros((136, 136, 4), np.uint8)
    layer[40:80, 40:80, 3] = 255
    editor = {"background": image, "layers": [layer], "composite": image}
    (gallery, seed, status, parameters, preview), _ = last(
        inpaint_tab.generate(
            shared_manager,
            StopFlags(),
            editor,
            "a red circle",
            method="Any model (replace known region)",
            model="tiny-sd",
            steps=2,
            seed=5,
            resample=1,
            progress=Tracker(),
        )
    )
    assert seed == 5 and "'Only the masked area' was used" in status
    out = np.asarray(gallery[0][0])
    outside = np.ones((136, 136), bool)
    outside[40:80, 40:80] = False
    assert out.shape == (136, 136, 3) and (out[outside] == 255).all()
    assert preview.shape[0] >= 136 and "Inpaint area: Only masked" in parameters


def test_inpaint_handler_needs_a_mask(shared_manager):
    image = np.full((64, 64, 4), 255, np.uint8)
    editor = {"background": image, "layers": [], "composite": image}
    with pytest.raises(gr.Error, match="`mask` is empty"):
        last(inpaint_tab.generate(shared_manager, StopFlags(), editor, "a red circle", steps=2, progress=Tracker()))


def test_paint_with_words_handler_reports_the_regions(shared_manager):
    layout = paint_with_words_tab.example_layout(64)
    editor = {"background": None, "layers": [layout], "composite": layout}
    rows = [["red", "red circle", 1.0], ["blue", "blue square", 1.0]]
    (image, region_map, status, seed, parameters), _ = last(
        paint_with_words_tab.generate(
            shared_manager,
            StopFlags(),
            "a red circle above a blue square",
            editor,
            rows,
            paint_weight=0.3,
            model="tiny-sd",
            steps=2,
            seed=4,
            progress=Tracker(),
        )
    )
    assert seed == 4 and status.startswith("Done in") and "red → “red circle”" in status
    assert image.size == (64, 64) and region_map.size == (64, 64) and "Paint with words" in parameters


@pytest.fixture(scope="module")
def bundled_manager():
    return PipelineManager(ManagerConfig(device="cpu", offline=True, include_hub=False))


def test_unclip_variations_handler(bundled_manager):
    picture = unclip_tab.example_image("a large red circle in the center", 0)
    (gallery, status, seed), _ = last(
        unclip_tab.make_variations(bundled_manager, StopFlags(), picture, count=2, seed=7, steps=2, progress=Tracker())
    )
    assert seed == 7 and [label for _, label in gallery] == ["seed 7", "seed 8"]
    assert status.startswith("Done in") and "seeds 7–8" in status


def test_bound_handlers_keep_their_api_names_docs_and_request():
    stop_flags = StopFlags()
    bound = bind(text_to_image_tab.generate, object(), stop_flags)
    names = list(inspect.signature(bound).parameters)
    assert names[:3] == ["prompt", "negative_prompt", "model"] and "manager" not in names
    assert bound.__doc__.startswith("Draws images from a text prompt") and inspect.isgeneratorfunction(bound)
    # The docstring's `{steps}` is the limits table's range, so help texts follow the table.
    assert "{steps}" in text_to_image_tab.generate.__doc__ and "steps, 1 to 150" in bound.__doc__
    from gradio.utils import get_type_hints

    assert get_type_hints(bound)["request"] is gr.Request  # so Gradio fills in the session (Stop needs it)
    stopped = threading.Event()
    assert bind(lambda flags, x: (flags, x), stopped)(1) == (stopped, 1)


def test_upscale_handler_takes_gallery_items_and_explains_what_it_cannot_do(shared_manager):
    from studio import upscale_panel

    picture = Image.new("RGB", (16, 16), (200, 30, 30))
    with pytest.raises(gr.Error, match="needs a download from the Hugging Face Hub"):  # offline, Hub presets only
        last(upscale_panel.run(shared_manager, StopFlags(), [(picture, "caption")], progress=Tracker()))
    with pytest.raises(gr.Error, match="`images` is empty"):
        last(upscale_panel.run(shared_manager, StopFlags(), [], upscaler="SD x4 upscaler", progress=Tracker()))
    with pytest.raises(gr.Error, match="needs a download"):  # one image (paint with words' result), not a gallery
        last(upscale_panel.run(shared_manager, StopFlags(), picture, upscaler="SD x4 upscaler", progress=Tracker()))


def test_every_tab_with_results_offers_to_upscale_them_and_only_one_panel_is_the_api():
    from studio import build_app

    demo = build_app(PipelineManager(ManagerConfig()))
    ids = {block.elem_id for block in demo.blocks.values()}
    for prefix in ("txt2img", "inpaint", "pww", "unclip-var", "unclip-diff"):
        assert f"{prefix}-upscale-panel" in ids, prefix
    public = [d for d in demo.fns.values() if d.api_name == "upscale" and d.api_visibility == "public"]
    assert len(public) == 1


def test_a_bundled_model_released_before_the_counting_words_warns_about_them():
    import warnings

    from pipelines.models import ModelEntry
    from studio.runner import warn_unknown_words

    entry = ModelEntry("shapes-unclip", "assets/models/shapes-unclip", "bundled", vocabulary="shapes")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_unknown_words(entry, "two red circles")
        warn_unknown_words(entry, "a red circle above a blue box")  # words it was trained on: no warning
    assert [str(w.message) for w in caught] == [
        "shapes-unclip does not know: two, circles. It knows only the shapes words it was trained on."
    ]
