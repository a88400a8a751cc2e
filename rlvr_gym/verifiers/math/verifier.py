"""`MathVerifier`: extraction (`latex.extract_answer`), then the cascade (`compare`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..base import InvalidGroundTruth, Reason, Verdict, make_verdict, never_raises
from ..latex import UNCLOSED_THINK, extract_answer, normalize_answer
from .compare import collapse, compare, prepare_ground_truth
from .limits import MAX_ANSWER_CHARS, SHOWN_ANSWER_CHARS, SHOWN_REFUSALS, SHOWN_TIMEOUT_CHARS, SYMPY_TIMEOUT_S
from .safety import SympyTimeout, timer

__all__ = ["MathVerifier"]

_WARMUP = (
    ("\\boxed{x+1}", "1+x"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\sqrt{3}/2"),
    ("\\boxed{6-5i}", "5i-6"),
    ("\\boxed{(1,\\frac{\\pi}{2})}", "\\left(1, \\frac{\\pi}{2}\\right)"),
    ("\\boxed{x^2-2x+1}", "(x-1)^2"),
)


@dataclass(frozen=True)
class MathVerifier:
    r"""Verifier for MATH-style answers (``\boxed{}`` responses, LaTeX ground truth).

    See the package docstring for the extraction and equivalence policy.
    """

    alpha: float = 1.0
    """Score of a correct response."""
    answer_phrase_fallback: bool = True
    """When the response has no ``\\boxed{}``, read an explicit "final answer is X" / "Answer: X" phrase."""
    require_closed_think: bool = True
    """A response that opens ``<think>`` and never closes it has no answer (truncated reasoning);
    False judges the whole text instead."""
    max_answer_chars: int = MAX_ANSWER_CHARS
    """An extracted answer longer than this is judged wrong without being parsed."""
    sympy_timeout_s: float = SYMPY_TIMEOUT_S
    """Backstop on the symbolic comparison of one item; only armed on the main thread (0 disables)."""

    name: ClassVar[str] = "math"

    def warm_up(self) -> None:
        """Import sympy and the LaTeX parser and compare a few typical answers, so a process's first item is not slow.

        Optional: verdicts do not depend on it. Worth calling once per worker process.
        """
        for response, gold in _WARMUP:
            self.verify(response, gold)

    @never_raises
    def verify(self, response: str, ground_truth: Any) -> Verdict:
        if isinstance(ground_truth, bool) or not isinstance(ground_truth, (str, int)):
            raise InvalidGroundTruth(f"ground truth must be a LaTeX string, got {type(ground_truth).__name__}")
        extraction = extract_answer(response, phrase_fallback=self.answer_phrase_fallback)
        if extraction.note == UNCLOSED_THINK and not self.require_closed_think:
            extraction = extract_answer(response.replace("<think>", ""), phrase_fallback=self.answer_phrase_fallback)
        try:
            with timer(self.sympy_timeout_s):
                gold = prepare_ground_truth(str(ground_truth))
                if extraction.answer is None:
                    return make_verdict(self.alpha, Reason.NO_ANSWER, details={"why": extraction.note})
                if len(extraction.answer) > self.max_answer_chars:
                    shown = extraction.answer[:SHOWN_ANSWER_CHARS] + "..."
                    why = f"answer longer than {self.max_answer_chars} characters"
                    return make_verdict(self.alpha, Reason.WRONG_ANSWER, shown, {"source": extraction.source, "why": why})
                answer = collapse(extraction.items)
                details: dict[str, Any] = {"source": extraction.source}
                pred_norm = normalize_answer(answer)
                if not pred_norm:
                    return make_verdict(self.alpha, Reason.NO_ANSWER, answer, {**details, "why": "empty answer"})
                ok, outcome = compare(gold, pred_norm)
        except SympyTimeout:
            return make_verdict(
                self.alpha,
                Reason.TIMEOUT,
                extraction.answer[:SHOWN_TIMEOUT_CHARS] if extraction.answer else None,
                {"error": f"symbolic comparison exceeded {self.sympy_timeout_s}s"},
            )
        details["method"] = outcome.method
        if not ok and outcome.refusals:
            details["not_compared"] = sorted(set(outcome.refusals))[:SHOWN_REFUSALS]
        return make_verdict(self.alpha, Reason.CORRECT if ok else Reason.WRONG_ANSWER, answer, details)
