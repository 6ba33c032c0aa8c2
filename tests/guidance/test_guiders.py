"""Each lab row built on a diffusers guider is that guider applied in the plain pipeline's own loop, bit for bit.

The reference runs `StableDiffusionPipeline.__call__` (its latents, scheduler steps and decoding) with guidance off,
and at every UNet call hands the step to a fresh guider of the same row: the passes it asks for are computed as the
pipelines compute them (ε(∅) and ε(c) in one batch, ∅ first; a perturbed pass alone, with the guider's hooks on),
and the guider's `forward` gives the prediction the scheduler steps with. Which pass is perturbed is read from the
pass's name here (the lab reads it from the hooks), so the two sides do not share that decision.
"""

from __future__ import annotations

import diffusers.guiders
import numpy as np
import pytest
import torch

from pipelines.guidance import GuidanceMethod
from pipelines.guidance.guiders import build_guider, why_not_on
from pipelines.guidance.lab import Cell, render_cells

PROMPT, SEED, STEPS = "a red circle", 7, 6
# The passes whose UNet a guider changes, by the names diffusers gives them.
PERTURBED = {"pred_cond_skip", "pred_cond_seg"}
DIFFUSERS_ROWS = [m for m in GuidanceMethod if m not in (GuidanceMethod.CLIP, GuidanceMethod.STATIC_THRESHOLD)]
DIFFUSERS_ROWS = [m for m in DIFFUSERS_ROWS if m is not GuidanceMethod.DYNAMIC_THRESHOLD]  # ours, with x̂0 context


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from diffusers import StableDiffusionPipeline

    from pipelines.testing import build_tiny_sd_folder

    folder = build_tiny_sd_folder(tmp_path_factory.mktemp("guiders") / "tiny")
    return StableDiffusionPipeline.from_pretrained(folder, use_safetensors=True, local_files_only=True)


def _fresh_scheduler(pipe):
    pipe.scheduler = diffusers.DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)


def _reference(pipe, guider, method: GuidanceMethod) -> np.ndarray:
    """The plain pipeline call, with `guider` combining the passes at each step."""
    unet = pipe.unet
    cond, empty = pipe.encode_prompt(PROMPT, pipe.device, 1, True, None)
    original = unet.forward
    calls = {"step": 0}

    def guided_forward(sample, timestep, encoder_hidden_states=None, **kwargs):
        guider.set_state(step=calls["step"], num_inference_steps=STEPS, timestep=timestep)
        calls["step"] += 1
        batches = guider.prepare_inputs({"text": ("cond", "empty")})
        embeds = {"cond": cond, "empty": empty}
        plain = []
        for batch in batches:
            guider.prepare_models(unet)
            perturbed = getattr(batch, guider._identifier_key) in PERTURBED or (
                method is GuidanceMethod.AUTOGUIDANCE and batch.text == "empty"
            )
            if perturbed:
                batch.noise_pred = original(sample, timestep, encoder_hidden_states=embeds[batch.text], **kwargs)[0]
            else:
                plain.append(batch)
            guider.cleanup_models(unet)
        plain.sort(key=lambda b: b.text == "cond")
        if plain:
            out = original(
                torch.cat([sample] * len(plain)),
                timestep,
                encoder_hidden_states=torch.cat([embeds[b.text] for b in plain]),
                **kwargs,
            )[0]
            for k, batch in enumerate(plain):
                batch.noise_pred = out[k : k + 1]
        return (guider(batches).pred,)

    unet.forward = guided_forward
    try:
        image = pipe(
            PROMPT, num_inference_steps=STEPS, guidance_scale=1.0, generator=[torch.Generator().manual_seed(SEED)]
        ).images[0]
    finally:
        unet.forward = original
    return np.asarray(image)


@pytest.mark.parametrize("method", DIFFUSERS_ROWS, ids=[m.name for m in DIFFUSERS_ROWS])
def test_each_diffusers_guider_cell_is_that_guider_in_the_pipeline_loop(pipe, method):
    assert why_not_on(method, pipe.unet) is None
    strength, start, stop = 5.0, 0.0, 1.0
    if method is GuidanceMethod.CFG:
        start, stop = 0.2, 0.8  # the interval is the guider's too
    _fresh_scheduler(pipe)
    reference = _reference(pipe, build_guider(method, strength, start, stop), method)
    _fresh_scheduler(pipe)
    (cell,) = render_cells(pipe, [Cell(method, strength, start, stop)], PROMPT, "", SEED, STEPS, 64, 64)
    assert np.array_equal(reference, np.asarray(cell.image))


def test_rows_differ_from_plain_cfg_where_their_method_acts(pipe):
    """Every row changes the picture (the perturbed passes really are perturbed, SEG's blur included). 12 steps:
    SLG acts from 1 % to 20 % of the steps (steps 0 < i < 2 here) and APG mix switches to APG at step 5."""
    methods = [GuidanceMethod.CFG, *[m for m in DIFFUSERS_ROWS if m not in (GuidanceMethod.CFG, GuidanceMethod.NONE)]]
    methods = [m for m in methods if m is not GuidanceMethod.NEGATIVE_PROMPT]  # the same as CFG with no negative
    _fresh_scheduler(pipe)
    results = render_cells(pipe, [Cell(m, 5.0) for m in methods], PROMPT, "", SEED, 12, 64, 64)
    cfg = np.asarray(results[0].image)
    same = [r.cell.method.name for r in results[1:] if np.array_equal(cfg, np.asarray(r.image))]
    assert same == [], same


def test_diffusers_own_seg_never_blurs_which_the_lab_fixes(pipe):
    """diffusers 0.42's SmoothedEnergyGuidance does not count its passes, so it never hooks the UNet: its output is
    plain CFG. The lab's subclass counts them (if diffusers fixes this, drop the subclass)."""
    from pipelines.guidance.methods import METHODS

    spec = METHODS[GuidanceMethod.SMOOTHED_ENERGY]
    upstream = diffusers.guiders.SmoothedEnergyGuidance(**spec.settings, guidance_scale=5.0)
    ours = build_guider(GuidanceMethod.SMOOTHED_ENERGY, 5.0)
    _fresh_scheduler(pipe)
    with_upstream = _reference(pipe, upstream, GuidanceMethod.SMOOTHED_ENERGY)
    _fresh_scheduler(pipe)
    with_ours = _reference(pipe, ours, GuidanceMethod.SMOOTHED_ENERGY)
    _fresh_scheduler(pipe)
    cfg = _reference(pipe, build_guider(GuidanceMethod.CFG, 5.0), GuidanceMethod.CFG)
    assert np.array_equal(with_upstream, cfg)
    assert not np.array_equal(with_ours, cfg)


def test_a_guidance_interval_is_plain_conditional_sampling_outside_it(pipe):
    _fresh_scheduler(pipe)
    cells = [Cell(GuidanceMethod.CFG, 5.0, 0.5, 0.5), Cell(GuidanceMethod.NONE, 5.0), Cell(GuidanceMethod.CFG, 5.0)]
    empty_interval, none, full = (
        np.asarray(r.image) for r in render_cells(pipe, cells, PROMPT, "", SEED, STEPS, 64, 64)
    )
    assert np.array_equal(empty_interval, none)
    assert not np.array_equal(full, none)
