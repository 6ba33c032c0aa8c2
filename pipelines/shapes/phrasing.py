"""Random phrasings of a scene: every way of writing it that `grammar.parse_caption` reads back to the same scene.

`describe(scene)` writes one canonical caption; people type others ("a blue box at the left", "purple circle in
the middle.", "a yellow square beneath a blue circle", "A green square left of a red triangle"). Training on
`phrase(scene, rng)` for a share of the captions puts every synonym, preposition, article (or none), the corner
and side fillers, "left of" without "to the", commas, hyphens and a trailing full stop into context, so the model
draws what people type and not only the canonical captions. `parse_caption(phrase(scene, rng)) == scene` always
(tests/shapes/test_phrasing.py checks it on random scenes).
"""

from __future__ import annotations

import random

from .grammar import NUMBERS, PLURALS, Scene, ShapeSpec, describe, words_of
from .tokenizer import MAX_LENGTH

# canonical word -> the words people type for it (the canonical one first); the inverse of grammar.SYNONYMS.
WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "large": ("large", "big"),
    "purple": ("purple", "violet"),
    "square": ("square", "box"),
    "center": ("center", "centre", "middle"),
    "top": ("top", "upper"),
    "bottom": ("bottom", "lower"),
}
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
    "to the left of": ("to the left of", "left of"),
    "to the right of": ("to the right of", "right of"),
}
# The preposition that reads naturally before each kind of place; any of on/at/in parses.
NATURAL_PREPOSITION = {"left": "on", "right": "on", "top": "at", "bottom": "at", "center": "in", "corner": "in"}
MAX_WORDS = MAX_LENGTH - 2  # the tokenizer adds BOS and EOS
PLURAL_OF = {singular: plural for plural, singular in PLURALS.items()}
NUMBER_WORD = {n: word for word, n in NUMBERS.items()}


def _word(rng: random.Random, canonical: str) -> str:
    return rng.choice(WORDS.get(canonical, (canonical,)))


def _article(rng: random.Random, first_word: str) -> str | None:
    """'a'/'an' as English wants it most of the time; else 'the', 'one', none, or 'a' before a vowel."""
    roll = rng.random()
    if roll < 0.4:
        return "an" if first_word[0] in "aeiou" else "a"
    if roll < 0.6:
        return "the"
    if roll < 0.7:
        return "one"
    if roll < 0.95:
        return None
    return "a"


def _object(rng: random.Random, spec: ShapeSpec) -> list[str]:
    words = [_word(rng, spec.size)] if spec.size else []
    if spec.count > 1:
        words += [_word(rng, spec.colour), PLURAL_OF[_word(rng, spec.shape)]]
        return (["the"] if rng.random() < 0.15 else []) + [NUMBER_WORD[spec.count], *words]
    words += [_word(rng, spec.colour), _word(rng, spec.shape)]
    article = _article(rng, words[0])
    return [article, *words] if article else words


def _place(rng: random.Random, place: str) -> list[str]:
    parts = place.split()
    kind = "corner" if len(parts) == 2 else parts[0]
    preposition = NATURAL_PREPOSITION[kind] if rng.random() < 0.6 else rng.choice(("on", "at", "in"))
    words = [preposition] + (["the"] if rng.random() < 0.8 else [])
    if len(parts) == 2:
        vertical, horizontal = _word(rng, parts[0]), parts[1]
        pair = [vertical, horizontal] if rng.random() < 0.85 else [horizontal, vertical]
        # "top-left" is three words to the tokenizer: top - left
        words += [pair[0], "-", pair[1]] if rng.random() < 0.15 else pair
        if rng.random() < 0.6:
            words.append("corner")
    else:
        words.append(_word(rng, parts[0]))
        if kind != "center" and rng.random() < 0.35:
            words.append("side")
    # "of the image" after "left"/"right" would read as the relation "left of": only after another word.
    if words[-1] not in ("left", "right") and rng.random() < 0.15:
        words += ["of"] + (["the"] if rng.random() < 0.8 else []) + [rng.choice(("image", "picture"))]
    return words


def _capitalise(rng: random.Random, words: list[str]) -> list[str]:
    roll = rng.random()
    if roll < 0.3:
        return [words[0].capitalize(), *words[1:]]
    if roll < 0.35:
        return [w.upper() for w in words]
    return words


def _join(words: list[str]) -> str:
    text = " ".join(words)
    # punctuation sits on the word before it, as people type it: "circle, on", "top-left", "square."
    return text.replace(" - ", "-").replace(" ,", ",").replace(" .", ".")


def phrase(scene: Scene, rng: random.Random) -> str:
    """One random caption of `scene` in the grammar's language (at most MAX_WORDS words to the tokenizer).

    Args:
        scene: what the caption must say (one object with optional size and place, or two objects in a relation).
        rng: the source of randomness; the same state gives the same caption.

    Returns:
        A caption `c` with `parse_caption(c) == scene`.
    """
    for _ in range(20):
        if scene.relation is not None:
            first, second = scene.objects
            words = _object(rng, first) + rng.choice(RELATION_WORDS[scene.relation]).split() + _object(rng, second)
        else:
            (spec,) = scene.objects
            words = _object(rng, spec)
            if spec.place:
                words += ([","] if rng.random() < 0.1 else []) + _place(rng, spec.place)
        if rng.random() < 0.3:
            words.append(".")
        text = _join(_capitalise(rng, words))
        if len(words_of(text)) <= MAX_WORDS:
            return text
    return describe(scene)


def phrase_other_than_canonical(scene: Scene, rng: random.Random) -> str:
    """A random phrasing of `scene` whose words differ from the canonical caption's (for the paraphrase split)."""
    canonical = [w for w in words_of(describe(scene)) if w not in ",.-"]
    while True:
        text = phrase(scene, rng)
        if [w for w in words_of(text) if w not in ",.-"] != canonical:
            return text


CONVERSE = {
    "above": "below",
    "below": "above",
    "to the left of": "to the right of",
    "to the right of": "to the left of",
}


def converse(scene: Scene) -> Scene:
    """The same picture said the other way round: "b below a" for "a above b" (a scene of one kind: itself)."""
    return Scene(scene.objects[::-1], CONVERSE[scene.relation]) if scene.relation is not None else scene


def phrase_some(
    captions: list[str], scenes: list[Scene], share: float, key: str, converse_share: float = 0.0
) -> list[str]:
    """A training batch's captions with about `share` of them rewritten by `phrase` (the rest canonical), drawn from
    a generator seeded by `key` (say, the run's seed and the step), so that a resumed run sees the same captions.
    `converse_share` of the rewritten pairs are said the other way round (`converse`): the same picture, though not
    the same `Scene`."""
    if not share:
        return captions
    rng = random.Random(f"phrasing {key}")
    phrased = []
    for caption, scene in zip(captions, scenes):
        if rng.random() < share:
            if converse_share and scene.relation is not None and rng.random() < converse_share:
                scene = converse(scene)
            caption = phrase(scene, rng)
        phrased.append(caption)
    return phrased
