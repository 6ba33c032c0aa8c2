"""Paint with words: the bias is the formula, w = 0 is text-to-image, and nothing stays patched afterwards."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from diffusers import UNet2DConditionModel
from transformers import AutoTokenizer

from pipelines.paint_with_words import (
    INFO_KEY,
    PALETTE,
    PaintState,
    PaintWithWordsAttnProcessor,
    PaintWithWordsRequest,
    Region,
    find_phrase_tokens,
    paint_with_words,
    paint_with_words_installed,
    resize_labels,
    snap_to_palette,
    used_colours,
)
from pipelines.png_info import read_parameters
from pipelines.text_to_image import TextToImageRequest, text_to_image

PROMPT = "a red circle above a blue square"
RED, BLUE = PALETTE[0], PALETTE[1]


def two_region_layout(size: int = 64) -> np.ndarray:
    """RGBA: red brush in the bottom-left quarter, blue in the top-right, the rest transparent."""
    layout = np.zeros((size, size, 4), dtype=np.uint8)
    h = size // 2
    layout[h:, :h] = (*RED.rgb, 255)
    layout[:h, h:] = (*BLUE.rgb, 255)
    return layout


def request(**overrides) -> PaintWithWordsRequest:
    fields = dict(
        prompt=PROMPT,
        layout=two_region_layout(),
        regions=(Region("red", "red circle"), Region("blue", "blue square")),
        paint_weight=0.4,
        steps=3,
        seed=11,
        sampler="DDIM",
    )
    fields.update(overrides)
    return PaintWithWordsRequest(**fields)


@pytest.fixture(scope="module")
def tokenizer(tiny_folder):
    return AutoTokenizer.from_pretrained(tiny_folder / "tokenizer", local_files_only=True)


@pytest.fixture(scope="module")
def unet(tiny_folder):
    return UNet2DConditionModel.from_pretrained(tiny_folder / "unet", local_files_only=True).eval()


# ----------------------------------------------------------------------------- the formula
def direct_attention(attn, x, context, m, w, sigma, conditional):
    """Cross-attention written out head by head: softmax(QKᵀ/√d + w·log(1+σ)·max(QKᵀ/√d)·M) V, then to_out."""
    heads = attn.heads
    out = []
    for b in range(x.shape[0]):
        q = x[b] @ attn.to_q.weight.T  # (pixels, inner)
        k = context[b] @ attn.to_k.weight.T  # (tokens, inner)
        v = context[b] @ attn.to_v.weight.T
        d = q.shape[-1] // heads
        logits = [q[:, i * d : (i + 1) * d] @ k[:, i * d : (i + 1) * d].T / math.sqrt(d) for i in range(heads)]
        peak = max(float(s.max()) for s in logits)  # over heads, pixels and tokens of this sample
        per_head = []
        for i, s in enumerate(logits):
            if conditional[b]:
                s = s + w * math.log(1 + sigma) * peak * m
            per_head.append(torch.softmax(s, dim=-1) @ v[:, i * d : (i + 1) * d])
        out.append(torch.cat(per_head, dim=-1) @ attn.to_out[0].weight.T + attn.to_out[0].bias)
    return torch.stack(out)


def test_processor_output_matches_the_formula(unet):
    torch.manual_seed(0)
    name = next(n for n in unet.attn_processors if n.endswith("attn2.processor"))
    attn = unet.get_submodule(name.removesuffix(".processor"))
    size = 16  # the first down block runs at the latent's resolution
    labels = np.zeros((64, 64), dtype=np.uint8)
    labels[:, :32] = 1  # red on the left half
    labels[40:, 40:] = 2  # blue bottom-right
    weights = torch.zeros(len(PALETTE) + 1, 16)
    weights[1, [2, 3]] = 1.0  # red → tokens 2, 3
    weights[2, [6, 7]] = 0.5  # blue → tokens 6, 7 with half weight
    alphas = torch.linspace(0.999, 0.01, 1000)
    state = PaintState(labels, weights, weight=0.3, cfg=True, alphas_cumprod=alphas)
    state.set_timestep(torch.tensor(700), (size, size))
    sigma = math.sqrt((1 - alphas[700].item()) / alphas[700].item())
    assert state.sigma == pytest.approx(sigma)

    x = torch.randn(2, size * size, attn.to_q.in_features)  # batch = [unconditional, conditional]
    context = torch.randn(2, 16, attn.to_k.in_features)
    processor = PaintWithWordsAttnProcessor(attn.processor, state)
    with torch.no_grad():
        got = processor(attn, x, encoder_hidden_states=context)
        m = torch.from_numpy(resize_labels(labels, size, size).astype(np.int64)).flatten()
        m = weights[m]  # (pixels, tokens)
        want = direct_attention(attn, x, context, m, 0.3, sigma, conditional=[False, True])
        plain = attn.processor(attn, x, encoder_hidden_states=context)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(got[0], plain[0], atol=1e-5, rtol=0)  # unconditional half: untouched
    assert (got[1] - plain[1]).abs().max() > 1e-3  # conditional half: biased


def test_region_map_is_resized_nearest_per_layer_resolution():
    labels = np.zeros((64, 64), dtype=np.uint8)
    labels[:32, :32] = 1
    weights = torch.zeros(len(PALETTE) + 1, 4)
    weights[1, 2] = 1.0
    state = PaintState(labels, weights, 1.0, False, torch.linspace(0.99, 0.1, 10))
    state.set_timestep(3, (16, 16))
    for side in (16, 8, 4):
        m = state.token_map(side * side, "cpu", torch.float32).view(side, side, 4)
        assert set(m.unique().tolist()) == {0.0, 1.0}  # exact weights: no blended values
        assert m[: side // 2, : side // 2, 2].all() and not m[side // 2 :, :, 2].any()


def test_processors_are_installed_for_the_block_only(unet):
    before = dict(unet.attn_processors)
    state = PaintState(np.zeros((8, 8), np.uint8), torch.zeros(7, 16), 0.3, True, torch.linspace(0.99, 0.1, 10))
    with paint_with_words_installed(unet, state):
        during = unet.attn_processors
        assert all(isinstance(p, PaintWithWordsAttnProcessor) for n, p in during.items() if "attn2" in n)
        assert not any(isinstance(p, PaintWithWordsAttnProcessor) for n, p in during.items() if "attn1" in n)
    assert unet.attn_processors == before
    assert not unet._forward_pre_hooks
    with pytest.raises(RuntimeError, match="boom"):
        with paint_with_words_installed(unet, state):
            raise RuntimeError("boom")
    assert unet.attn_processors == before and not unet._forward_pre_hooks


# ----------------------------------------------------------------------------- the method end to end
def test_strength_zero_reproduces_text_to_image_bit_for_bit(shared_manager):
    painted = paint_with_words(shared_manager, request(paint_weight=0.0, sampler="Euler a", cfg_scale=5.0))
    plain = text_to_image(
        shared_manager, TextToImageRequest(PROMPT, steps=3, seed=11, sampler="Euler a", cfg_scale=5.0)
    )
    np.testing.assert_array_equal(np.asarray(painted.images[0]), np.asarray(plain.images[0]))


def test_painting_changes_the_image_and_a_later_text_to_image_call_is_unaffected(shared_manager):
    plain_request = TextToImageRequest(PROMPT, steps=3, seed=11, sampler="DDIM")
    before = text_to_image(shared_manager, plain_request).images[0]
    unet = shared_manager.pipeline("tiny-sd").unet
    processors = dict(unet.attn_processors)
    painted = paint_with_words(shared_manager, request(paint_weight=2.0)).images[0]
    assert not np.array_equal(np.asarray(painted), np.asarray(before))
    assert unet.attn_processors == processors
    after = text_to_image(shared_manager, plain_request).images[0]
    np.testing.assert_array_equal(np.asarray(after), np.asarray(before))


def test_result_carries_the_region_map_and_the_mapping(shared_manager):
    result = paint_with_words(shared_manager, request(layout=two_region_layout(256)))
    region_map = np.asarray(result.region_map)
    assert region_map.shape == (64, 64, 3)  # resized to the image, NEAREST: only exact palette colours
    assert {tuple(c) for c in region_map.reshape(-1, 3)} == {(255, 255, 255), RED.rgb, BLUE.rgb}
    assert tuple(region_map[48, 8]) == RED.rgb and tuple(region_map[8, 48]) == BLUE.rgb
    mapping = json.loads(result.images[0].info[INFO_KEY])
    assert [(r["name"], r["phrase"]) for r in mapping["regions"]] == [("red", "red circle"), ("blue", "blue square")]
    assert 'Paint with words: "w 0.4; steered; red: red circle (1); blue: blue square (1)"' in read_parameters(
        result.images[0]
    )
    assert [p.indices for p in result.phrases] == [(2, 3), (6, 7)]


# ----------------------------------------------------------------------------- phrases → tokens
def test_multi_token_phrase_and_repeated_words(tokenizer):
    # <bos> a red circle above a red square <eos> <pad>...: positions 1..7
    assert find_phrase_tokens(tokenizer, "a red circle above a red square", "red circle") == (2, 3)
    assert find_phrase_tokens(tokenizer, "a red circle above a red square", "red") == (2, 6)
    assert find_phrase_tokens(tokenizer, "a red circle above a red square", "a red") == (1, 2, 5, 6)


def test_bos_eos_and_padding_never_match(tokenizer):
    ids = tokenizer("a red circle", padding="max_length", max_length=16).input_ids
    assert len(ids) == 16 and ids[0] == tokenizer.bos_token_id
    assert find_phrase_tokens(tokenizer, "a red circle", "circle") == (3,)


def test_phrase_not_in_the_prompt_says_so(shared_manager):
    bad = request(regions=(Region("red", "red circle"), Region("blue", "green triangle")))
    with pytest.raises(ValueError) as error:
        paint_with_words(shared_manager, bad)
    assert str(error.value) == (
        "`regions[1].phrase` (blue): `phrase` 'green triangle' is not in the prompt "
        "'a red circle above a blue square' (within its first 16 tokens); "
        "each phrase must be words copied from the prompt"
    )


def test_unknown_word_in_phrase(tokenizer):
    with pytest.raises(ValueError, match="`phrase` 'red dog' has words the model's tokenizer does not know"):
        find_phrase_tokens(tokenizer, "a red circle", "red dog")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"paint_weight": 3.0}, "`paint_weight` must be from 0 to 2, got 3.0"),
        ({"regions": ()}, "`regions` must tie at least one painted colour"),
        ({"regions": (Region("green", "red circle"),)}, "`regions[0].colour` green is not painted on the layout"),
        ({"regions": (Region("pink", "red circle"),)}, "`colour` must be one of the palette's"),
        ({"regions": (Region("red", "red circle"), Region("#e53935", "blue square"))}, "red appears twice"),
        ({"regions": (Region("red", "red circle", weight=-1),)}, "`regions[0].weight` must be from 0 to 10"),
        ({"layout": np.zeros((64, 64), np.uint8)}, "`layout` must be an (H, W, 3) RGB or (H, W, 4) RGBA image"),
        ({"steps": 0}, "`steps` must be an integer from 1 to 150, got 0"),
    ],
)
def test_bad_requests_name_the_parameter(shared_manager, overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        paint_with_words(shared_manager, request(**overrides))


# ----------------------------------------------------------------------------- colour snapping
def test_anti_aliased_edges_snap_to_the_nearest_brush():
    layout = np.zeros((4, 4, 4), dtype=np.uint8)
    layout[0, 0] = (*RED.rgb, 255)
    layout[0, 1] = (235, 70, 60, 200)  # an anti-aliased red edge: slightly off colour, partly transparent
    layout[0, 2] = (40, 130, 220, 255)  # lossy blue
    layout[0, 3] = (*RED.rgb, 60)  # a faint fringe: not painted
    labels = snap_to_palette(layout)
    assert labels[0].tolist() == [1, 1, 2, 0]
    assert (labels[1:] == 0).all()  # transparent = unpainted


def test_rgb_layout_reads_white_as_unpainted():
    layout = np.full((2, 2, 3), 255, dtype=np.uint8)
    layout[0, 0] = PALETTE[3].rgb
    layout[1, 1] = (250, 250, 245)  # near white
    assert snap_to_palette(layout).tolist() == [[4, 0], [0, 0]]
    assert [(b.name, n) for b, n in used_colours(layout)] == [("yellow", 1)]


# ----------------------------------------------------------------------------- σ, batches, other UNets
@pytest.mark.parametrize("karras", [False, True])
def test_sigma_is_the_schedulers_sigma(tiny_folder, karras):
    from diffusers import EulerDiscreteScheduler

    scheduler = EulerDiscreteScheduler.from_pretrained(
        tiny_folder / "scheduler", local_files_only=True, use_karras_sigmas=karras
    )
    scheduler.set_timesteps(12)
    state = PaintState(np.zeros((4, 4), np.uint8), torch.zeros(7, 16), 0.3, True, scheduler.alphas_cumprod)
    for t, sigma in zip(scheduler.timesteps, scheduler.sigmas[:-1], strict=True):
        state.set_timestep(t, (16, 16))  # Karras timesteps are fractional: σ is interpolated like the scheduler's
        assert state.sigma == pytest.approx(float(sigma), rel=2e-3)


def test_only_the_conditional_half_is_biased_for_batches():
    state = PaintState(np.zeros((4, 4), np.uint8), torch.zeros(7, 16), 0.3, True, torch.linspace(0.99, 0.1, 10))
    assert state.conditional_rows(4, "cpu").tolist() == [0, 0, 1, 1]  # [uncond × 2, cond × 2]
    state.cfg = False  # CFG off (scale <= 1): every sample is conditional
    assert state.conditional_rows(2, "cpu").tolist() == [1, 1]


def test_batch_uses_consecutive_seeds(shared_manager):
    batch = paint_with_words(shared_manager, request(batch_size=2, seed=20))
    single = paint_with_words(shared_manager, request(seed=21))
    assert len(batch.images) == 2
    np.testing.assert_allclose(np.asarray(batch.images[1]), np.asarray(single.images[0]), atol=2)


def test_processor_matches_the_formula_on_an_sd2_style_unet():
    """SD 2.x blocks: linear projections, per-block head dims, upcast attention."""
    torch.manual_seed(1)
    unet = UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=24,
        attention_head_dim=(4, 8),
        use_linear_projection=True,
        upcast_attention=True,
        norm_num_groups=16,
    ).eval()
    labels = np.zeros((32, 32), dtype=np.uint8)
    labels[8:24, 8:24] = 3
    weights = torch.zeros(len(PALETTE) + 1, 10)
    weights[3, [4, 5, 6]] = 2.0
    state = PaintState(labels, weights, weight=0.25, cfg=False, alphas_cumprod=torch.linspace(0.999, 0.01, 1000))
    state.set_timestep(torch.tensor(400.0), (8, 8))
    names = [n for n in unet.attn_processors if n.endswith("attn2.processor")]
    for name in (names[0], names[-2]):  # an 8x8 and a 4x4 layer
        attn = unet.get_submodule(name.removesuffix(".processor"))
        side = 8 if name.startswith("down_blocks.0") or name.startswith("up_blocks.1") else 4
        x = torch.randn(1, side * side, attn.to_q.in_features)
        context = torch.randn(1, 10, 24)
        with torch.no_grad():
            got = PaintWithWordsAttnProcessor(attn.processor, state)(attn, x, encoder_hidden_states=context)
            m = weights[torch.from_numpy(resize_labels(labels, side, side).astype(np.int64)).flatten()]
            want = direct_attention(attn, x, context, m, 0.25, state.sigma, conditional=[True])
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_processors_come_back_when_generation_fails_midway(shared_manager):
    unet = shared_manager.pipeline("tiny-sd").unet
    processors = dict(unet.attn_processors)

    def fail(info):
        raise RuntimeError("interrupted at step 1")

    with pytest.raises(RuntimeError, match="interrupted at step 1"):
        paint_with_words(shared_manager, request(), on_step=fail)
    assert unet.attn_processors == processors and not unet._forward_pre_hooks


def test_sdxl_is_painted_and_steered_and_left_as_it_was(tmp_path):
    from pipelines.manager import ManagerConfig, PipelineManager
    from pipelines.testing import build_tiny_sdxl_folder

    build_tiny_sdxl_folder(tmp_path / "models" / "tiny-sdxl")
    manager = PipelineManager(ManagerConfig(models_dir=tmp_path / "models", device="cpu", offline=True))
    common = dict(model="tiny-sdxl", steps=4, sampler="Euler", batch_size=2)
    steered = paint_with_words(manager, request(paint_weight=0.5, **common))
    assert steered.steered and "steered" in read_parameters(steered.images[0])
    biased = paint_with_words(manager, request(paint_weight=0.5, steer_layout=False, **common))
    assert not biased.steered
    assert not np.array_equal(np.asarray(steered.images[1]), np.asarray(biased.images[1]))
    unet = manager.pipeline("tiny-sdxl").unet
    processors = dict(unet.attn_processors)
    plain = text_to_image(manager, TextToImageRequest(PROMPT, seed=11, cfg_scale=7.0, **common))
    unpainted = paint_with_words(manager, request(paint_weight=0.0, cfg_scale=7.0, **common))
    np.testing.assert_array_equal(np.asarray(unpainted.images[1]), np.asarray(plain.images[1]))
    assert unet.attn_processors == processors and not unet._forward_pre_hooks
