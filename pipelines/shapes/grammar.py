"""The shapes world's vocabulary and caption grammar, written once.

A caption is one object with an optional place, two objects in a relation, or a count of one kind::

    caption  := object [place] | object relation object | count
    object   := [article] [size] colour shape
    count    := ["the"] ("two" | "three") [size] colour plural-shape      ("three blue squares")
    place    := ("on" | "at" | "in") "the" place-words ["corner" | "side"]
    relation := "above" | "below" | "to the left of" | "to the right of"  (and a few synonyms)

`parse_caption` turns a caption into a `Scene`; `describe` turns a `Scene` back into a caption.
The generator, the tokenizer and the judge all read the tables below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IMAGE_SIZE = 64

# name -> RGB; saturated so that the judge separates them from the pale background by saturation.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 225),
    "yellow": (235, 205, 30),
    "purple": (150, 55, 200),
    "orange": (245, 135, 25),
}
BACKGROUND = (240, 240, 240)
SHAPES = ("circle", "square", "triangle")
# name -> half the side of the shape's bounding box, in pixels of a 64x64 image.
SIZES: dict[str, int] = {"small": 7, "large": 12}
# name -> (x, y) centre in a 64x64 image. Two-word places are written with a space.
PLACES: dict[str, tuple[int, int]] = {
    "left": (16, 32),
    "right": (48, 32),
    "top": (32, 16),
    "bottom": (32, 48),
    "center": (32, 32),
    "top left": (16, 16),
    "top right": (48, 16),
    "bottom left": (16, 48),
    "bottom right": (48, 48),
}
RELATIONS = ("above", "below", "to the left of", "to the right of")

# Words users type for the same thing; folded before parsing.
SYNONYMS: dict[str, str] = {
    "centre": "center",
    "middle": "center",
    "big": "large",
    "little": "small",
    "tiny": "small",
    "violet": "purple",
    "box": "square",
    "under": "below",
    "beneath": "below",
    "over": "above",
    "upper": "top",
    "lower": "bottom",
}
ARTICLES = ("a", "an", "the", "one")
PLACE_PREPOSITIONS = ("on", "at", "in")
FILLER = ("corner", "side", "of", "to", "image", "picture")
NUMBERS: dict[str, int] = {"two": 2, "three": 3}
# plural -> singular, for the shapes and their synonyms
PLURALS: dict[str, str] = {"circles": "circle", "squares": "square", "triangles": "triangle", "boxes": "box"}

# In the order of token ids (`tokenizer.py`): the first vocabulary sorted, then the counting words, appended so that
# the released text encoders' embedding rows keep their ids.
VOCABULARY: tuple[str, ...] = tuple(
    sorted(
        set(COLOURS)
        | set(SHAPES)
        | set(SIZES)
        | {w for p in PLACES for w in p.split()}
        | {w for r in RELATIONS for w in r.split()}
        | set(SYNONYMS)
        | set(ARTICLES)
        | set(PLACE_PREPOSITIONS)
        | set(FILLER)
        | {"and", ",", ".", "-"}
    )
) + (*NUMBERS, *PLURALS)


class CaptionError(ValueError):
    """A caption the shapes world cannot read; the message says why in words a person understands."""


@dataclass(frozen=True)
class ShapeSpec:
    """One kind of object: colour and shape always; size and place only when the caption says them; `count`
    copies of it ("three blue squares": count 3, never with a place)."""

    colour: str
    shape: str
    size: str | None = None
    place: str | None = None
    count: int = 1

    @property
    def kind(self) -> tuple[str, str]:
        return (self.colour, self.shape)


@dataclass(frozen=True)
class Scene:
    """What a caption asks for: one object, or two with `relation` saying where the first is, or `count` copies of
    one kind (a single `ShapeSpec` with that count)."""

    objects: tuple[ShapeSpec, ...]
    relation: str | None = None

    @property
    def object_count(self) -> int:
        return sum(spec.count for spec in self.objects)


def words_of(text: str) -> list[str]:
    """Lower-cases and splits a caption into the words the tokenizer sees (punctuation is its own word)."""
    return re.findall(r"[a-z]+|[^\sa-z]", text.lower())


def unknown_words(text: str, vocabulary=VOCABULARY) -> list[str]:
    """Words of `text` outside `vocabulary` (the grammar's, or a saved model's), in order of first appearance."""
    seen: list[str] = []
    for word in words_of(text):
        if word not in vocabulary and word not in seen:
            seen.append(word)
    return seen


def _normalise(text: str) -> list[str]:
    unknown = unknown_words(text)
    if unknown:
        raise CaptionError(
            f"The shapes world does not know the word(s) {', '.join(repr(w) for w in unknown)}. "
            f"It knows colours ({', '.join(COLOURS)}), shapes ({', '.join(SHAPES)}), sizes "
            f"({', '.join(SIZES)}), places (left, right, top, bottom, center, corners), relations "
            f"({', '.join(RELATIONS)}) and counts (two, three)."
        )
    return [SYNONYMS.get(w, w) for w in words_of(text) if w not in (",", ".", "-")]


def _parse_object(words: list[str], text: str) -> ShapeSpec:
    words = [w for w in words if w not in ARTICLES]
    count = NUMBERS[words.pop(0)] if words and words[0] in NUMBERS else 1
    size = words.pop(0) if words and words[0] in SIZES else None
    shape = words[1] if len(words) == 2 else None
    plural = shape in PLURALS
    if plural:
        shape = SYNONYMS.get(PLURALS[shape], PLURALS[shape])
    if len(words) != 2 or words[0] not in COLOURS or shape not in SHAPES:
        raise CaptionError(
            f"Could not find an object like 'a red circle', 'a small blue square' or 'two green triangles' in "
            f"{text!r}: each object needs a colour followed by a shape."
        )
    if plural != (count > 1):
        raise CaptionError(
            f"{text!r} mixes one and many: write 'a {words[0]} {shape}' for one, 'two {words[0]} {shape}s' for two."
        )
    return ShapeSpec(colour=words[0], shape=shape, size=size, count=count)


def _parse_place(words: list[str], text: str) -> str:
    words = [w for w in words if w not in ARTICLES and w not in PLACE_PREPOSITIONS and w not in FILLER]
    place = " ".join(words)
    if place == "left top" or place == "right top" or place == "left bottom" or place == "right bottom":
        place = " ".join(reversed(words))
    if place not in PLACES:
        raise CaptionError(f"Could not read a place in {text!r}; try 'on the left' or 'in the top right corner'.")
    return place


def _find_relation(words: list[str]) -> tuple[int, int, str] | None:
    """(start, end, relation) of the first relation phrase in `words`, or None."""
    for start in range(len(words)):
        for relation in sorted(RELATIONS, key=len, reverse=True):
            parts = relation.split()
            if words[start : start + len(parts)] == parts:
                return start, start + len(parts), relation
        # "left of" / "right of" without "to the"
        if words[start : start + 2] in (["left", "of"], ["right", "of"]):
            return start, start + 2, f"to the {words[start]} of"
    return None


def parse_caption(text: str) -> Scene:
    """Reads a caption of the shapes world.

    Args:
        text: e.g. "a red circle", "a small blue square at the top", "a red circle above a blue square".

    Returns:
        The `Scene` the caption asks for.

    Raises:
        CaptionError: unknown words, or words in an order the grammar cannot read.
    """
    words = _normalise(text)
    if not words:
        raise CaptionError("The caption is empty; try 'a red circle on the left'.")
    relation = _find_relation(words)
    if relation is not None:
        start, end, name = relation
        first, second = _parse_object(words[:start], text), _parse_object(words[end:], text)
        if first.count > 1 or second.count > 1:
            raise CaptionError(
                f"Counts work for one kind of object alone ('three blue squares'); {text!r} puts one in a relation."
            )
        return Scene(objects=(first, second), relation=name)
    # One object, maybe followed by a place phrase starting at a preposition.
    cut = next((i for i, w in enumerate(words) if w in PLACE_PREPOSITIONS), len(words))
    obj = _parse_object(words[:cut], text)
    if cut < len(words):
        if obj.count > 1:
            raise CaptionError(
                f"A place can be given for one object only ('a red circle on the left'); {text!r} gives one for "
                f"{obj.count}. Try {describe(Scene((obj,)))!r}."
            )
        obj = ShapeSpec(obj.colour, obj.shape, obj.size, _parse_place(words[cut:], text))
    return Scene(objects=(obj,))


def _describe_object(spec: ShapeSpec) -> str:
    words = [spec.size] if spec.size else []
    if spec.count > 1:
        number = next(word for word, n in NUMBERS.items() if n == spec.count)
        return " ".join([number, *words, spec.colour, f"{spec.shape}s"])
    words += [spec.colour, spec.shape]
    article = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([article, *words])


def place_phrase(place: str) -> str:
    if place in ("left", "right"):
        return f"on the {place}"
    if place in ("top", "bottom"):
        return f"at the {place}"
    if place == "center":
        return "in the center"
    return f"in the {place} corner"


def describe(scene: Scene) -> str:
    """The canonical caption of `scene`; `parse_caption(describe(s)) == s`."""
    if scene.relation is not None:
        first, second = scene.objects
        return f"{_describe_object(first)} {scene.relation} {_describe_object(second)}"
    (obj,) = scene.objects
    text = _describe_object(obj)
    return f"{text} {place_phrase(obj.place)}" if obj.place else text
