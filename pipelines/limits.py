"""The one table of field limits: every request's validation and every slider in the studio read it.

A limit is checked with `check(value, key, name)`, whose message names the parameter and the value received
(`` `steps` must be an integer from 1 to 150, got 0 ``).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """The range of one kind of field."""

    low: float
    high: float
    integer: bool = False  # whole numbers only (bools are refused)
    step: float = 1  # the UI's slider granularity
    low_open: bool = False  # `low` itself is not allowed (denoising strength 0 would leave no step)

    def span(self) -> str:
        """The range in words for help texts: "1 to 150", "greater than 0 and at most 1"."""
        if self.low_open:
            return f"greater than {self.low:g} and at most {self.high:g}"
        return f"{self.low:g} to {self.high:g}"

    def describe(self) -> str:
        """The range as an error message says it: "an integer from 1 to 150"."""
        if self.low_open:
            return self.span()
        return f"{'an integer ' if self.integer else ''}from {self.span()}"


MAX_SEED = 2**32 - 1

LIMITS: dict[str, Limit] = {
    # every action
    "steps": Limit(1, 150, integer=True),
    "cfg_scale": Limit(0, 30, step=0.5),  # classifier-free guidance scale s
    "seed": Limit(-1, MAX_SEED, integer=True),
    # text to image
    "batch_size": Limit(1, 8, integer=True),
    "refiner_switch": Limit(0, 1, step=0.05, low_open=True),  # "Refiner: switch at", the base's share of the steps
    # inpainting
    "denoising_strength": Limit(0, 1, step=0.05, low_open=True),
    "resample": Limit(1, 10, integer=True),
    "mask_blur": Limit(0, 64, integer=True),  # feather radius, pixels
    "only_masked_padding": Limit(0, 256, integer=True, step=4),  # pixels of context around the mask
    "outpaint": Limit(0, 512, integer=True, step=8),  # pixels added on one side
    # paint with words
    "paint_weight": Limit(0, 2, step=0.05),  # the global w; the paper and the reference use 0.1-0.4
    "region_weight": Limit(0, 10, step=0.1),  # a phrase's own factor on w
    # unCLIP
    "variations": Limit(1, 8, integer=True),
    "noise_level": Limit(0, 999, integer=True),  # Stable unCLIP's image_noising_scheduler has 1000 levels
    "upscale_steps": Limit(1, 150, integer=True),
    "upscale_noise_level": Limit(0, 999, integer=True),  # augmentation of an upscaler's input (SD x4: at most 350)
    "eta": Limit(0, 1, step=0.05),  # DDIM η
    "interpolation_frames": Limit(2, 16, integer=True),
    "text_diff_frames": Limit(1, 16, integer=True),
    "theta": Limit(0, 1, step=0.05),
}


def fill_in(text: str) -> str:
    """`text` with each `{key}` of a limit written as its range, so help texts never repeat a number of the table."""
    return re.sub(r"\{(\w+)\}", lambda m: LIMITS[m[1]].span() if m[1] in LIMITS else m[0], text)


def check(value: object, key: str, name: str | None = None) -> None:
    """Raises a ValueError naming `name` (default: `key`) when `value` is outside `LIMITS[key]`."""
    limit = LIMITS[key]
    name = name or key
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if limit.integer:
        number = number and isinstance(value, int)
    inside = number and math.isfinite(value) and limit.low <= value <= limit.high
    if inside and limit.low_open:
        inside = value > limit.low
    if not inside:
        if key == "seed":
            raise ValueError(f"`{name}` must be -1 (random) or an integer from 0 to {MAX_SEED}, got {value!r}")
        raise ValueError(f"`{name}` must be {limit.describe()}, got {value!r}")


def check_fields(request, *names: str) -> None:
    """`check` for each named field of `request`, under its own name (the key is the field name)."""
    for name in names:
        check(getattr(request, name), name)


def concrete_seed(seed: int, consecutive: int = 1) -> int:
    """`seed`, or for -1 a random seed that leaves room for `consecutive` seeds in a row (image i uses seed + i)."""
    return seed if seed != -1 else random.randint(0, MAX_SEED - consecutive + 1)
