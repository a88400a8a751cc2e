"""Text helpers for the answer-extracting verifiers (GSM8K, countdown).

Both are thin views over `rlvr_gym.verifiers.latex`, which owns the one linear-time
scanner for ``</think>`` and ``\\boxed{}``.
"""

from __future__ import annotations

from .latex import find_boxes, split_think

__all__ = ["after_think", "boxed_contents", "last_boxed"]


def after_think(response: str) -> str | None:
    """The text after the last ``</think>``; the whole response when it has no ``<think>`` at all;
    None when a ``<think>`` is opened and never closed (the model never finished thinking, so
    nothing in it is an answer; the same policy as the MATH verifier)."""
    final, _ = split_think(response)
    return final


def boxed_contents(text: str) -> list[str]:
    """The contents of every complete outermost ``\\boxed{}``/``\\fbox{}``, in order."""
    return [text[box.content_start : box.content_end] for box in find_boxes(text)]


def last_boxed(text: str) -> str | None:
    """The content of the last complete outermost box, or None."""
    boxes = find_boxes(text)
    return text[boxes[-1].content_start : boxes[-1].content_end] if boxes else None
