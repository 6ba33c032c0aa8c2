"""Draws shapes-world layouts into RGB images with OpenCV: 64x64, the world's own size, or larger (the same
geometry at a finer grid, what an upscaler should reproduce)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .grammar import BACKGROUND, COLOURS, IMAGE_SIZE, SIZES


@dataclass(frozen=True)
class PlacedShape:
    """A shape with everything needed to draw it: centre (x, y) in pixels and half-side `radius`."""

    colour: str
    shape: str
    x: int
    y: int
    radius: int

    @property
    def size(self) -> str:
        return min(SIZES, key=lambda name: abs(SIZES[name] - self.radius))


SHIFT = 3  # OpenCV's fractional bits: coordinates are given in 1/8 pixel


def _triangle(x: int, y: int, r: int) -> np.ndarray:
    # Pointing up, filling its 2r x 2r bounding box.
    return np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], dtype=np.int32)


def draw(
    shapes: list[PlacedShape] | tuple[PlacedShape, ...], background=BACKGROUND, size: int = IMAGE_SIZE
) -> np.ndarray:
    """Renders `shapes` in order (later ones on top) at `size` pixels a side (a multiple of 64).

    At 64 the shapes' pixel coordinates are used as they are. At a larger size each of those pixels becomes a
    (size / 64)-pixel block: a 64-grid pixel centre x lies at (x + 1/2) * scale - 1/2 on the finer grid.

    Returns:
        uint8 array of shape (size, size, 3), RGB.
    """
    if size % IMAGE_SIZE:
        raise ValueError(f"size must be a multiple of {IMAGE_SIZE}, got {size}")
    scale = size // IMAGE_SIZE
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = background
    one = 1 << SHIFT

    def at(v: int) -> int:  # a 64-grid pixel centre, on the finer grid, in fixed point
        return round(((v + 0.5) * scale - 0.5) * one)

    for s in shapes:
        colour = tuple(int(c) for c in COLOURS[s.colour])
        if s.shape == "circle":
            centre, radius = (at(s.x), at(s.y)), s.radius * scale * one
            cv2.circle(image, centre, radius, colour, thickness=-1, lineType=cv2.LINE_AA, shift=SHIFT)
        elif s.shape == "square":  # at 64: pixels x - r ... x + r inclusive, i.e. 2r + 1 of them
            low, high = (s.x - s.radius) * scale, (s.x + s.radius + 1) * scale - 1
            top, bottom = (s.y - s.radius) * scale, (s.y + s.radius + 1) * scale - 1
            cv2.rectangle(image, (low, top), (high, bottom), colour, -1)
        elif s.shape == "triangle":
            points = np.array([[at(x), at(y)] for x, y in _triangle(s.x, s.y, s.radius)], dtype=np.int32)
            cv2.fillPoly(image, [points], colour, lineType=cv2.LINE_AA, shift=SHIFT)
        else:
            raise ValueError(f"unknown shape {s.shape!r}")
    return image
