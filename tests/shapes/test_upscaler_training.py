"""The bundled x4 upscaler's pieces: the world's 256 render, the rescaled VAE, the training entry point and the
quality measures (against the 256 render, beside bicubic)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.shapes.data import images_to_tensor
from pipelines.shapes.judge import judge
from pipelines.shapes.render import draw
from pipelines.shapes.train_upscaler import PIPELINE_SCALING, crop_batch, loss_weights, rescaled_vae, schedulers
from pipelines.shapes.upscaler_quality import bicubic, edge_widths, held_out_scenes, nearest, psnr
from pipelines.shapes.world import sample_example

ROOT = Path(__file__).resolve().parents[2]
SD = ROOT / "assets" / "models" / "shapes-sd"


def test_the_256_render_is_the_64_render_at_a_finer_grid():
    rng = random.Random(3)
    for _ in range(20):
        example = sample_example(rng, two_object_fraction=0.5)
        high = draw(example.layout, size=256)
        assert high.shape == (256, 256, 3)
        down = high.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
        assert np.abs(down - example.image).mean() < 3  # only anti-aliased edges differ
        assert judge(high, example.caption).checks == judge(example.image, example.caption).checks
    with pytest.raises(ValueError, match="multiple of 64"):
        draw(example.layout, size=100)


def test_rescaled_vae_reconstructs_the_same_with_the_pipelines_scaling_factor():
    from diffusers import AutoencoderKL

    original = AutoencoderKL.from_pretrained(SD / "vae").eval()
    rescaled = rescaled_vae(AutoencoderKL.from_pretrained(SD / "vae").eval())
    assert rescaled.config.scaling_factor == PIPELINE_SCALING
    images = images_to_tensor([sample_example(random.Random(i)).image for i in range(2)])
    with torch.no_grad():
        z = original.encode(images).latent_dist.mode() * original.config.scaling_factor
        z_new = rescaled.encode(images).latent_dist.mode() * rescaled.config.scaling_factor
        torch.testing.assert_close(z_new, z, rtol=1e-4, atol=1e-4)  # the UNet sees shapes-sd's latent scale
        torch.testing.assert_close(
            rescaled.decode(z_new / PIPELINE_SCALING).sample,
            original.decode(z / original.config.scaling_factor).sample,
            rtol=1e-3,
            atol=1e-3,
        )


def test_crops_are_aligned_pairs():
    low, high = crop_batch(0, 0, 3)
    assert low.shape == (3, 3, 32, 32) and high.shape == (3, 3, 128, 128)
    down = torch.nn.functional.avg_pool2d(high, 4)
    assert (down - low).abs().mean() < 0.03


def test_loss_weights_are_min_snr_5_with_a_floor_at_the_noisiest_steps():
    alphas = schedulers()[1].alphas_cumprod
    snr = alphas / (1 - alphas)
    weights = loss_weights(snr)
    x0_weights = weights * (snr + 1)  # the same loss written on x0
    assert torch.all(x0_weights >= 1 - 1e-6) and torch.all(x0_weights <= 5 + 1e-6)
    assert weights[999] > 0.99  # plain min-SNR gives 0.005 here, where the colours are set
    low = snr > 5
    torch.testing.assert_close(weights[low], 5 / (snr[low] + 1))  # min-SNR-5 where the picture is nearly clean


def test_noise_levels_are_embedded_smoothly_not_looked_up():
    from diffusers import UNet2DConditionModel

    from pipelines.shapes.configs import upscaler_unet_config

    unet = UNet2DConditionModel(**upscaler_unet_config(16)).eval()
    sample = torch.zeros(1, 4, 16, 16)
    with torch.no_grad():
        embed = {level: unet.get_class_embed(sample, torch.tensor([level])) for level in (20, 21, 300)}
    assert not isinstance(unet.class_embedding, torch.nn.Embedding)
    assert (embed[20] - embed[21]).norm() < (embed[20] - embed[300]).norm() / 3  # neighbours share what they learn
    with torch.no_grad():
        embed[1000] = unet.get_class_embed(sample, torch.tensor([1000]))  # any level: no table to overflow
    assert torch.isfinite(embed[1000]).all()


def test_edge_width_tells_the_render_from_bicubic():
    references, cubics = [], []
    for example in held_out_scenes(12):
        reference = draw(example.layout, size=256)
        references += edge_widths(reference, reference, example.layout)
        cubics += edge_widths(bicubic(example.image), reference, example.layout)
    assert len(references) > 50
    assert np.median(references) < 1.2 < 2.0 < np.median(cubics)
    example = held_out_scenes(1)[0]
    assert psnr(nearest(example.image), draw(example.layout, size=256)) > psnr(
        bicubic(example.image), draw(example.layout, size=256)
    )


@pytest.mark.slow
def test_training_saves_an_upscale_pipeline_that_resumes_and_draws_256(tmp_path):
    from diffusers import StableDiffusionUpscalePipeline
    from PIL import Image

    command = [sys.executable, "-m", "pipelines.shapes.train_upscaler", "train", "--steps", "2", "--batch-size", "2"]
    command += ["--assets-dir", str(tmp_path / "assets"), "--runs-dir", str(tmp_path / "runs")]
    for steps in ("2", "3"):  # the second run resumes at step 2
        command[command.index("--steps") + 1] = steps
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed upscaler at step 2" in done.stderr
    warm = command[:-4] + ["--assets-dir", str(tmp_path / "warm"), "--runs-dir", str(tmp_path / "warm-runs")]
    warm += ["--init-from", str(tmp_path / "runs" / "upscaler" / "checkpoint.safetensors")]
    started = subprocess.run(warm, cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ)
    assert started.returncode == 0, started.stderr[-3000:]
    assert "left as initialised: nothing" in started.stderr
    facts = (tmp_path / "warm" / "shapes-upscaler" / "unet" / "training.json").read_text()
    assert "the UNet of an earlier run at step 3" in facts
    folder = tmp_path / "assets" / "shapes-upscaler"
    pipe = StableDiffusionUpscalePipeline.from_pretrained(folder)
    assert pipe.unet.config.in_channels == 7 and pipe.config.max_noise_level == 350
    picture = Image.fromarray(held_out_scenes(1)[0].image)
    out = pipe(prompt="", image=picture, num_inference_steps=2, guidance_scale=1.0, output_type="np").images
    assert out.shape == (1, 256, 256, 3) and np.isfinite(out).all()


BUNDLED_UPSCALER = ROOT / "assets" / "models" / "shapes-upscaler"


@pytest.mark.skipif(not BUNDLED_UPSCALER.exists(), reason="no bundled upscaler")
def test_the_bundled_upscaler_keeps_what_the_judge_reads_and_beats_bicubic():
    from diffusers import StableDiffusionUpscalePipeline
    from PIL import Image

    from pipelines.shapes.upscaler_quality import upscale_batches

    pipe = StableDiffusionUpscalePipeline.from_pretrained(BUNDLED_UPSCALER)
    pipe.set_progress_bar_config(disable=True)
    examples = held_out_scenes(8)
    images = upscale_batches(pipe, [(e.caption, Image.fromarray(e.image)) for e in examples], 20, steps=20)
    kept, gains = 0, []
    for example, image in zip(examples, images):
        reference = draw(example.layout, size=256)
        kept += judge(np.asarray(image), example.caption).checks == judge(example.image, example.caption).checks
        gains.append(psnr(np.asarray(image), reference) - psnr(bicubic(example.image), reference))
    assert kept >= 7 and np.mean(gains) > 2.0
