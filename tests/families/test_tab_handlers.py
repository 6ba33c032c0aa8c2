"""The tabs' handlers on the families beyond SD 1.x: what the pickers list, and a refused model as a message."""

import gradio as gr
import pytest

from studio import guidance_lab_tab, inpaint_tab
from studio.sessions import StopFlags


class Tracker:
    def __call__(self, *args, **kwargs):
        pass


def test_the_lab_handler_draws_a_grid_on_sdxl(families_manager):
    outputs = list(
        guidance_lab_tab.run(
            families_manager,
            StopFlags(),
            "a red circle",
            model="tiny-sdxl",
            methods=["Classifier-free", "CFG-Zero*"],
            strengths="3",
            steps=2,
            seed=3,
            progress=Tracker(),
        )
    )
    cells, status, grid = outputs[-1]
    assert status.startswith("Done: 2 cells") and grid.info["parameters"].count("tiny-sdxl") == 1


def test_the_lab_handler_refuses_kandinsky_with_the_reason_and_the_models_that_can(families_manager):
    with pytest.raises(gr.Error) as refused:
        list(
            guidance_lab_tab.run(
                families_manager, StopFlags(), "a red circle", model="tiny-kandinsky22", progress=Tracker()
            )
        )
    message = str(refused.value.message)
    assert "prior" in message and "tiny-sdxl" in message and "tiny-sd2" in message


@pytest.mark.parametrize(("base", "inpainter"), [("tiny-sdxl", "tiny-sdxl-inpaint"), ("tiny-sd", "tiny-sd-inpaint")])
def test_choosing_a_base_model_pairs_its_inpainting_model(families_manager, base, inpainter):
    assert inpaint_tab.pair_inpainter(families_manager, base) == inpainter
