"""Batches of shapes-world examples as tensors, drawn on the fly from a seed and a step number, so that a
resumed training run sees exactly the batches it would have seen."""

from __future__ import annotations

import random

import numpy as np
import torch

from .world import COUNT_SIZE_SHARE, Example, sample_example


def batch_rng(seed: int, step: int) -> random.Random:
    return random.Random(seed * 1_000_003 + step)


def images_to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """uint8 (H, W, 3) images -> float tensor (B, 3, H, W) in [-1, 1]."""
    array = np.stack(images).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def draw_batch(
    seed: int,
    step: int,
    batch_size: int,
    split: str = "train",
    two_object_fraction: float = 0.4,
    count_fraction: float = 0.0,
    count_size_share: float = COUNT_SIZE_SHARE,
) -> tuple[torch.Tensor, list[str], list[Example]]:
    rng = batch_rng(seed, step)
    examples = [
        sample_example(rng, split, two_object_fraction, count_fraction, count_size_share) for _ in range(batch_size)
    ]
    return images_to_tensor([e.image for e in examples]), [e.caption for e in examples], examples
