"""The lab's rows, each checked against a direct reading of its paper's formula: the table's settings applied by the
guider it names (diffusers' or ours), one step at a time."""

import pytest
import torch

from pipelines.guidance import GuidanceMethod
from pipelines.guidance.context import StepContext
from pipelines.guidance.guiders import build_guider, why_not_on
from pipelines.guidance.thresholding import dynamic_threshold, mimic_threshold, static_threshold


def _context(latent=True, step=3):
    torch.manual_seed(0)
    return StepContext(x_t=torch.randn(1, 4, 8, 8), alpha_bar=0.5, step=step, num_steps=20, latent=latent)


def _predictions():
    torch.manual_seed(1)
    return torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)


def guide(method, strength, cond, uncond, context, guider=None, **extra):
    """One step of `method`'s guider at `context.step`: the prediction the sampler steps with."""
    guider = guider or build_guider(method, strength, **extra)
    guider.set_state(step=context.step, num_inference_steps=context.num_steps, timestep=torch.tensor(500))
    if hasattr(guider, "set_context"):
        guider.set_context(context)
    if guider.num_conditions == 1:
        return guider.forward(cond).pred
    return guider.forward(cond, uncond).pred


def test_classifier_free_guidance_formula():
    cond, uncond = _predictions()
    out = guide(GuidanceMethod.CFG, 7.5, cond, uncond, _context())
    assert torch.allclose(out, uncond + 7.5 * (cond - uncond))
    assert torch.allclose(guide(GuidanceMethod.CFG, 1.0, cond, uncond, _context()), cond)
    assert torch.allclose(guide(GuidanceMethod.CFG, 0.0, cond, uncond, _context()), uncond)


def test_no_guidance_is_the_conditional_prediction():
    cond, uncond = _predictions()
    assert torch.equal(guide(GuidanceMethod.NONE, 9.0, cond, uncond, _context()), cond)


def test_x0_and_eps_conversions_invert_each_other():
    context, (eps, _) = _context(), _predictions()
    assert torch.allclose(context.eps_from_x0(context.x0_from_eps(eps)), eps, atol=1e-5)


def test_v_prediction_conversions_follow_the_definition_of_v():
    torch.manual_seed(2)
    x0, eps, alpha_bar = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8), 0.3
    x_t = alpha_bar**0.5 * x0 + (1 - alpha_bar) ** 0.5 * eps
    v = alpha_bar**0.5 * eps - (1 - alpha_bar) ** 0.5 * x0
    context = StepContext(x_t, alpha_bar, step=0, num_steps=20, latent=True, prediction_type="v_prediction")
    assert torch.allclose(context.x0_from_prediction(v), x0, atol=1e-5)
    assert torch.allclose(context.eps_from_prediction(v), eps, atol=1e-5)
    assert torch.allclose(context.prediction_from_x0(x0), v, atol=1e-5)
    assert torch.allclose(context.prediction_from_eps(eps), v, atol=1e-5)


def test_thresholding_a_v_prediction_thresholds_its_x0():
    torch.manual_seed(4)
    x_t, v = 3 * torch.randn(1, 4, 8, 8), 3 * torch.randn(1, 4, 8, 8)
    context = StepContext(x_t, 0.5, step=3, num_steps=20, latent=False, prediction_type="v_prediction")
    out = guide(GuidanceMethod.STATIC_THRESHOLD, 3.0, v, v, context)
    assert context.x0_from_prediction(v).abs().max() > 1.5
    assert context.x0_from_prediction(out).abs().max() <= 1 + 1e-5


def test_unknown_prediction_types_are_refused():
    with pytest.raises(ValueError, match="sample"):
        StepContext(torch.zeros(1, 4, 8, 8), 0.5, 0, 20, True, prediction_type="sample")


def test_dynamic_thresholding_follows_imagen():
    x0 = torch.tensor([[[[0.5, -3.0, 2.0, 0.1]]]])
    s = torch.quantile(x0.abs().flatten(), 0.995)
    assert torch.allclose(dynamic_threshold(x0), x0.clamp(-s, s) / s)
    inside = torch.tensor([[[[0.5, -0.9]]]])
    assert torch.equal(dynamic_threshold(inside), inside)  # s_p <= 1: untouched
    assert static_threshold(x0).abs().max() == 1.0


def test_mimic_thresholding_brings_high_scale_to_the_mimic_spread():
    torch.manual_seed(2)
    mimic = torch.randn(1, 4, 8, 8)
    high = 6 * torch.randn(1, 4, 8, 8) + 0.3
    out = mimic_threshold(high, mimic)
    high_mean = high.mean(dim=(-2, -1), keepdim=True)
    spread = (mimic - mimic.mean(dim=(-2, -1), keepdim=True)).abs().amax(dim=(-2, -1))
    assert torch.allclose((out - high_mean).abs().amax(dim=(-2, -1)), spread, atol=1e-4)
    assert out.std() < high.std() / 3


