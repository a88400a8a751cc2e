r"""Stage 3b: interval arithmetic, a sound way to *reject* arithmetic answers without sympy.

Arithmetic answers (``70\sqrt{2}``, ``\frac{3\pi}{4}``) are evaluated in interval
arithmetic (mpmath, `INTERVAL_DIGITS` digits): when the intervals of two answers
are disjoint the answers are certainly different. Overlapping intervals prove
nothing; the comparison then goes on to sympy.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..latex import max_nesting
from .limits import INTERVAL_DIGITS, MAX_INTERVAL_EXPONENT, MAX_INTERVAL_MAGNITUDE, MAX_SYMPY_CHARS, MAX_SYMPY_NESTING, side_caches

__all__ = ["exact_interval", "gold_interval", "has_variable", "pred_interval"]

_TOKEN = re.compile(r"\d+(?:\.\d+)?|\\[A-Za-z]+|[-+*/^(){}\[\]]|.", re.DOTALL)
_ATOM_START = {"(", "{", "\\frac", "\\sqrt", "\\pi"}


class _NoValue(Exception):
    """The leaf is outside the arithmetic subset the interval evaluator understands."""


@lru_cache(maxsize=1)
def _iv() -> Any:
    """A private mpmath interval context (the shared ``mpmath.iv`` is left alone)."""
    from mpmath.ctx_iv import MPIntervalContext  # noqa: PLC0415 - light (mpmath, not sympy)

    ctx = MPIntervalContext()
    ctx.dps = INTERVAL_DIGITS
    return ctx


class _IntervalParser:
    """Recursive descent over a LaTeX arithmetic subset: numbers, + - * / ^, \\frac, \\sqrt, \\pi, (), {}.

    Evaluates in interval arithmetic, so two answers whose intervals are disjoint
    are *certainly* different. Only called on leaves of at most `MAX_SYMPY_CHARS`
    characters and `MAX_SYMPY_NESTING` levels (see `_interval_uncached`).
    """

    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN.findall(text)
        self.pos = 0
        self.iv = _iv()

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _NoValue()
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.expr()
        if self.peek() is not None:
            raise _NoValue()
        return value

    def expr(self) -> Any:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def term(self) -> Any:
        value = self.unary()
        divided = False
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                value = value * self.unary()
            elif token in ("/", "\\div"):
                self.take()
                value = self.divide(value, self.unary())
                divided = True
            elif token is not None and (token in _ATOM_START or token[0].isdigit()):
                # implicit product: 2\sqrt{3}, 3\pi, (1)(2). Refused where readings differ:
                # 1/2\pi (is it pi/2 or 1/(2 pi)?) and 1\frac{4}{5} (a mixed number?)
                if divided or (token == "\\frac" and self.tokens[self.pos - 1][0].isdigit()):
                    raise _NoValue()
                value = value * self.power()
            else:
                return value

    def unary(self) -> Any:
        if self.peek() in ("+", "-"):
            op = self.take()
            value = self.unary()
            return -value if op == "-" else value
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        token = self.peek()
        if token == "{":
            exponent = self.group()
        elif token is not None and token[0].isdigit():
            exponent = self.digit()  # x^23 is x^2 * 3 in LaTeX
        else:
            exponent = self.atom()
        return self.pow(base, exponent)

    def digit(self) -> Any:
        """The first digit of the next number token; the rest of the token stays next."""
        token = self.take()
        if "." in token[:2]:
            raise _NoValue()
        if len(token) > 1:
            self.pos -= 1
            self.tokens[self.pos] = token[1:]
        return self.iv.mpf(int(token[0]))

    def pow(self, base: Any, exponent: Any) -> Any:
        iv = self.iv
        if exponent.a != exponent.b or abs(exponent.a) > MAX_INTERVAL_EXPONENT:
            raise _NoValue()  # only exact, moderate exponents
        e = exponent.a
        if e == int(e):
            if base.a <= 0 <= base.b and e < 0:
                raise _NoValue()
            return base ** int(e)
        if base.a <= 0:
            raise _NoValue()
        return iv.exp(iv.log(base) * exponent)

    def divide(self, a: Any, b: Any) -> Any:
        if b.a <= 0 <= b.b:
            raise _NoValue()
        return a / b

    def group(self) -> Any:
        closing = {"{": "}", "(": ")"}.get(self.peek() or "")
        if closing is None:
            raise _NoValue()
        self.take()
        value = self.expr()
        self.take(closing)
        return value

    def argument(self) -> Any:
        """A command argument: ``{...}`` or one digit (``\\sqrt2``)."""
        token = self.peek()
        if token == "{":
            return self.group()
        if token is not None and token[0].isdigit():
            return self.digit()
        raise _NoValue()

    def atom(self) -> Any:
        iv = self.iv
        token = self.take()
        if token[0].isdigit():  # at most MAX_SYMPY_CHARS digits: the leaf's own limit
            whole, _, frac = token.partition(".")
            return iv.mpf(int(whole + frac)) / iv.mpf(10 ** len(frac)) if frac else iv.mpf(int(whole))
        if token in ("(", "{"):
            self.pos -= 1
            return self.group()
        if token == "\\frac":
            num = self.argument()
            return self.divide(num, self.argument())
        if token == "\\sqrt":
            index = None
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.take("]")
            radicand = self.argument()
            if radicand.a < 0:
                raise _NoValue()
            if index is None:
                return iv.sqrt(radicand)
            return self.pow(radicand, 1 / index)
        if token == "\\pi":
            return iv.pi
        raise _NoValue()


def _interval_uncached(leaf: str) -> Any:
    """The interval value of an arithmetic leaf, or None (outside the subset, or unbounded)."""
    if len(leaf) > MAX_SYMPY_CHARS or max_nesting(leaf) > MAX_SYMPY_NESTING:
        return None
    try:
        value = _IntervalParser(leaf).parse()
    except (_NoValue, ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None
    if not (abs(value.a) < MAX_INTERVAL_MAGNITUDE and abs(value.b) < MAX_INTERVAL_MAGNITUDE):
        return None
    return value


gold_interval, pred_interval = side_caches(_interval_uncached)


def exact_interval(value: Fraction) -> Any:
    """The (tight) interval of an exact number."""
    iv = _iv()
    return iv.mpf(value.numerator) / iv.mpf(value.denominator)


_COMMANDS = re.compile(r"\\[A-Za-z]+")
_LETTER = re.compile(r"[A-Za-df-hj-z]")


def has_variable(leaf: str) -> bool:
    """A letter that is not part of a command and not e or i (which may be constants)."""
    return bool(_LETTER.search(_COMMANDS.sub("", leaf)))
