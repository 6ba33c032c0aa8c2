"""Hugging Face ZeroGPU: a GPU is attached only while a `@spaces.GPU` function runs.

`gpu_function(fn, duration)` is `spaces.GPU(duration=duration)(fn)` when the optional `spaces` package is installed
(outside ZeroGPU that decorator changes nothing), and `fn` itself when it is not. `studio.runner` passes every
action through one such function, so every event that touches the GPU runs inside it; the duration is estimated from
the request (`pipelines.cost`), so short requests get a better place in ZeroGPU's queue.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

logger = logging.getLogger(__name__)


def enabled() -> bool:
    """Whether this process runs on ZeroGPU hardware (Spaces sets SPACES_ZERO_GPU)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("true", "1")


def gpu_function(fn: Callable, duration: Callable[..., int]) -> Callable:
    """`fn` decorated with `spaces.GPU(duration=duration)` when `spaces` is installed; `fn` otherwise.

    The decorated function may be a generator (previews stream out of it). `duration` takes fn's arguments.
    """
    try:
        import spaces
    except ImportError:
        if enabled():
            logger.warning("SPACES_ZERO_GPU is set but the `spaces` package is missing: pip install spaces")
        return fn
    decorated = spaces.GPU(duration=duration)(fn)
    decorated.zerogpu_duration = duration  # what tests (and curious readers) check
    return decorated
