"""Choices shown in the UI by their labels: one base class for every enum-by-label (samplers, guidance methods,
inpainting methods, interpolation noise)."""

from __future__ import annotations

import enum


class LabelledEnum(enum.Enum):
    """An enum whose value is the label shown in the UI and written in the PNG parameters.

    `from_label` accepts the label or the member name, in any case and with spaces around it; a subclass's
    `field()` is the parameter name its error message uses.
    """

    @property
    def label(self) -> str:
        return self.value

    @classmethod
    def labels(cls) -> list[str]:
        return [member.value for member in cls]

    @classmethod
    def from_label(cls, label: object):
        """The member whose label (or name) is `label`; a ValueError listing the labels otherwise."""
        if isinstance(label, cls):
            return label
        text = str(label).strip().lower()
        for member in cls:
            if text in (member.value.lower(), member.name.lower()):
                return member
        raise ValueError(f"`{cls.field()}` must be one of {cls.labels()}, got {label!r}")

    @classmethod
    def field(cls) -> str:
        """The request field that holds this choice (subclasses override it)."""
        return cls.__name__.lower()
