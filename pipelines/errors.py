"""Errors the studio shows to people: each message says what went wrong and what to do about it.

Every class is a `ValueError`, so callers that only know "bad input" still catch them; `studio/` turns
them into `gr.Error` at the boundary.
"""

from __future__ import annotations


class StudioError(ValueError):
    """Base class: the message is written for a person, not a developer."""


class UnknownModelError(StudioError):
    """The name is not in the model registry."""


class OfflineModelError(StudioError):
    """A Hub model that is not cached locally, on a machine that cannot reach the Hub."""


class UnsafeCheckpointError(StudioError):
    """A model folder with only pickle checkpoints (.bin/.ckpt/.pt), which can run code when loaded."""


class CorruptCheckpointError(StudioError):
    """A .safetensors file that cannot be read."""


class ModelLoadError(StudioError):
    """Any other failure while loading a model."""


class UnsupportedTaskError(StudioError):
    """The model cannot do what was asked (e.g. inpainting with an unCLIP model)."""


class OutOfMemoryError(StudioError):
    """The device ran out of memory; the manager has already freed what it could."""


def require_text(value: object, name: str, what: str) -> None:
    """Raises a ValueError naming `name` when `value` is not a text with something in it.

    `what` tells the person what to type, e.g. "type what to draw".
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{name}` is empty: {what}")
