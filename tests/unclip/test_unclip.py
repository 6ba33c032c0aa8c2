"""Variations, interpolation and text diffs on the bundled `shapes-unclip` (a Stable unCLIP folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.unclip import spearman
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import DEFAULT_MODELS_DIR, UNCLIP
from pipelines.unclip import (
    InterpolationRequest,
    TextDiffRequest,
    VariationsRequest,
    example_image,
    interpolate,
    save_gif,
    text_diff,
    variations,
)

SHAPES_UNCLIP = DEFAULT_MODELS_DIR / "shapes-unclip"
SHAPES_CLIP = DEFAULT_MODELS_DIR / "shapes-clip"


@pytest.fixture(scope="module")
def manager() -> PipelineManager:
    return PipelineManager(ManagerConfig(device="cpu", offline=True, include_hub=False))


@pytest.fixture(scope="module")
def red_circle():
    return example_image("a large red circle in the center", 0)


@pytest.fixture(scope="module")
def blue_square():
    return example_image("a large blue square on the right", 1)


def psnr(x, y) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(10 * np.log10(255**2 / max(((x - y) ** 2).mean(), 1e-10)))


# ----------------------------------------------------------------------------- the folder


def test_registry_lists_the_bundled_unclip_model(manager):
    entry = manager.entry(None, UNCLIP)
    assert entry.name == "shapes-unclip" and entry.family == "sd-unclip" and entry.tasks == (UNCLIP,)
    assert entry.native_size == 64 and Path(entry.clip) == SHAPES_CLIP
    assert (SHAPES_UNCLIP / "README.md").is_file()


def test_image_encoder_holds_the_shapes_clip_vision_weights():
    from transformers import CLIPModel, CLIPVisionModelWithProjection

    clip = CLIPModel.from_pretrained(SHAPES_CLIP)
    encoder = CLIPVisionModelWithProjection.from_pretrained(SHAPES_UNCLIP / "image_encoder")
    for name, value in clip.vision_model.state_dict().items():
        assert torch.equal(encoder.vision_model.state_dict()[name], value), name
    assert torch.equal(encoder.visual_projection.weight, clip.visual_projection.weight)
    pixels = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = clip.get_image_features(pixel_values=pixels)
        features = getattr(features, "pooler_output", features)
        assert torch.allclose(encoder(pixels).image_embeds, features, atol=1e-5)


def test_unet_takes_the_noised_image_embedding_as_a_projection_class_embedding():
    import json

    config = json.loads((SHAPES_UNCLIP / "unet" / "config.json").read_text())
    assert config["class_embed_type"] == "projection" and config["projection_class_embeddings_input_dim"] == 128
    normalizer = json.loads((SHAPES_UNCLIP / "image_normalizer" / "config.json").read_text())
    assert normalizer["embedding_dim"] == 64


def test_plain_diffusers_loads_the_folder_with_no_code_of_ours(tmp_path):
    code = (
        "import torch\n"
        "from PIL import Image\n"
        "from diffusers import StableUnCLIPImg2ImgPipeline\n"
        f"pipe = StableUnCLIPImg2ImgPipeline.from_pretrained({str(SHAPES_UNCLIP)!r})\n"
        "assert type(pipe.image_encoder).__name__ == 'CLIPVisionModelWithProjection'\n"
        "image = Image.new('RGB', (64, 64), (240, 240, 240))\n"
        "out = pipe(image=image, num_inference_steps=3, noise_level=100).images[0]\n"
        "assert out.size == (64, 64), out.size\n"
        "import sys; assert not [m for m in sys.modules if m.startswith(('pipelines', 'studio'))]\n"
        "print('ok')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


# ----------------------------------------------------------------------------- variations


def test_variations_give_count_images_at_the_native_size(manager, red_circle):
    result = variations(manager, VariationsRequest(red_circle, count=2, steps=3, seed=7))
    assert [im.size for im in result.images] == [(64, 64), (64, 64)]
    assert result.labels == ["seed 7", "seed 8"] and result.seed == 7 and result.stopped_at is None


def test_same_seed_same_variation_and_image_i_uses_seed_plus_i(manager, red_circle):
    two = variations(manager, VariationsRequest(red_circle, count=2, steps=3, seed=11))
    again = variations(manager, VariationsRequest(red_circle, count=1, steps=3, seed=12))
    assert np.array_equal(np.asarray(two.images[1]), np.asarray(again.images[0]))
    assert not np.array_equal(np.asarray(two.images[0]), np.asarray(two.images[1]))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image": None}, "`image` is missing"),
        ({"count": 9}, "`count` must be an integer from 1 to 8, got 9"),
        ({"noise_level": 1000}, "`noise_level` must be an integer from 0 to 999, got 1000"),
        ({"eta": 1.5}, "`eta` must be from 0 to 1, got 1.5"),
        ({"steps": 0}, "`steps` must be an integer from 1 to 150, got 0"),
    ],
)
def test_bad_variation_requests_name_the_parameter(manager, red_circle, overrides, message):
    request = VariationsRequest(**{"image": red_circle, "steps": 2, **overrides})
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        variations(manager, request)


def test_stop_ends_variations_keeping_the_finished_images(manager, red_circle):
    stop = threading.Event()

    def on_step(info):
        if info.step == 4:  # second image, first step
            stop.set()

    result = variations(manager, VariationsRequest(red_circle, count=3, steps=3, seed=1), on_step=on_step, stop=stop)
    assert result.stopped_at is not None and len(result.images) == 1


# ----------------------------------------------------------------------------- interpolation


def test_inverted_interpolation_reproduces_both_end_images(manager, red_circle, blue_square):
    request = InterpolationRequest(red_circle, blue_square, frames=3, noise_mode="inverted", steps=10, seed=3)
    result = interpolate(manager, request)
    assert result.thetas == [0.0, 0.5, 1.0] and len(result.images) == 3
    assert psnr(result.images[0], red_circle) >= 25
    assert psnr(result.images[-1], blue_square) >= 25


def test_inverted_interpolation_moves_steadily_towards_the_second_image(manager):
    # Guided inversions and frames (the default). Unguided, the inverted noise holds the frames on the nearer end
    # image and the strip jumps half-way: on these pairs mean Spearman 0.88 unguided, 0.92 guided.
    pairs = [
        ("a large red circle in the center", "a large blue square on the right"),
        ("a large green triangle on the left", "a large yellow circle at the top"),
        ("a large purple square at the bottom", "a large orange triangle in the center"),
        ("a large blue triangle on the right", "a large red square on the left"),
    ]
    scorer = manager.clip_scorer(manager.entry("shapes-unclip"))
    rhos = []
    for i, (caption_a, caption_b) in enumerate(pairs):
        image_a, image_b = example_image(caption_a, i), example_image(caption_b, i + 10)
        request = InterpolationRequest(image_a, image_b, frames=7, noise_mode="inverted", steps=10, seed=i)
        result = interpolate(manager, request)
        with torch.no_grad():
            frames = scorer.image_embeddings(scorer.to_tensor(result.images))
            target = scorer.image_embeddings(scorer.to_tensor([image_b]))
        similarity = (frames @ target.T).flatten().numpy()
        rhos.append(spearman(result.thetas, similarity.tolist()))
    assert np.mean(rhos) >= 0.9, rhos


def test_fixed_noise_interpolation_is_deterministic(manager, red_circle, blue_square):
    request = InterpolationRequest(red_circle, blue_square, frames=2, noise_mode="fixed", steps=3, seed=5)
    first, second = interpolate(manager, request), interpolate(manager, request)
    assert [r.labels for r in (first, second)] == [["θ = 0.00", "θ = 1.00"]] * 2
    for a, b in zip(first.images, second.images):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_interpolation_needs_both_images_and_a_known_noise_mode(manager, red_circle):
    with pytest.raises(ValueError, match="`image_b` is missing"):
        interpolate(manager, InterpolationRequest(red_circle, None))
    with pytest.raises(ValueError, match="`noise_mode` must be one of"):
        interpolate(manager, InterpolationRequest(red_circle, red_circle, noise_mode="wobbly"))


def test_gif_holds_the_frames_there_and_back(tmp_path, red_circle, blue_square):
    from PIL import Image

    path = tmp_path / "strip.gif"
    green = example_image("a small green triangle", 2)
    save_gif([red_circle, blue_square, green], path)
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.size == (256, 256)


# ----------------------------------------------------------------------------- text diffs


def test_text_diff_gives_frames_along_theta(manager, red_circle):
    request = TextDiffRequest(red_circle, "a red circle", "a blue circle", theta=1.0, frames=3, steps=3, seed=2)
    result = text_diff(manager, request)
    assert result.thetas == [0.0, 0.5, 1.0] and [im.size for im in result.images] == [(64, 64)] * 3
    again = text_diff(manager, request)
    assert np.array_equal(np.asarray(result.images[2]), np.asarray(again.images[2]))


def test_text_diff_starts_from_the_image_and_turns_it_blue_keeping_its_shape(manager, red_circle):
    from pipelines.shapes.judge import judge

    request = TextDiffRequest(red_circle, "a red circle", "a blue circle", theta=1.0, frames=2, steps=20, seed=0)
    start, end = text_diff(manager, request).images
    assert psnr(start, red_circle) > 20  # x_T is the image's own inversion
    assert judge(np.asarray(end), "a blue circle").all_correct


def test_text_diff_refuses_empty_or_identical_captions(manager, red_circle):
    with pytest.raises(ValueError, match="`target_caption` is empty"):
        text_diff(manager, TextDiffRequest(red_circle, "a red circle", " ", steps=2))
    with pytest.raises(ValueError, match="must differ in meaning"):
        text_diff(manager, TextDiffRequest(red_circle, "a red circle", "a red circle", steps=2))


# ----------------------------------------------------------------------------- prior


def test_the_folder_holds_a_prior_in_the_stable_unclip_layout(manager):
    from pipelines.unclip import has_prior

    assert has_prior(manager.entry("shapes-unclip"))
    for sub in ("prior", "prior_text_encoder", "prior_tokenizer", "prior_scheduler"):
        assert (SHAPES_UNCLIP / sub).is_dir(), sub


def test_caption_to_image_is_deterministic_and_follows_the_colour(manager):
    from pipelines.shapes.judge import judge
    from pipelines.unclip import CaptionRequest, caption_to_image

    request = CaptionRequest("a large red circle", steps=10, seed=0)
    first, second = caption_to_image(manager, request), caption_to_image(manager, request)
    assert first.images[0].size == (64, 64)
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(second.images[0]))
    assert judge(np.asarray(first.images[0]), "a red circle").checks["colour"]
    with pytest.raises(ValueError, match="`caption` is empty"):
        caption_to_image(manager, CaptionRequest(""))
