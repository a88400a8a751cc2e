"""The verifier seam: `Verdict`, `Reason` and the `Verifier` protocol.

A verifier is a pure function of `(response, ground_truth)`. It returns a
`Verdict` whose `score` is the verifier's `alpha` when the response is
verifiably correct and exactly 0.0 otherwise: no partial credit.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

from ..enums import StrEnum

__all__ = ["Reason", "Verdict", "Verifier", "InvalidGroundTruth", "make_verdict", "never_raises"]


class Reason(StrEnum):
    """Why a verdict came out as it did. The set is closed and documented.

    - ``correct``: the extracted answer matches the ground truth.
    - ``wrong_answer``: an answer was read from the response and it does not match
      (for IFEval: at least one instruction is not followed).
    - ``no_answer``: no answer could be read from the response (empty response,
      no number, no ``\\boxed{}``...).
    - ``invalid_response``: the response is not a string.
    - ``invalid_ground_truth``: the ground truth could not be understood; the
      response was not judged. ``details["error"]`` says what was wrong.
    - ``timeout``: the batch engine stopped the item after its wall-clock limit.
    - ``error``: the verifier raised; ``details["error"]`` holds the exception.
      Seeing this count above zero is a bug worth reporting.
    """

    CORRECT = "correct"
    WRONG_ANSWER = "wrong_answer"
    NO_ANSWER = "no_answer"
    INVALID_RESPONSE = "invalid_response"
    INVALID_GROUND_TRUTH = "invalid_ground_truth"
    TIMEOUT = "timeout"
    ERROR = "error"


class InvalidGroundTruth(ValueError):
    """Raised by a verifier's ground-truth parser; turned into an ``invalid_ground_truth`` verdict."""


@dataclass(frozen=True)
class Verdict:
    """The result of verifying one response."""

    score: float
    """``alpha`` when correct, else exactly 0.0."""
    correct: bool
    """Whether the response verified."""
    extracted: str | None
    """The answer read from the response, or None when none was found."""
    reason: Reason
    """One of `Reason`."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Verifier-specific facts, e.g. IFEval's per-instruction results."""

    def __post_init__(self) -> None:
        if not isinstance(self.reason, Reason):
            object.__setattr__(self, "reason", Reason(self.reason))
        if self.correct != (self.reason is Reason.CORRECT):
            raise ValueError(f"Verdict: correct={self.correct} contradicts reason={self.reason.value!r}")
        if not self.correct and self.score != 0.0:
            raise ValueError(f"Verdict: an incorrect verdict must score 0.0, got {self.score}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``reason`` as its string value)."""
        return {
            "score": self.score,
            "correct": self.correct,
            "extracted": self.extracted,
            "reason": self.reason.value,
            "details": dict(self.details),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)  # ASCII: lone surrogates stay valid JSON


def make_verdict(
    alpha: float,
    reason: Reason,
    extracted: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Verdict:
    """Build a verdict whose score and ``correct`` follow from ``reason``."""
    correct = reason is Reason.CORRECT
    return Verdict(
        score=float(alpha) if correct else 0.0,
        correct=correct,
        extracted=extracted,
        reason=reason,
        details=dict(details) if details else {},
    )


@runtime_checkable
class Verifier(Protocol):
    """Scores a response against ground truth.

    Implementations must be picklable (the batch engine ships them to worker
    processes), deterministic, and must never raise on any ``response``:
    hostile input gives a verdict, not an exception.
    """

    name: str
    alpha: float

    def verify(self, response: str, ground_truth: Any) -> Verdict: ...


def never_raises(verify: Callable[[Any, Any, Any], Verdict]) -> Callable[[Any, Any, Any], Verdict]:
    """Decorate a ``verify(self, response, ground_truth)`` method so it never raises.

    - a response that is not a ``str`` gives ``invalid_response``;
    - `InvalidGroundTruth` raised inside gives ``invalid_ground_truth``;
    - any other ``Exception`` (RecursionError and MemoryError included) gives ``error``
      with the exception in ``details["error"]``, so it is counted, never silent.
    """

    @functools.wraps(verify)
    def wrapper(self: Any, response: Any, ground_truth: Any) -> Verdict:
        if not isinstance(response, str):
            return make_verdict(
                self.alpha,
                Reason.INVALID_RESPONSE,
                details={"error": f"response must be str, got {type(response).__name__}"},
            )
        try:
            return verify(self, response, ground_truth)
        except InvalidGroundTruth as exc:
            return make_verdict(self.alpha, Reason.INVALID_GROUND_TRUTH, details={"error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - the contract is "never raise"; the reason records it
            return make_verdict(self.alpha, Reason.ERROR, details={"error": f"{type(exc).__name__}: {exc}"[:2000]})

    return wrapper
