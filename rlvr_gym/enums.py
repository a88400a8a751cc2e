"""`StrEnum`: the base of every string-valued choice in the package (configs, verdict reasons)."""

from __future__ import annotations

import enum

__all__ = ["StrEnum"]


class StrEnum(str, enum.Enum):
    """A `str` enum that prints as its value (``"k3"``, not ``"KLEstimator.K3"``); `enum.StrEnum` from Python 3.11."""

    def __str__(self) -> str:
        return self.value
