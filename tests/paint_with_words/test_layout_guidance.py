"""Backward layout guidance: the energy measures attention outside the regions, and a step lowers it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, UNet2DConditionModel

from pipelines.attention import cross_attention_wrapped
from pipelines.layout_guidance import (
    LayoutTarget,
    _AttentionRecorder,
    guide_latents,
    guided_steps,
    region_energy,
)


def halves() -> LayoutTarget:
    """Label 1 on the left half, label 2 on the right half of a 16x16 image; phrases at tokens (1,) and (2, 3)."""
    labels = np.zeros((16, 16), np.uint8)
    labels[:, :8], labels[:, 8:] = 1, 2
    return LayoutTarget(labels, ((1, (1,)), (2, (2, 3))))


def attention_on(columns: slice, token: int) -> torch.Tensor:
    """(1, 64 pixels of 8x8, 4 tokens): `token` attended only from the pixels in `columns`, the rest to token 0."""
    maps = torch.zeros(1, 8, 8, 4)
    maps[..., 0] = 1
    maps[0, :, columns, 0] = 0
    maps[0, :, columns, token] = 1
    return maps.flatten(1, 2)


def test_energy_is_zero_when_each_phrase_attends_inside_and_one_per_phrase_outside():
    inside = [attention_on(slice(0, 4), 1) + attention_on(slice(4, 8), 2) + attention_on(slice(4, 8), 3)]
    assert float(region_energy(inside, halves(), (8, 8))) == pytest.approx(0.0)
    swapped = [attention_on(slice(4, 8), 1) + attention_on(slice(0, 4), 2) + attention_on(slice(0, 4), 3)]
    assert float(region_energy(swapped, halves(), (8, 8))) == pytest.approx(2.0)  # (1 − 0)² for each phrase
    half = [attention_on(slice(2, 6), 1) + attention_on(slice(4, 8), 2)]
    assert float(region_energy(half, halves(), (8, 8))) == pytest.approx(0.25)  # phrase 1 half inside: (1 − ½)²


def test_layers_coarser_than_8x8_are_left_out():
    coarse = [torch.rand(1, 16, 4)]  # a 4x4 layer
    assert float(region_energy(coarse + [attention_on(slice(0, 4), 1)], halves(), (8, 8))) == pytest.approx(1.0)


def test_guided_steps_are_the_first_quarter():
    assert [guided_steps(n) for n in (1, 3, 4, 20, 25)] == [1, 1, 1, 5, 7]


@pytest.fixture(scope="module")
def unet(tiny_folder):
    return UNet2DConditionModel.from_pretrained(tiny_folder / "unet", local_files_only=True).eval()


def energy_of(unet, latents, timestep, context, target) -> float:
    maps: list[torch.Tensor] = []
    with cross_attention_wrapped(unet, lambda original: _AttentionRecorder(original, maps)), torch.no_grad():
        unet(latents, timestep, context)
    return float(region_energy(maps, target, tuple(latents.shape[-2:])).sum())


def test_a_guidance_step_lowers_the_energy_and_leaves_the_unet_as_it_was(unet):
    torch.manual_seed(0)
    size = 8 * unet.config.sample_size
    labels = np.zeros((size, size), np.uint8)
    labels[:, : size // 2] = 1
    target = LayoutTarget(labels, ((1, (1, 2)),))
    context = torch.randn(1, 16, unet.config.cross_attention_dim)
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(10)
    timestep = scheduler.timesteps[1]
    before_processors = dict(unet.attn_processors)
    with torch.inference_mode():  # as inside a diffusers pipeline call
        latents = torch.randn(1, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
        guided = guide_latents(unet, scheduler, latents, timestep, context, target, step_size=0.05)
    assert unet.attn_processors == before_processors
    assert all(p.grad is None for p in unet.parameters())
    assert guided.shape == latents.shape and not torch.equal(guided, latents)
    before = energy_of(unet, latents.clone(), timestep, context, target)
    after = energy_of(unet, guided.clone(), timestep, context, target)
    assert after < before
