"""ZeroGPU: every action of every tab runs inside one `@spaces.GPU` function whose duration grows with the work."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import studio.runner as runner
from pipelines.cost import MAX_SECONDS, estimate_seconds, unet_evaluations
from pipelines.guidance.grid import GuidanceGridRequest
from pipelines.inpaint import InpaintRequest, Method
from pipelines.manager import ZEROGPU_BUDGET, ManagerConfig, PipelineManager
from pipelines.text_to_image import TextToImageRequest
from pipelines.unclip import InterpolationRequest, VariationsRequest
from studio import guidance_lab_tab, inpaint_tab, paint_with_words_tab, text_to_image_tab
from studio.sessions import StopFlags


def test_the_job_function_is_decorated_with_a_duration():
    pytest.importorskip("spaces")
    assert runner.gpu_job.zerogpu_duration is runner.job_seconds


def test_every_tab_action_runs_through_the_gpu_function(shared_manager, monkeypatch):
    called = []
    real = runner.gpu_job

    def spy(action, manager, request, stop, preview_every):
        called.append(action.__name__)
        called.append(runner.job_seconds(action, manager, request, stop, preview_every))
        yield from real(action, manager, request, stop, preview_every)

    monkeypatch.setattr(runner, "gpu_job", spy)
    run = {"manager": shared_manager, "stop_flags": StopFlags(), "progress": lambda *a, **k: None}
    image = np.full((64, 64, 4), 255, np.uint8)
    mask = np.zeros((64, 64, 4), np.uint8)
    mask[16:40, 16:40, 3] = 255
    layout = paint_with_words_tab.example_layout(64)
    list(text_to_image_tab.generate(prompt="a red circle", model="tiny-sd", steps=2, **run))
    list(
        guidance_lab_tab.run(
            prompt="a red circle", model="tiny-sd", methods=["Classifier-free"], strengths="3", steps=2, **run
        )
    )
    list(
        inpaint_tab.generate(
            editor={"background": image, "layers": [mask], "composite": image},
            prompt="a red circle",
            model="tiny-sd",
            steps=2,
            resample=1,
            **run,
        )
    )
    list(
        paint_with_words_tab.generate(
            prompt="a red circle",
            layout={"layers": [layout]},
            regions=[["red", "red circle", 1.0]],
            model="tiny-sd",
            steps=2,
            **run,
        )
    )
    actions = called[::2]
    assert actions == ["text_to_image", "guidance_grid", "inpaint", "paint_with_words"]
    assert all(isinstance(seconds, int) and seconds > 0 for seconds in called[1::2])


def test_durations_grow_with_steps_size_batch_and_method():
    base = TextToImageRequest("a cat", steps=30, width=1024, height=1024)
    seconds = estimate_seconds(base, 1024)
    assert estimate_seconds(replace(base, steps=60), 1024) > seconds
    assert estimate_seconds(replace(base, batch_size=4), 1024) > seconds
    assert estimate_seconds(replace(base, width=512, height=512), 1024) < seconds
    assert estimate_seconds(replace(base, width=None, height=None), 512) < seconds  # the model's native size
    assert unet_evaluations(replace(base, cfg_scale=1.0)) < unet_evaluations(base)  # no unconditional pass
    one = InpaintRequest("a cat", method=Method.REPLACE.label, resample=1)
    assert unet_evaluations(replace(one, method=Method.BOTH.label)) > unet_evaluations(one)
    assert unet_evaluations(replace(one, resample=8)) > unet_evaluations(one)
    grid = GuidanceGridRequest("a cat", methods=("Classifier-free",), strengths=(3.0,))
    assert unet_evaluations(replace(grid, strengths=(3.0, 5.0, 7.5))) == 3 * unet_evaluations(grid)
    assert unet_evaluations(VariationsRequest(None, count=8)) > unet_evaluations(VariationsRequest(None, count=2))
    assert unet_evaluations(InterpolationRequest(None, None, frames=16)) > unet_evaluations(
        InterpolationRequest(None, None, frames=4)
    )
    assert estimate_seconds(replace(base, steps=150, batch_size=8), 1024) == MAX_SECONDS  # capped


def test_zerogpu_manager_puts_models_on_cuda_without_asking_for_free_memory(models_dir):
    manager = PipelineManager(ManagerConfig(models_dir=models_dir, zerogpu=True))
    assert manager.device.type == "cuda" and manager.memory_budget == ZEROGPU_BUDGET
