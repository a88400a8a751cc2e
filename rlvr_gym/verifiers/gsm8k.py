"""GSM8K: the final number of a response against the reference answer.

Ground truth
    The answer (``"72"``, ``72``, ``"-3.5"``) or a full GSM8K solution whose
    final answer follows the last ``####`` (``"... #### 72"``).

Extraction (`extract_answer`), on the text after the last ``</think>`` when there is one
    (a ``<think>`` never closed gives ``no_answer``: nothing in unfinished thinking is an answer)
    The first rule that finds a number wins; within a rule, the last occurrence wins:

    1. ``#### N``: GSM8K's own answer marker;
    2. ``\\boxed{N}``: the number inside the last box;
    3. ``the answer is N`` / ``answer: N`` / ``answer = N``: the first number after the last such phrase
       (on the same line);
    4. otherwise the last number anywhere in the text.

    A marker that holds no number (``\\boxed{x}``) does not stop the search: the next
    rule is tried. No number at all gives ``no_answer``.

Comparison (`canonical_number`)
    Numbers are compared exactly as decimal strings, never as floats: thousands commas and
    a ``$`` are dropped, a trailing period is punctuation, ``18.00`` = ``18``,
    ``018`` = ``18``, ``-0`` = ``0``; the sign is kept (``-5`` ≠ ``5``). A minus counts as a
    sign only when it does not follow a word or digit, so ``10-15`` reads as ``10`` and
    ``15``. A simple fraction ``a/b`` is compared by value (``3/4`` = ``0.75``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from .base import InvalidGroundTruth, Reason, Verdict, make_verdict, never_raises
from .text import after_think, last_boxed

__all__ = ["GSM8KVerifier", "extract_answer", "canonical_number", "parse_ground_truth"]

# A number: optional sign (not glued to a word or digit before it), optional "$",
# then digits with well-formed thousands commas, or plain digits, with an optional fraction part.
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w.])[-−])?\$?(?=\.?\d)"
    r"(?P<int>\d{1,3}(?:,\d{3})+(?![\d,])|\d+)?(?P<frac>\.\d+)?"
    r"(?:\s?/\s?(?P<den>\d+)(?![\d.]))?"
)
_HASHES = re.compile(r"####")
_ANSWER_PHRASE = re.compile(r"answer\s*(?:is|:|=)", re.IGNORECASE)
_MAX_DIGITS = 10_000
"""Longer numbers are still compared exactly (as strings); fractions above this are not parsed."""
_FRACTION_DIGITS = 50
"""A fraction ``a/b`` is evaluated only when both parts are at most this many digits."""


def _numbers(text: str) -> list[re.Match[str]]:
    return [m for m in _NUMBER.finditer(text) if m.group("int") or m.group("frac")]


def canonical_number(match: re.Match[str]) -> str | None:
    """The exact canonical form of a matched number: ``-12.5``, ``18``, ``3/4`` reduced to ``0.75`` when finite."""
    integer = (match.group("int") or "0").replace(",", "")
    frac = (match.group("frac") or ".")[1:].rstrip("0")
    if len(integer) + len(frac) > _MAX_DIGITS:
        return None
    integer = integer.lstrip("0") or "0"
    negative = bool(match.group("sign"))
    den = match.group("den")
    if den is not None:
        if len(integer) + len(frac) > _FRACTION_DIGITS or len(den) > _FRACTION_DIGITS or int(den) == 0:
            return None
        value = Fraction(f"{integer}.{frac or 0}") / int(den)
        if negative:
            value = -value
        return _fraction_to_canonical(value)
    text = f"{integer}.{frac}" if frac else integer
    if text == "0":
        return "0"
    return f"-{text}" if negative else text


def _fraction_to_canonical(value: Fraction) -> str:
    """A terminating decimal as canonical text (``0.75``); otherwise ``p/q`` in lowest terms."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole, rest = divmod(value.numerator, value.denominator)
    digits = ""
    while rest:
        rest *= 10
        digit, rest = divmod(rest, value.denominator)
        digits += str(digit)
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def _last_number(text: str) -> str | None:
    for match in reversed(_numbers(text)):
        value = canonical_number(match)
        if value is not None:
            return value
    return None


def _first_number(text: str) -> str | None:
    for match in _numbers(text):
        value = canonical_number(match)
        if value is not None:
            return value
    return None


def extract_answer(response: str) -> str | None:
    """The canonical final number of ``response``, or None (see the module docstring)."""
    text = after_think(response)
    if text is None:
        return None
    # 1. "#### N": the number right after the last marker that has one.
    for marker in reversed(list(_HASHES.finditer(text))):
        line = text[marker.end() :].split("\n", 1)[0]
        value = _first_number(line)
        if value is not None:
            return value
    # 2. \boxed{N}
    boxed = last_boxed(text)
    if boxed is not None:
        value = _last_number(boxed)
        if value is not None:
            return value
    # 3. "the answer is N"
    for phrase in reversed(list(_ANSWER_PHRASE.finditer(text))):
        line = text[phrase.end() :].split("\n", 1)[0]
        value = _first_number(line)
        if value is not None:
            return value
    # 4. The last number anywhere.
    return _last_number(text)


def parse_ground_truth(ground_truth: Any) -> str:
    """The canonical answer of a GSM8K ground truth (answer or full solution)."""
    if isinstance(ground_truth, bool) or not isinstance(ground_truth, (str, int, float)):
        raise InvalidGroundTruth(f"gsm8k ground truth must be a string or number, got {type(ground_truth).__name__}")
    text = str(ground_truth)
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    matches = _numbers(text)
    value = canonical_number(matches[0]) if len(matches) == 1 else None
    if value is None:
        raise InvalidGroundTruth(f"gsm8k ground truth must hold exactly one number, got {str(ground_truth)[-200:]!r}")
    return value


@dataclass(frozen=True)
class GSM8KVerifier:
    """Exact final-number match for GSM8K-style word problems."""

    alpha: float = 1.0
    """Score of a correct response (Tülu 3 uses 10)."""

    name: ClassVar[str] = "gsm8k"

    @never_raises
    def verify(self, response: str, ground_truth: Any) -> Verdict:
        expected = parse_ground_truth(ground_truth)
        extracted = extract_answer(response)
        if extracted is None:
            return make_verdict(self.alpha, Reason.NO_ANSWER, details={"expected": expected})
        reason = Reason.CORRECT if extracted == expected else Reason.WRONG_ANSWER
        return make_verdict(self.alpha, reason, extracted=extracted, details={"expected": expected})
