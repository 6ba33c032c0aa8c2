"""Random scenes of the shapes world with captions, and the split between training and held-out.

*Held out* means attribute combinations that never appear in a training image, whatever its caption
says: some (colour, shape, place) triples for one object, some unordered pairs of object kinds for two, and some
(colour, shape, count) triples for counts ("three blue squares").
The evaluation prompts are built only from those combinations, so they measure generalisation.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import numpy as np

from .grammar import COLOURS, NUMBERS, PLACES, RELATIONS, SHAPES, SIZES, Scene, ShapeSpec, describe, parse_caption
from .render import PlacedShape, draw

JITTER = 2
TWO_OBJECT_RADIUS = (8, 10)  # radius range when a two-object caption gives no size
COUNT_SIZE_SHARE = 0.3  # share of the counts whose caption says their size, unless a run sets another
COUNT_GAP = 4  # pixels of background at least between the bounding boxes of counted objects (touching ones merge)


def _held_out_triples() -> frozenset[tuple[str, str, str]]:
    triples = list(itertools.product(COLOURS, SHAPES, PLACES))
    return frozenset(random.Random(1234).sample(triples, k=len(triples) // 10))


def _held_out_pairs() -> frozenset[frozenset[tuple[str, str]]]:
    kinds = list(itertools.product(COLOURS, SHAPES))
    pairs = [frozenset(p) for p in itertools.combinations(kinds, 2) if p[0][0] != p[1][0]]
    return frozenset(random.Random(4321).sample(pairs, k=len(pairs) // 10))


def _held_out_counts() -> frozenset[tuple[str, str, int]]:
    triples = list(itertools.product(COLOURS, SHAPES, sorted(NUMBERS.values())))
    return frozenset(random.Random(2468).sample(triples, k=len(triples) // 6))


HELD_OUT_TRIPLES = _held_out_triples()
HELD_OUT_PAIRS = _held_out_pairs()
HELD_OUT_COUNTS = _held_out_counts()


@dataclass(frozen=True)
class Example:
    """A drawn image with the caption used for it and the full layout (the ground truth)."""

    image: np.ndarray  # (64, 64, 3) uint8 RGB
    caption: str
    scene: Scene  # what the caption says
    layout: tuple[PlacedShape, ...]  # what was drawn


def _is_held_out(place: str | None, shapes: tuple[PlacedShape, ...]) -> bool:
    if len({(s.colour, s.shape) for s in shapes}) == 1 and len(shapes) > 1:
        return (shapes[0].colour, shapes[0].shape, len(shapes)) in HELD_OUT_COUNTS
    if len(shapes) == 1:
        return (shapes[0].colour, shapes[0].shape, place) in HELD_OUT_TRIPLES
    return frozenset((s.colour, s.shape) for s in shapes) in HELD_OUT_PAIRS


def _jitter(rng: random.Random, v: int) -> int:
    return v + rng.randint(-JITTER, JITTER)


def layout_one(spec: ShapeSpec, rng: random.Random) -> tuple[PlacedShape, ...]:
    """Places one object at its place (random if unsaid) with its size (random if unsaid)."""
    place = spec.place or rng.choice(list(PLACES))
    radius = SIZES[spec.size or rng.choice(list(SIZES))]
    x, y = PLACES[place]
    return (PlacedShape(spec.colour, spec.shape, _jitter(rng, x), _jitter(rng, y), radius),)


def layout_two(scene: Scene, rng: random.Random) -> tuple[PlacedShape, ...]:
    """Places two objects so that the first stands in `scene.relation` to the second."""
    first, second = scene.objects
    lanes = [16, 32, 48]
    near, far = 16, 48
    if scene.relation in ("above", "below"):
        ys = (near, far) if scene.relation == "above" else (far, near)
        xs = (rng.choice(lanes), rng.choice(lanes))
    else:
        xs = (near, far) if scene.relation == "to the left of" else (far, near)
        ys = (rng.choice(lanes), rng.choice(lanes))
    placed = []
    for spec, x, y in zip((first, second), xs, ys):
        radius = SIZES[spec.size] if spec.size else rng.randint(*TWO_OBJECT_RADIUS)
        placed.append(PlacedShape(spec.colour, spec.shape, _jitter(rng, x), _jitter(rng, y), radius))
    return tuple(placed)


def layout_many(spec: ShapeSpec, rng: random.Random) -> tuple[PlacedShape, ...]:
    """Places `spec.count` copies of one kind anywhere, their bounding boxes at least COUNT_GAP pixels apart."""
    while True:
        radius = SIZES[spec.size] if spec.size else rng.randint(*TWO_OBJECT_RADIUS)
        placed: list[PlacedShape] = []
        for _ in range(200):
            x, y = rng.randint(radius + 1, 62 - radius), rng.randint(radius + 1, 62 - radius)
            if all(max(abs(x - p.x), abs(y - p.y)) >= 2 * radius + COUNT_GAP for p in placed):
                placed.append(PlacedShape(spec.colour, spec.shape, x, y, radius))
                if len(placed) == spec.count:
                    return tuple(placed)


def layout_scene(scene: Scene, rng: random.Random) -> tuple[PlacedShape, ...]:
    """A drawn layout of any scene a caption can ask for: one object, two in a relation, or a count of one kind."""
    if scene.relation is not None:
        return layout_two(scene, rng)
    (spec,) = scene.objects
    return layout_many(spec, rng) if spec.count > 1 else layout_one(spec, rng)


def _random_object(rng: random.Random, exclude_colour: str | None = None) -> tuple[str, str]:
    colour = rng.choice([c for c in COLOURS if c != exclude_colour])
    return colour, rng.choice(SHAPES)


def sample_example(
    rng: random.Random,
    split: str = "train",
    two_object_fraction: float = 0.4,
    count_fraction: float = 0.0,
    count_size_share: float = COUNT_SIZE_SHARE,
) -> Example:
    """Draws one random scene and a caption of it.

    The caption always names each object's colour and shape (and the relation of two objects); it names
    size and place only sometimes, so a model learns what unsaid attributes look like.

    Args:
        rng: the source of randomness (seeded by the caller).
        split: "train" (never a held-out combination) or "held_out" (only held-out combinations).
        two_object_fraction: probability of a two-object scene (among the scenes that are not counts).
        count_fraction: probability of a count of one kind ("three blue squares"); 0 draws exactly the batches
            drawn before counting existed.
        count_size_share: probability that a count says its size ("three large blue squares"); unsaid, the
            objects' size lies between small and large.
    """
    if split not in ("train", "held_out"):
        raise ValueError(f"`split` must be 'train' or 'held_out', got {split!r}")
    while True:
        if count_fraction and rng.random() < count_fraction:
            colour, shape = _random_object(rng)
            size = rng.choice(list(SIZES)) if rng.random() < count_size_share else None
            scene = Scene((ShapeSpec(colour, shape, size, None, rng.choice(sorted(NUMBERS.values()))),))
            layout, place = layout_many(scene.objects[0], rng), None
        elif rng.random() < two_object_fraction:
            (c1, s1), relation = _random_object(rng), rng.choice(RELATIONS)
            c2, s2 = _random_object(rng, exclude_colour=c1)
            sizes = [rng.choice(list(SIZES)) if rng.random() < 0.3 else None for _ in range(2)]
            scene = Scene((ShapeSpec(c1, s1, sizes[0]), ShapeSpec(c2, s2, sizes[1])), relation)
            layout, place = layout_two(scene, rng), None
        else:
            colour, shape = _random_object(rng)
            place, size = rng.choice(list(PLACES)), rng.choice(list(SIZES))
            layout = layout_one(ShapeSpec(colour, shape, size, place), rng)
            said = ShapeSpec(
                colour,
                shape,
                size if rng.random() < 0.5 else None,
                place if rng.random() < 0.8 else None,
            )
            scene = Scene((said,))
        if _is_held_out(place, layout) == (split == "held_out"):
            return Example(draw(layout), describe(scene), scene, layout)


def held_out_prompts() -> list[str]:
    """The fixed evaluation prompts: every held-out one-object triple, and every held-out pair in two relations."""
    prompts = [describe(Scene((ShapeSpec(c, s, None, p),))) for c, s, p in sorted(HELD_OUT_TRIPLES)]
    for pair in sorted(HELD_OUT_PAIRS, key=sorted):
        a, b = sorted(pair)
        prompts.append(describe(Scene((ShapeSpec(*a), ShapeSpec(*b)), "above")))
        prompts.append(describe(Scene((ShapeSpec(*b), ShapeSpec(*a)), "to the left of")))
    return prompts


def held_out_counting_prompts() -> list[str]:
    """The fixed counting prompts: every held-out (colour, shape, count) triple, without a size and with each size."""
    return [
        describe(Scene((ShapeSpec(c, s, size, None, n),)))
        for c, s, n in sorted(HELD_OUT_COUNTS)
        for size in (None, *SIZES)
    ]


PARAPHRASE_SEED = 17


def held_out_paraphrases(seed: int = PARAPHRASE_SEED, prompts: list[str] | None = None) -> list[str]:
    """The held-out prompts, each written in a fixed (seeded) non-canonical phrasing: synonyms, other prepositions
    and articles or none, "left of", fillers, capitals, punctuation ("Violet box at the lower right corner.").
    Same pictures asked for, in the same order, as `held_out_prompts()` (or `prompts`), so the two splits compare
    skill by skill."""
    from .phrasing import converse, phrase_other_than_canonical

    rng = random.Random(seed)
    paraphrases = []
    for prompt in held_out_prompts() if prompts is None else prompts:
        scene = parse_caption(prompt)
        # Half the pairs are said the other way round, which asks for the same picture: "b below a" for "a above b".
        if scene.relation is not None and rng.random() < 0.5:
            scene = converse(scene)
        paraphrases.append(phrase_other_than_canonical(scene, rng))
    return paraphrases
