"""The bundled shapes models, loaded the way the studio loads them, must keep their measured quality.

Minimum scores sit a little below what `python -m pipelines.shapes.evaluate` measured for the released
weights (see the model cards), so a regression in the models, the loading path or a sampler fails CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import DEFAULT_MODELS_DIR
from pipelines.shapes.evaluate import clip_retrieval_accuracy, skill_group, vae_psnr
from pipelines.shapes.grammar import parse_caption
from pipelines.shapes.judge import judge
from pipelines.shapes.world import held_out_counting_prompts, held_out_paraphrases, held_out_prompts
from pipelines.text_to_image import TextToImageRequest, text_to_image

ROOT = Path(__file__).resolve().parents[2]
SHAPES_SD = DEFAULT_MODELS_DIR / "shapes-sd"
SHAPES_CLIP = DEFAULT_MODELS_DIR / "shapes-clip"
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")

# Measured for the released weights (evaluate, 4 seeds): colour 1.0, shape 1.0, position 1.0; two objects: all
# right 0.93, relation 0.95, right count 0.96; CLIP retrieval 0.725; VAE 38.4 dB. On this test's half of the prompts
# x 2 seeds: two objects all 0.88, relation 0.92, count 0.96. The floors catch a return to stage 5 (all 0.69 here),
# to the stage-2/3 model (all 0.31-0.39, relation a coin flip at 0.47-0.52) or to the stage-1 one (position 0.20).
MIN_ONE_OBJECT = {"colour": 0.9, "shape": 0.85, "position": 0.8}
MIN_TWO_OBJECT_COUNT = 0.75
MIN_TWO_OBJECT_RELATION = 0.8
MIN_TWO_OBJECT_ALL = 0.75
# Stage 16 with its decoder tuned on counts (evaluate, seeds 0-3, the judge of 2026-12-07): other phrasings one
# object 1.00, two 0.89; held-out counts right number 0.90, colour 0.94, shape 0.94 (stage 14: 0.78 / 0.90 / 0.78 on
# the earlier judge; stage 11, before the counting words: right number 0.11).
MIN_PARAPHRASE_ALL = {"one": 0.85, "two": 0.7}  # this half of the prompts x 2 seeds: 1.00 / 0.81
# 36 images: 0.89 / 0.94 / 0.94
MIN_COUNTING = {"count": 0.7, "colour": 0.8, "shape": 0.8}
MIN_CLIP_RETRIEVAL = 0.6
MIN_VAE_PSNR_DB = 33.0
# 64 held-out counts ("three large squares"): 33.7 dB since the decoder was tuned on counts (30.1 before)
MIN_VAE_PSNR_COUNTS_DB = 32.0


@pytest.fixture(scope="module")
def manager() -> PipelineManager:
    return PipelineManager(ManagerConfig(device="cpu", offline=True))


def test_bundled_weights_are_safetensors_and_small():
    files = [p for p in DEFAULT_MODELS_DIR.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in PICKLE_SUFFIXES]
    # Five bundled models (the x4 upscaler's UNet alone is 16 MB): a clone stays under 100 MB of weights.
    assert sum(p.stat().st_size for p in files) < 96 * 2**20
    for folder in (SHAPES_SD, SHAPES_CLIP):
        assert (folder / "README.md").is_file(), f"{folder.name} has no model card"


def test_the_default_model_is_the_bundled_shapes_model(manager):
    entry = manager.entry(None)
    assert entry.name == "shapes-sd" and entry.kind == "bundled" and entry.vocabulary == "shapes"
    assert entry.native_size == 64
    assert Path(entry.clip) == SHAPES_CLIP


def test_plain_diffusers_loads_the_folder_with_no_code_of_ours(tmp_path):
    code = (
        "import torch\n"
        "from diffusers import StableDiffusionPipeline, StableDiffusionImg2ImgPipeline\n"
        f"folder = {str(SHAPES_SD)!r}\n"
        "pipe = StableDiffusionPipeline.from_pretrained(folder)\n"
        "image = pipe('a red circle', num_inference_steps=4).images[0]\n"
        "assert image.size == (64, 64), image.size\n"
        "img2img = StableDiffusionImg2ImgPipeline.from_pretrained(folder)\n"
        "out = img2img('a blue square', image=image, strength=0.6, num_inference_steps=4).images[0]\n"
        "assert out.size == (64, 64)\n"
        "import sys; assert not [m for m in sys.modules if m.startswith(('pipelines', 'studio'))]\n"
        "print('ok')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def _scores(manager, prompts: list[str], seeds_per_prompt: int) -> dict[str, float]:
    passed: dict[str, list[bool]] = defaultdict(list)
    for prompt in prompts:
        request = TextToImageRequest(prompt, cfg_scale=5.0, steps=20, seed=0, batch_size=seeds_per_prompt)
        for image in text_to_image(manager, request).images:
            verdict = judge(image, prompt)
            group = skill_group(parse_caption(prompt))
            for name, ok in verdict.checks.items():
                passed[f"{group}/{name}"].append(ok)
            passed[f"{group}/all"].append(verdict.all_correct)
    return {key: float(np.mean(values)) for key, values in passed.items()}


def test_text_to_image_draws_what_held_out_prompts_ask(manager):
    prompts = held_out_prompts()
    scores = _scores(manager, prompts[::2], seeds_per_prompt=2)
    for name, minimum in MIN_ONE_OBJECT.items():
        assert scores[f"one/{name}"] >= minimum, (name, scores)
    assert scores["two/count"] >= MIN_TWO_OBJECT_COUNT, scores
    assert scores["two/relation"] >= MIN_TWO_OBJECT_RELATION, scores
    assert scores["two/all"] >= MIN_TWO_OBJECT_ALL, scores


def test_text_to_image_draws_the_same_prompts_in_other_phrasings(manager):
    scores = _scores(manager, held_out_paraphrases()[::2], seeds_per_prompt=2)
    assert scores["one/all"] >= MIN_PARAPHRASE_ALL["one"], scores
    assert scores["two/all"] >= MIN_PARAPHRASE_ALL["two"], scores


def test_text_to_image_draws_held_out_counts(manager):
    scores = _scores(manager, held_out_counting_prompts(), seeds_per_prompt=2)
    for name, minimum in MIN_COUNTING.items():
        assert scores[f"many/{name}"] >= minimum, (name, scores)


def test_same_prompt_and_seed_give_the_same_image(manager):
    request = TextToImageRequest("a small green triangle at the bottom", seed=5, steps=10)
    first, second = (text_to_image(manager, request).images[0] for _ in range(2))
    assert np.array_equal(np.asarray(first), np.asarray(second))


def test_clip_retrieves_captions_of_held_out_images():
    assert clip_retrieval_accuracy(SHAPES_CLIP, count=200) >= MIN_CLIP_RETRIEVAL


def test_autoencoder_reconstructs_held_out_images():
    assert vae_psnr(SHAPES_SD / "vae", count=64) >= MIN_VAE_PSNR_DB
    assert vae_psnr(SHAPES_SD / "vae", count=64, counts_only=True) >= MIN_VAE_PSNR_COUNTS_DB


def test_evaluate_lists_exactly_the_images_it_scored_wrong():
    from pipelines.shapes.evaluate import load_text_to_image, text_to_image_scores

    pipe = load_text_to_image(SHAPES_SD)
    pipe.set_progress_bar_config(disable=True)
    prompts, seeds, misses = held_out_counting_prompts()[:6], (0, 1), []
    scores = text_to_image_scores(pipe, prompts, seeds, misses=misses)
    assert len(misses) == round((1 - scores["many/all"]) * scores["images"])
    for prompt, seed, summary in misses:
        assert prompt in prompts and seed in seeds and "✗" in summary
