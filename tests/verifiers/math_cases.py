"""Shared by the MATH verifier's table tests: the response template and the check of one row."""

from rlvr_gym.verifiers import Reason


def boxed(answer: str) -> str:
    return f"Some reasoning first. So the answer is $\\boxed{{{answer}}}$."


def flatten(tables: dict[str, list[tuple[str, str, bool]]]) -> tuple[list[tuple[str, str, str, bool]], list[str]]:
    """Rows ``(group, ground_truth, response, expected)`` and their test ids ``group-index``."""
    rows = [(group, *case) for group, cases in tables.items() for case in cases]
    return rows, [f"{row[0]}-{i}" for i, row in enumerate(rows)]


def check_row(verifier, ground_truth, response, expected) -> None:
    """Verdict as expected, and a plain one: only ``correct`` or ``wrong_answer``, scored alpha or 0."""
    verdict = verifier.verify(response, ground_truth)
    assert verdict.correct is expected, (ground_truth, response, verdict)
    assert verdict.reason in (Reason.CORRECT, Reason.WRONG_ANSWER), verdict
    assert verdict.score == (verifier.alpha if expected else 0.0)