def test_static_thresholding_is_refused_on_latent_models_with_a_reason():
    cond, uncond = _predictions()
    assert "latent" in why_not_on(GuidanceMethod.STATIC_THRESHOLD, None, latent=True)
    assert why_not_on(GuidanceMethod.STATIC_THRESHOLD, None, latent=False) is None
    out = guide(GuidanceMethod.STATIC_THRESHOLD, 7.5, cond, uncond, _context(latent=False))
    assert _context(latent=False).x0_from_eps(out).abs().max() <= 1 + 1e-5


def test_guidance_rescale_moves_toward_the_conditional_std():
    cond, uncond = _predictions()
    plain = guide(GuidanceMethod.CFG, 9.0, cond, uncond, _context())
    rescaled = guide(GuidanceMethod.RESCALE, 9.0, cond, uncond, _context())
    assert abs(rescaled.std() - cond.std()) < abs(plain.std() - cond.std())


def test_cfg_zero_star_zeroes_the_first_step_then_scales_the_unconditional():
    cond, uncond = _predictions()
    assert torch.count_nonzero(guide(GuidanceMethod.CFG_ZERO_STAR, 5.0, cond, uncond, _context(step=0))) == 0
    alpha = (cond.flatten() @ uncond.flatten()) / (uncond.flatten() @ uncond.flatten())
    expected = alpha * uncond + 5.0 * (cond - alpha * uncond)
    out = guide(GuidanceMethod.CFG_ZERO_STAR, 5.0, cond, uncond, _context(step=2))
    assert torch.allclose(out, expected, atol=1e-5)


def test_apg_keeps_only_the_orthogonal_update_when_under_the_norm_cap():
    cond, uncond = 0.05 * _predictions()[0], 0.05 * _predictions()[1]  # small: the norm cap does not bite
    out = guide(GuidanceMethod.APG, 5.0, cond, uncond, _context())
    diff, unit = (cond - uncond).flatten(), cond.flatten() / cond.norm()
    orthogonal = diff - (diff @ unit) * unit
    assert torch.allclose(out.flatten(), uncond.flatten() + 5.0 * orthogonal, atol=1e-5)


def test_clip_guidance_raises_clip_similarity():
    torch.manual_seed(3)
    projection = torch.randn(4 * 8 * 8, 16)
    target = torch.nn.functional.normalize(torch.randn(1, 16), dim=-1)

    def embed(images):
        return torch.nn.functional.normalize(images.flatten(1) @ projection, dim=-1)

    context, (cond, _) = _context(), _predictions()
    clip = {"to_image": lambda x0: x0, "image_embeddings": embed, "text_embedding": target}
    guided = guide(GuidanceMethod.CLIP, 0.05, cond, None, context, **clip)
    before = (embed(context.x0_from_eps(cond)) * target).sum()
    after = (embed(context.x0_from_eps(guided)) * target).sum()
    assert after > before


def test_a_guidance_interval_turns_each_row_off_outside_it():
    cond, uncond = _predictions()
    for method in (GuidanceMethod.CFG, GuidanceMethod.APG, GuidanceMethod.CFG_ZERO_STAR, GuidanceMethod.TANGENTIAL):
        inside = guide(method, 5.0, cond, uncond, _context(step=10), start=0.25, stop=0.75)
        before = guide(method, 5.0, cond, uncond, _context(step=4), start=0.25, stop=0.75)
        assert not torch.equal(inside, cond) and torch.equal(before, cond), method


def test_magnitude_aware_guidance_shrinks_the_scale_where_the_update_is_large():
    cond, uncond = _predictions()
    out = guide(GuidanceMethod.MAGNITUDE_AWARE, 5.0, cond, uncond, _context())
    ratio = (cond - uncond).norm() / uncond.norm()
    scale = 1 + 4.0 * torch.exp(-8 * ratio)
    assert torch.allclose(out, uncond + scale * (cond - uncond), atol=1e-5)


def test_frequency_decoupled_guidance_with_equal_scales_is_cfg():
    cond, uncond = _predictions()
    guider = build_guider(GuidanceMethod.FREQUENCY_DECOUPLED, 5.0)
    guider.guidance_scales = [5.0, 5.0]
    out = guide(GuidanceMethod.FREQUENCY_DECOUPLED, 5.0, cond, uncond, _context(), guider=guider)
    assert torch.allclose(out, uncond + 5.0 * (cond - uncond), atol=1e-4)
