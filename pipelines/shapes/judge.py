"""The judge: reads a shapes-world image with OpenCV and says, attribute by attribute, whether it shows
what a caption asks for. This is how quality becomes a number.

Objects are found by colour: pixels saturated enough to stand out of the pale background are labelled
with the palette colour whose blend with the background comes nearest (so an object's anti-aliased rim keeps
its colour), and each colour's connected blobs are objects. A blob's shape is the ideal shape (square, circle,
upward triangle) drawn into its bounding box that overlaps it most.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from .grammar import BACKGROUND, COLOURS, IMAGE_SIZE, PLACES, SIZES, Scene, ShapeSpec, parse_caption

MIN_AREA = 20  # pixels of a 64x64 image; smaller blobs are noise
SATURATION_MIN = 90
VALUE_MIN = 70
RELATION_MARGIN = 6  # pixels between centres for "above", "to the left of", ...
_THIRD_LOW, _THIRD_HIGH = 26, 38  # bounds of the middle third, in pixels of 64


@dataclass(frozen=True)
class Blob:
    """An object the judge found."""

    colour: str
    shape: str
    x: float  # centroid, pixels
    y: float
    extent: int  # larger side of the bounding box, pixels
    area: int

    @property
    def size(self) -> str:
        return "large" if self.extent > SIZES["small"] + SIZES["large"] else "small"


@dataclass
class Verdict:
    """Per-attribute verdicts for one image and caption; `checks` maps attribute name -> passed.

    Attributes named: "count", "colour", "shape", "size", "position" for one object; for two objects
    "colour", "shape" (both objects) and "relation", and "size" when said; for a count of one kind ("three blue
    squares") "count" (exactly that many objects), "colour" (all of the asked colour), "shape" and "size" (all).
    """

    caption: str
    checks: dict[str, bool] = field(default_factory=dict)
    blobs: list[Blob] = field(default_factory=list)

    @property
    def all_correct(self) -> bool:
        return all(self.checks.values())

    def summary(self) -> str:
        return " ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in self.checks.items())


_PALETTE_NAMES = list(COLOURS)
_PALETTE = np.array([COLOURS[c] for c in _PALETTE_NAMES], dtype=np.float32)
_BACKGROUND = np.array(BACKGROUND, dtype=np.float32)


def _scale_to_64(image: np.ndarray) -> np.ndarray:
    if image.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
        image = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    return image


@lru_cache(maxsize=4096)
def _ideal_masks(height: int, width: int) -> dict[str, np.ndarray]:
    """The three shapes filling a height x width box, drawn 8 times finer and kept where they cover half a pixel."""
    fine = 8
    canvases = {name: np.zeros((height * fine, width * fine), np.uint8) for name in ("square", "circle", "triangle")}
    canvases["square"][:] = 1
    centre, axes = (width * fine // 2, height * fine // 2), (width * fine // 2, height * fine // 2)
    cv2.ellipse(canvases["circle"], centre, axes, 0, 0, 360, 1, thickness=-1)
    apex_and_base = np.array([[width * fine // 2, 0], [0, height * fine - 1], [width * fine - 1, height * fine - 1]])
    cv2.fillPoly(canvases["triangle"], [apex_and_base.astype(np.int32)], 1)
    return {
        name: cv2.resize(canvas.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) >= 0.5
        for name, canvas in canvases.items()
    }


def _shape_of(mask: np.ndarray) -> str:
    """The shape whose ideal drawing in the blob's bounding box overlaps the blob most (intersection over union).

    The bounding box's fill alone misreads small triangles: a decoder that softens their tips by a pixel shrinks the
    box, and a triangle of radius 7 then fills it like a circle."""
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    overlaps = {
        name: np.count_nonzero(crop & ideal) / np.count_nonzero(crop | ideal)
        for name, ideal in _ideal_masks(*crop.shape).items()
    }
    return max(overlaps, key=overlaps.get)


def _palette_index(image: np.ndarray) -> np.ndarray:
    """Per pixel, the palette colour c whose blend a * c + (1 - a) * background (0 <= a <= 1) comes nearest.

    The nearest colour itself would label an orange object's soft rim, half orange and half background, as yellow:
    a thin yellow ring that counts as a second object."""
    pixels = image.astype(np.float32)[:, :, None, :] - _BACKGROUND
    directions = _PALETTE - _BACKGROUND
    amounts = np.clip((pixels * directions).sum(-1) / (directions * directions).sum(-1), 0.0, 1.0)
    return np.linalg.norm(pixels - amounts[..., None] * directions, axis=-1).argmin(-1)


def find_blobs(image: np.ndarray) -> list[Blob]:
    """Finds the objects in an RGB uint8 image (any size; judged at 64x64), largest first."""
    image = _scale_to_64(np.asarray(image)[..., :3].astype(np.uint8))
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    foreground = (hsv[..., 1] >= SATURATION_MIN) & (hsv[..., 2] >= VALUE_MIN)
    nearest = _palette_index(image)
    blobs = []
    for index, colour in enumerate(_PALETTE_NAMES):
        mask = (foreground & (nearest == index)).astype(np.uint8)
        count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for label in range(1, count):
            area = int(stats[label, cv2.CC_STAT_AREA])
            if area < MIN_AREA:
                continue
            extent = int(max(stats[label, cv2.CC_STAT_WIDTH], stats[label, cv2.CC_STAT_HEIGHT]))
            x, y = centroids[label]
            blobs.append(Blob(colour, _shape_of(labels == label), float(x), float(y), extent, area))
    return sorted(blobs, key=lambda b: b.area, reverse=True)


def in_place(x: float, y: float, place: str) -> bool:
    """Whether a centre (pixels of 64) lies in a named place; "left" only constrains x, corners both."""
    tests = {
        "left": x < _THIRD_LOW,
        "right": x > _THIRD_HIGH,
        "top": y < _THIRD_LOW,
        "bottom": y > _THIRD_HIGH,
        "center": _THIRD_LOW - 4 <= x <= _THIRD_HIGH + 4 and _THIRD_LOW - 4 <= y <= _THIRD_HIGH + 4,
    }
    return all(tests[word] for word in place.split())


def in_relation(first: Blob, second: Blob, relation: str) -> bool:
    return {
        "above": first.y < second.y - RELATION_MARGIN,
        "below": first.y > second.y + RELATION_MARGIN,
        "to the left of": first.x < second.x - RELATION_MARGIN,
        "to the right of": first.x > second.x + RELATION_MARGIN,
    }[relation]


def _match(spec: ShapeSpec, blobs: list[Blob]) -> Blob | None:
    """The largest blob of the asked colour, preferring one of the asked shape."""
    same_colour = [b for b in blobs if b.colour == spec.colour]
    same_shape = [b for b in same_colour if b.shape == spec.shape]
    return (same_shape or same_colour or [None])[0]


def _judge_count(verdict: Verdict, spec: ShapeSpec) -> Verdict:
    """Touching objects merge into one blob, so a count is right only if the copies stand apart (as drawn)."""
    blobs = verdict.blobs
    verdict.checks["count"] = len(blobs) == spec.count
    verdict.checks["colour"] = bool(blobs) and all(b.colour == spec.colour for b in blobs)
    verdict.checks["shape"] = bool(blobs) and all(b.shape == spec.shape for b in blobs)
    if spec.size:
        verdict.checks["size"] = bool(blobs) and all(b.size == spec.size for b in blobs)
    return verdict


def judge_scene(image: np.ndarray, scene: Scene, caption: str = "") -> Verdict:
    blobs = find_blobs(image)
    verdict = Verdict(caption=caption, blobs=blobs)
    if scene.objects[0].count > 1:
        return _judge_count(verdict, scene.objects[0])
    matches = [_match(spec, blobs) for spec in scene.objects]
    verdict.checks["count"] = len(blobs) == len(scene.objects)
    verdict.checks["colour"] = all(m is not None for m in matches)
    verdict.checks["shape"] = all(m is not None and m.shape == s.shape for s, m in zip(scene.objects, matches))
    if any(spec.size for spec in scene.objects):
        verdict.checks["size"] = all(
            m is not None and m.size == s.size for s, m in zip(scene.objects, matches) if s.size
        )
    if scene.relation is None:
        (spec,), (match,) = scene.objects, matches
        if spec.place:
            verdict.checks["position"] = match is not None and in_place(match.x, match.y, spec.place)
    else:
        first, second = matches
        verdict.checks["relation"] = (
            first is not None
            and second is not None
            and first is not second
            and in_relation(first, second, scene.relation)
        )
    return verdict


def judge(image: np.ndarray, caption: str) -> Verdict:
    """Judges an RGB image (uint8 array or PIL image) against a shapes-world caption.

    Raises:
        CaptionError: the caption is not in the shapes world's grammar.
    """
    return judge_scene(np.asarray(image), parse_caption(caption), caption)


__all__ = ["Blob", "Verdict", "find_blobs", "judge", "judge_scene", "in_place", "in_relation", "PLACES"]
