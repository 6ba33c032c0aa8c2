"""Draws shapes-world layouts into 64x64 RGB images with OpenCV."""

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


def _triangle(x: int, y: int, r: int) -> np.ndarray:
    # Pointing up, filling its 2r x 2r bounding box.
    return np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], dtype=np.int32)


def draw(shapes: list[PlacedShape] | tuple[PlacedShape, ...], background=BACKGROUND) -> np.ndarray:
    """Renders `shapes` in order (later ones on top).

    Returns:
        uint8 array of shape (64, 64, 3), RGB.
    """
    image = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    image[:] = background
    for s in shapes:
        colour = tuple(int(c) for c in COLOURS[s.colour])
        if s.shape == "circle":
            cv2.circle(image, (s.x, s.y), s.radius, colour, thickness=-1, lineType=cv2.LINE_AA)
        elif s.shape == "square":
            cv2.rectangle(image, (s.x - s.radius, s.y - s.radius), (s.x + s.radius, s.y + s.radius), colour, -1)
        elif s.shape == "triangle":
            cv2.fillPoly(image, [_triangle(s.x, s.y, s.radius)], colour, lineType=cv2.LINE_AA)
        else:
            raise ValueError(f"unknown shape {s.shape!r}")
    return image
