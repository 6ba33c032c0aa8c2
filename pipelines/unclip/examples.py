"""Shapes-world pictures (drawn, not generated) and captions to start the unCLIP demos from."""

from __future__ import annotations

import random

from PIL import Image


def example_image(caption: str, seed: int = 0) -> Image.Image:
    """A shapes-world picture of `caption` (drawn, not generated): a ready input for the demos."""
    from ..shapes.grammar import parse_caption
    from ..shapes.render import draw
    from ..shapes.world import layout_scene

    return Image.fromarray(draw(layout_scene(parse_caption(caption), random.Random(seed))))


def shapes_captions() -> list[str]:
    """Candidate captions for the text-diff source: every colour-shape pair, with and without a place."""
    from ..shapes.grammar import COLOURS, PLACES, SHAPES, Scene, ShapeSpec, describe

    captions = []
    for colour in COLOURS:
        for shape in SHAPES:
            captions.append(describe(Scene((ShapeSpec(colour, shape),))))
            captions += [describe(Scene((ShapeSpec(colour, shape, None, p),))) for p in PLACES]
    return captions
