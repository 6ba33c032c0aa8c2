"""Calibrated strength: the strength at which a method matches plain classifier-free guidance's CLIP score.

Comparing methods at the same nominal scale s misleads ("Guidance Matters", arXiv:2602.22570: most methods' gains
shrink once each runs at a calibrated scale), because s means something different to each. The lab's "Calibrate"
finds, per method and column s, the strength whose image has the CLIP score of CFG at s on the same seed and prompt,
by a short search: round 1 tries s times each of `FACTORS`; round 2 the midpoints between the closest so far and its
neighbours. Every candidate of every method renders in the same batches, so a search costs two grid passes.

The CLIP score of one image is noisy and need not rise with the strength, so the result is the closest candidate,
not a root: its distance to the target is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FACTORS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
ROUNDS = 2
TOLERANCE = 1.5  # CLIP-score points (×100 cosine): a match this close is what the tests ask of the search


def renders_per_search() -> int:
    """At most how many strengths one search tries: the factors, then two midpoints a round."""
    return len(FACTORS) + 2 * (ROUNDS - 1)


@dataclass
class StrengthSearch:
    """One method's search for one column's target (CFG's CLIP score at `nominal`)."""

    nominal: float
    target: float
    low: float = 0.0
    high: float = 30.0
    scores: dict[float, float] = field(default_factory=dict)  # strength -> CLIP score, all tried so far

    def candidates(self, round_: int) -> list[float]:
        """The strengths to try in round `round_` (0-based), none tried before."""
        if round_ == 0:
            tried = [self.nominal * f for f in FACTORS]
        else:
            ordered = sorted(self.scores)
            best = ordered.index(self.best())
            tried = [(ordered[best] + ordered[j]) / 2 for j in (best - 1, best + 1) if 0 <= j < len(ordered)]
        clipped = (round(min(max(s, self.low), self.high), 4) for s in tried)
        return [s for s in dict.fromkeys(clipped) if s not in self.scores]

    def record(self, strength: float, score: float) -> None:
        self.scores[strength] = score

    def best(self) -> float:
        """The strength tried whose score is closest to the target (the smaller strength on a tie)."""
        return min(sorted(self.scores), key=lambda s: abs(self.scores[s] - self.target))

    def miss(self) -> float:
        """|CLIP(best) − target|."""
        return abs(self.scores[self.best()] - self.target)
