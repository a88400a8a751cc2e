"""Countdown: reach a target with the given numbers and + - * /.

Ground truth
    ``{"numbers": [int, ...], "target": int}`` (or that dict as a JSON string).

Extraction
    The expression is the content of the last ``<answer>...</answer>``, else of the last
    ``\\boxed{}``, else the last line holding an ``=``-free arithmetic expression; text after
    the last ``</think>`` only (an unclosed ``<think>``: no answer). An ``= target`` suffix is dropped.

Comparison
    The expression is parsed with Python's ``ast`` (never ``eval``): only integer literals,
    ``+ - * /`` and parentheses. Each given number may be used at most once (as a multiset);
    the value, computed exactly with fractions, must equal the target. Anything else is wrong.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from .base import InvalidGroundTruth, Reason, Verdict, make_verdict, never_raises
from .text import after_think, last_boxed

__all__ = ["CountdownVerifier", "evaluate_expression", "parse_countdown_ground_truth"]

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_EXPRESSION_LINE = re.compile(r"^[\d\s+\-*/().×÷]+$")
_MAX_EXPRESSION_CHARS = 200
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}


def parse_countdown_ground_truth(ground_truth: Any) -> tuple[tuple[int, ...], int]:
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except json.JSONDecodeError as exc:
            raise InvalidGroundTruth(f"countdown ground truth string is not JSON: {exc.msg}") from None
    if not isinstance(ground_truth, dict) or set(ground_truth) != {"numbers", "target"}:
        raise InvalidGroundTruth('countdown ground truth must be {"numbers": [int, ...], "target": int}')
    numbers, target = ground_truth["numbers"], ground_truth["target"]
    if not isinstance(numbers, (list, tuple)) or not numbers or not all(type(n) is int for n in numbers) or type(target) is not int:
        raise InvalidGroundTruth(f"countdown numbers must be a non-empty list of ints and target an int, got {ground_truth!r}")
    return tuple(numbers), target


def evaluate_expression(expression: str) -> tuple[Fraction, list[int]]:
    """Exact value of an arithmetic expression and the integer literals it uses; ValueError if not allowed."""
    expression = expression.replace("×", "*").replace("÷", "/")
    if len(expression) > _MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression longer than {_MAX_EXPRESSION_CHARS} characters")
    tree = ast.parse(expression, mode="eval")
    literals: list[int] = []

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            literals.append(node.value)
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise ValueError("division by zero")
            return _OPS[type(node.op)](left, right)
        raise ValueError(f"not allowed in a countdown expression: {type(node).__name__}")

    return walk(tree), literals


def _extract(response: str) -> str | None:
    text = after_think(response)
    if text is None:
        return None
    tags = _ANSWER_TAG.findall(text)
    candidate = tags[-1] if tags else last_boxed(text)
    if candidate is None:
        lines = [line.split("=")[0].strip() for line in text.splitlines() if line.strip()]
        candidate = next((line for line in reversed(lines) if line and _EXPRESSION_LINE.match(line)), None)
    if candidate is None:
        return None
    candidate = candidate.split("=")[0].strip()
    return candidate or None


@dataclass(frozen=True)
class CountdownVerifier:
    """Exact check of a countdown expression: allowed numbers, allowed operators, exact value."""

    alpha: float = 1.0
    """Score of a correct response."""

    name: ClassVar[str] = "countdown"

    @never_raises
    def verify(self, response: str, ground_truth: Any) -> Verdict:
        numbers, target = parse_countdown_ground_truth(ground_truth)
        expression = _extract(response)
        if expression is None:
            return make_verdict(self.alpha, Reason.NO_ANSWER)
        try:
            value, used = evaluate_expression(expression)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return make_verdict(self.alpha, Reason.WRONG_ANSWER, extracted=expression[:200], details={"error": str(exc)[:200]})
        over_used = Counter(used) - Counter(numbers)
        if over_used:
            details = {"error": f"numbers not available: {sorted(over_used.elements())}"}
            return make_verdict(self.alpha, Reason.WRONG_ANSWER, extracted=expression, details=details)
        reason = Reason.CORRECT if value == target else Reason.WRONG_ANSWER
        return make_verdict(self.alpha, reason, extracted=expression, details={"value": str(value), "target": target})
