import random
from collections import Counter

import cv2
import numpy as np
import pytest

from pipelines.models import DEFAULT_MODELS_DIR
from pipelines.shapes.grammar import BACKGROUND
from pipelines.shapes.judge import find_blobs, judge
from pipelines.shapes.render import PlacedShape, draw
from pipelines.shapes.world import sample_example


def test_judge_is_right_on_ground_truth_images():
    checks, passed = Counter(), Counter()
    for split in ("train", "held_out"):
        rng = random.Random(11)
        for _ in range(600):
            example = sample_example(rng, split)
            for name, ok in judge(example.image, example.caption).checks.items():
                checks[name] += 1
                passed[name] += ok
    for name in checks:
        assert passed[name] / checks[name] >= 0.99, (name, passed[name], checks[name])
    assert set(checks) == {"count", "colour", "shape", "size", "position", "relation"}


def test_judge_notices_wrong_attributes():
    image = draw([PlacedShape("red", "circle", 16, 32, 12)])
    assert judge(image, "a red circle on the left").all_correct
    assert not judge(image, "a blue circle").checks["colour"]
    assert not judge(image, "a red square").checks["shape"]
    assert not judge(image, "a red circle on the right").checks["position"]
    assert not judge(image, "a small red circle").checks["size"]
    assert not judge(image, "a red circle above a blue square").checks["relation"]


def test_blank_image_has_no_objects():
    blank = np.full((64, 64, 3), BACKGROUND, dtype=np.uint8)
    assert find_blobs(blank) == []
    verdict = judge(blank, "a red circle")
    assert not verdict.checks["count"] and not verdict.checks["colour"]


def test_judge_reads_larger_images():
    image = draw([PlacedShape("green", "triangle", 48, 16, 12)])
    big = np.kron(image, np.ones((4, 4, 1), dtype=np.uint8))  # 256 x 256
    assert judge(big, "a large green triangle in the top right corner").all_correct


def test_judge_counts_copies_and_notices_wrong_counts_and_merged_copies():
    apart = draw([PlacedShape("blue", "square", 14, 14, 8), PlacedShape("blue", "square", 48, 40, 8)])
    assert judge(apart, "two blue squares").all_correct
    assert not judge(apart, "three blue squares").checks["count"]
    assert not judge(apart, "a blue square").checks["count"]
    assert not judge(apart, "two red squares").checks["colour"]
    assert not judge(apart, "two blue circles").checks["shape"]
    mixed = draw([PlacedShape("blue", "square", 14, 14, 8), PlacedShape("red", "square", 48, 40, 8)])
    assert not judge(mixed, "two blue squares").checks["colour"]
    touching = draw([PlacedShape("blue", "square", 20, 32, 8), PlacedShape("blue", "square", 36, 32, 8)])
    assert not judge(touching, "two blue squares").checks["count"]  # one merged blob


@pytest.mark.parametrize(("colour", "sigma"), [("blue", 6), ("green", 6), ("orange", 4)])
def test_a_triangle_with_soft_edges_is_still_a_triangle(colour, sigma):
    # Decoders soften small triangles' tips: the bounding box shrinks and its fill alone reads a circle.
    image = cv2.GaussianBlur(draw([PlacedShape(colour, "triangle", 30, 30, 7)], size=256), (0, 0), sigmaX=sigma)
    assert judge(image, f"a small {colour} triangle").all_correct
    assert not judge(image, f"a small {colour} circle").checks["shape"]


def test_a_soft_rim_is_part_of_its_object():
    # An orange square's blurred edge, half orange and half background, is nearer yellow than orange.
    soft = cv2.GaussianBlur(draw([PlacedShape("orange", "square", 20, 20, 10)], size=256), (0, 0), sigmaX=4)
    verdict = judge(soft, "an orange square in the top left corner")
    assert verdict.all_correct, [(b.colour, b.area) for b in verdict.blobs]


def test_judge_reads_the_bundled_autoencoders_reconstructions_of_the_truth():
    """No model that draws through the bundled VAE can do better than its reconstructions, so the judge must read
    them as it reads the truth."""
    import torch
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(DEFAULT_MODELS_DIR / "shapes-sd" / "vae", use_safetensors=True).eval()
    rng = random.Random(5)
    examples = [sample_example(rng, "held_out", two_object_fraction=0.4, count_fraction=0.3) for _ in range(160)]
    images = torch.from_numpy(np.stack([e.image for e in examples])).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        decoded = vae.decode(vae.encode(images).latent_dist.mode()).sample
    reconstructions = ((decoded.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    checks, passed = Counter(), Counter()
    for example, image in zip(examples, reconstructions):
        for name, ok in judge(image, example.caption).checks.items():
            checks[name] += 1
            passed[name] += ok
    for name in checks:
        assert passed[name] / checks[name] >= 0.97, (name, passed[name], checks[name])
