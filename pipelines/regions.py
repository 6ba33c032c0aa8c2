"""Painted region maps on a UNet's attention layers: the size of each layer and the labels on it."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image


def resize_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resizes a label map with NEAREST (labels stay exact: no blended colours)."""
    if labels.shape == (height, width):
        return labels
    return np.asarray(Image.fromarray(labels).resize((width, height), Image.NEAREST))


def layer_size(n_pixels: int, latent_size: tuple[int, int]) -> tuple[int, int]:
    """The (h, w) of the UNet layer that has `n_pixels` positions, on a `latent_size` latent."""
    h0, w0 = latent_size
    factor = 1
    while factor <= max(h0, w0):
        h, w = math.ceil(h0 / factor), math.ceil(w0 / factor)  # stride-2 convs with padding round up
        if h * w == n_pixels:
            return h, w
        factor *= 2
    raise RuntimeError(f"cannot place {n_pixels} attention positions on a {h0}x{w0} latent")


def layer_labels(labels: np.ndarray, n_pixels: int, latent_size: tuple[int, int]) -> torch.Tensor:
    """The label map on the layer with `n_pixels` positions, flattened: (n_pixels,) int64."""
    height, width = layer_size(n_pixels, latent_size)
    return torch.from_numpy(resize_labels(labels, height, width).astype(np.int64)).flatten()
