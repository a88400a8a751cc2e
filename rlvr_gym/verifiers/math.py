r"""MATH verifier: a LaTeX final answer checked against a LaTeX ground truth.

``MathVerifier().verify(response, ground_truth)``

*Ground truth* is either the answer itself (``"\frac{1}{2}"``, ``"$x=5$"``) or a
full solution containing ``\boxed{}``; then its final box group is the answer
(see `rlvr_gym.verifiers.latex` for the extraction policy, the same one used on
responses). It is prepared once per process and cached (`prepare_ground_truth`).

*Response*: only the text after ``</think>`` counts (an unclosed ``<think>``
gives ``no_answer``, see ``require_closed_think``); the answer is the last
``\boxed{}`` group (boxes separated only by punctuation/"and"/"or"; a group of
equivalent boxes is one answer, any other group is a list), else an explicit
"final answer is ..." phrase, else ``no_answer``.

*Equivalence* (`answers_equivalent`) runs cheapest first, and most items never
reach sympy:

1. normalized string equality (`latex.normalize_answer`);
2. structure: a bare list (``3, 5, 7``, also from "and"/"or") is compared as a
   multiset, ``\{..\}`` as a set, tuples/intervals in order with the same
   brackets, ``\cup`` as a set of pieces, matrices entry by entry, assignments
   ``x=1, y=2`` by variable; ``\pm`` expands to two items. A leading ``x =`` is
   dropped. So a hedge ("5 or 6", "5, 6", ``\boxed{5}, \boxed{6}``) never
   matches the single answer 5;
3. exact numbers without sympy: integers, decimals, ``\frac{a}{b}``, ``a/b`` and
   mixed numbers (``1\frac{4}{5}``) become `fractions.Fraction`; decimals are
   exact (``0.5 = \frac12``, ``0.333 != \frac13``); numbers in another base
   (``52_8``), times and ratios (``12:00``) compare as strings only. Two cheap
   *rejections* also skip sympy: a constant never equals an expression in a
   variable (answers are written simplified), and arithmetic answers
   (``70\sqrt{2}``, ``\frac{3\pi}{4}``) are evaluated in interval arithmetic
   (mpmath, 40 digits): disjoint intervals are certainly different;
4. sympy, through math-verify's LaTeX parser (latex2sympy2_extended), with our
   own exact comparison instead of math-verify's float rounding: the
   difference must simplify to exactly 0 (or be proved 0 by its minimal
   polynomial). A numeric evaluation at 30 digits is only used to *reject*
   quickly (relative difference), never to accept. That is the principled fix
   for math-verify's tiny-number false positives (``1/2006!`` vs ``1/2004!``,
   ``1/2^{99}`` vs ``1/2^{98}``; Math-Verify issue #14).

*Safety.* Before anything reaches sympy: the answer length is capped
(``max_answer_chars``), as are nesting depth and size of what is parsed; the
parsed tree is inspected without evaluating it, and answers whose exact value
would be a huge integer (``5^{5^{5^5}}``, ``10^{10^{10}}``, ``(10^7)!``) or that
hold integrals/limits/sums are compared as strings only. Integers beyond
Python's 4300-digit ``int`` limit are compared digit by digit.

*Timeouts.* math-verify 0.9.0 arms ``signal.alarm`` in ``parse``/``verify``
whenever its timeout is > 0; off the main thread ``signal.signal`` raises
``ValueError``, which math-verify re-raises ("doesn't support threaded
environment"), and its ``TimeoutException`` derives from ``BaseException``, so
``except Exception`` does not catch it. This verifier does not call those
wrappers: it calls the parser directly. As a backstop it arms its own
``ITIMER_REAL`` (``sympy_timeout_s``) only when it runs on the main thread and
no other timer is pending, and restores the previous handler after; a timeout
gives a ``timeout`` verdict. Off the main thread there is no timer: the input
guards above are what keep it bounded (the batch engine runs every item on a
worker's main thread and also kills items past its own limit).

*Determinism.* No randomness, no float tolerance in acceptance; the verdict
depends only on ``(response, ground_truth)`` and the options, except that a
``timeout`` depends on the machine.
"""

from __future__ import annotations

import math as _math
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, ClassVar, Iterator

from .base import InvalidGroundTruth, Reason, Verdict, make_verdict, never_raises
from .latex import UNCLOSED_THINK, extract_answer, max_nesting, normalize_answer, split_top_level, strip_outer

__all__ = ["MathVerifier", "GoldAnswer", "answers_equivalent", "prepare_ground_truth", "parse_number"]

MAX_GOLD_CHARS = 10_000
"""A ground-truth answer longer than this is invalid."""
MAX_ITEMS = 32
"""Lists, sets and tuples with more items are compared as strings only."""
MAX_SYMPY_CHARS = 400
"""Leaves longer than this are never parsed by sympy."""
MAX_SYMPY_NESTING = 12
"""Leaves nested deeper than this are never parsed by sympy."""
MAX_INT_DIGITS = 4000
"""Written numbers with more digits are compared digit by digit (Python's int() refuses above 4300)."""
MAX_EXACT_DIGITS = 20000
"""Expressions whose exact value could need more digits than this (``10^{10^{10}}``) are not evaluated."""
MAX_SYMBOLIC_EXPONENT = 64
"""Integer powers of symbolic bases above this are not expanded."""


# =========================================================================== numbers
_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"([+-]?)(\d*)\.(\d*)")
_INT_PARTS = re.compile(r"([+-]?)(\d+)()")
_FRAC = re.compile(r"([+-]?)\\frac\{([+-]?\d+(?:\.\d+)?)\}\{([+-]?\d+(?:\.\d+)?)\}")
_SLASH = re.compile(r"([+-]?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")
_MIXED = re.compile(r"([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}")


def _dec(s: str) -> Fraction | None:
    m = _DEC.fullmatch(s) or _INT_PARTS.fullmatch(s)
    if not m or not (m.group(2) or m.group(3)):
        return None
    sign, whole, frac = m.groups()
    whole, frac = whole.lstrip("0"), frac.rstrip("0")  # int() refuses long strings, even of zeros
    if len(whole) + len(frac) > MAX_INT_DIGITS:
        return None
    value = Fraction(int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac))
    return -value if sign == "-" else value


def _big_digits(s: str) -> tuple[str, str, str] | None:
    """Canonical (sign, integer digits, fraction digits) of a plain decimal too long for `Fraction`."""
    m = _DEC.fullmatch(s) or _INT_PARTS.fullmatch(s)
    if not m:
        return None
    sign, whole, frac = m.groups()
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    if whole == "0" and not frac:
        sign = ""
    return ("-" if sign == "-" else "", whole, frac)


def parse_number(s: str) -> Fraction | tuple[str, str, str] | None:
    r"""The exact value of a plain number written in ``s`` (already normalized), or None.

    Integers, decimals, ``\frac{a}{b}``, ``a/b`` and proper mixed numbers
    ``1\frac{4}{5}`` give a `Fraction`; plain numbers with more than
    `MAX_INT_DIGITS` digits give a canonical digit tuple (compared exactly, never
    converted). Anything else is None.
    """
    if len(s) > 3 * MAX_INT_DIGITS:
        return None
    value = _dec(s)
    if value is not None:
        return value
    if len(s) > MAX_INT_DIGITS and (_INT.fullmatch(s) or _DEC.fullmatch(s)):
        return _big_digits(s)  # too long for Fraction: canonical digits, compared exactly
    m = _FRAC.fullmatch(s) or _SLASH.fullmatch(s)
    if m:
        sign, num, den = m.groups() if m.re is _FRAC else ("", *m.groups())
        n, d = _dec(num), _dec(den)
        if n is None or d is None or d == 0:
            return None
        return -(n / d) if sign == "-" else n / d
    m = _MIXED.fullmatch(s)
    if m:
        sign, whole, num, den = m.groups()
        if len(s) < 60 and 0 < int(num) < int(den):
            value = int(whole) + Fraction(int(num), int(den))
            return -value if sign == "-" else value
    return None


# =========================================================================== interval evaluation
_TOKEN = re.compile(r"\d+(?:\.\d+)?|\\[A-Za-z]+|[-+*/^(){}\[\]]|.", re.S)
_ATOM_START = {"(", "{", "\\frac", "\\sqrt", "\\pi"}


class _NoValue(Exception):
    """The leaf is outside the arithmetic subset the interval evaluator understands."""


@lru_cache(maxsize=1)
def _iv() -> Any:
    """A private mpmath interval context at 40 digits (the shared ``mpmath.iv`` is left alone)."""
    from mpmath.ctx_iv import MPIntervalContext  # noqa: PLC0415 - light (mpmath, not sympy)

    ctx = MPIntervalContext()
    ctx.dps = 40
    return ctx


class _IntervalParser:
    """Recursive descent over a LaTeX arithmetic subset: numbers, + - * / ^, \\frac, \\sqrt, \\pi, (), {}.

    Evaluates in interval arithmetic (mpmath.iv, 40 digits), so two answers whose
    intervals are disjoint are *certainly* different: a sound way to reject without sympy.
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
        if exponent.a != exponent.b or abs(exponent.a) > 10**5:
            raise _NoValue()  # only exact, moderate exponents
        e = exponent.a
        if e == int(e):
            if base.a <= 0 <= base.b and e < 0:
                raise _NoValue()
            return base ** int(e)
        if base.a < 0:
            raise _NoValue()
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
        if token[0].isdigit():
            if len(token) > 400:
                raise _NoValue()
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


_FINITE = 10**1000


def _interval_uncached(leaf: str) -> Any:
    if len(leaf) > MAX_SYMPY_CHARS or max_nesting(leaf) > MAX_SYMPY_NESTING:
        return None
    iv = _iv()
    try:
        value = _IntervalParser(leaf).parse()
    except (_NoValue, ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None
    if not (abs(value.a) < _FINITE and abs(value.b) < _FINITE):
        return None
    return value


@lru_cache(maxsize=16384)
def _gold_interval(leaf: str) -> Any:
    return _interval_uncached(leaf)


@lru_cache(maxsize=2048)
def _pred_interval(leaf: str) -> Any:
    return _interval_uncached(leaf)


def _exact_interval(value: Fraction) -> Any:
    iv = _iv()
    return iv.mpf(value.numerator) / iv.mpf(value.denominator)


_COMMANDS = re.compile(r"\\[A-Za-z]+")
_LETTER = re.compile(r"[A-Za-df-hj-z]")


def _has_variable(leaf: str) -> bool:
    """A letter that is not part of a command and not e or i (which may be constants)."""
    return bool(_LETTER.search(_COMMANDS.sub("", leaf)))


# =========================================================================== structure
@dataclass(frozen=True)
class Node:
    """A parsed answer: ``kind`` is leaf, list, set, tuple, union, matrix or assign."""

    kind: str
    text: str = ""
    """The normalized text (leaves: the expression)."""
    items: tuple["Node", ...] = ()
    brackets: str = ""
    """Tuples: the opening and closing bracket, e.g. "(]"."""
    names: tuple[str, ...] = ()
    """Assignments: the variable of each item."""


_VAR_PREFIX = re.compile(r"(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?|')?|\\[A-Za-z]+)(?:=|\\in(?![A-Za-z]))(?!=)")
_MATRIX = re.compile(r"\\begin\{([pbB]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.S)
_PM = re.compile(r"\\(?:pm|mp)(?![A-Za-z])")
_CUP = re.compile(r"\\cup(?![A-Za-z])")


def _strip_var(item: str) -> tuple[str | None, str]:
    """``x=5`` -> ("x", "5"); ``x\\in[1,2]`` -> ("x", "[1,2]"); otherwise (None, item)."""
    m = _VAR_PREFIX.match(item)
    if m and m.end() < len(item) and "=" not in item[m.end() :]:
        return item[: m.end()].rstrip("=").removesuffix("\\in"), item[m.end() :]
    return None, item


def _expand_pm(item: str) -> list[str]:
    """``1\\pm\\sqrt{2}`` -> ["1+\\sqrt{2}", "1-\\sqrt{2}"]; more than one ``\\pm``: unchanged."""
    found = _PM.findall(item)
    if len(found) != 1:
        return [item]
    plus, minus = _PM.sub("+", item), _PM.sub("-", item)
    if found[0] == "\\mp":
        plus, minus = minus, plus
    return [plus.lstrip("+") if plus.startswith("+") else plus, minus]


def _items(parts: list[str]) -> tuple[Node, ...] | None:
    nodes = []
    for part in parts:
        if not part:
            return None
        nodes.append(build_node(part))
    return tuple(nodes)


def build_node(s: str) -> Node:
    """Parse a normalized answer string into a `Node` tree (string work only)."""
    if len(s) > MAX_GOLD_CHARS or max_nesting(s) > 64:
        return Node("leaf", s)
    m = _MATRIX.fullmatch(s)
    if m and "\\begin{" not in m.group(2) and "\\end{" not in m.group(2):
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        cells = [r.split("&") for r in rows]
        if 0 < len(rows) <= MAX_ITEMS and all(len(c) == len(cells[0]) for c in cells) and len(cells[0]) <= MAX_ITEMS:
            items = tuple(Node("tuple", items=tuple(build_node(strip_outer(c)) for c in row), brackets="[]") for row in cells)
            if all(all(i.text for i in row.items) for row in items):
                return Node("matrix", s, items)
        return Node("leaf", s)
    parts = split_top_level(s)
    if len(parts) > 1:
        if len(parts) > MAX_ITEMS or not all(parts):
            return Node("leaf", s)
        named = [_strip_var(p) for p in parts]
        names = [n for n, _ in named]
        if all(names) and len(set(names)) == len(names):  # x=1, y=2: a solution of a system
            order = sorted(range(len(parts)), key=lambda i: names[i])
            items = _items([named[i][1] for i in order])
            return Node("assign", s, items, names=tuple(names[i] for i in order)) if items else Node("leaf", s)
        if names[0] and all(n in (None, names[0]) for n in names):  # x = 1, 2 or x=1, x=2
            parts = [v for _, v in named]
        expanded = [e for p in parts for e in _expand_pm(p)]
        items = _items(expanded)
        return Node("list", s, items) if items else Node("leaf", s)
    name, value = _strip_var(s)
    if name is not None:
        return build_node(value)
    if len(_CUP.split(s)) > 1:
        pieces = _CUP.split(s)
        items = _items(pieces) if len(pieces) <= MAX_ITEMS else None
        return Node("union", s, items) if items else Node("leaf", s)
    if s.startswith("\\{") and s.endswith("\\}"):
        inner = s[2:-2]
        if _balanced(inner):
            parts = [e for p in split_top_level(inner) for e in _expand_pm(p)]
            items = _items(parts) if inner and len(parts) <= MAX_ITEMS else None
            return Node("set", s, items) if items else Node("leaf", s)
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        inner = s[1:-1]
        if _balanced(inner):
            parts = split_top_level(inner, ",")
            if len(parts) > 1:
                items = _items(parts) if len(parts) <= MAX_ITEMS else None
                return Node("tuple", s, items, brackets=s[0] + s[-1]) if items else Node("leaf", s)
            if s[0] == "(" and s[-1] == ")":
                return build_node(inner)
    pm = _expand_pm(s)
    if len(pm) == 2:
        return Node("list", s, (Node("leaf", pm[0]), Node("leaf", pm[1])))
    return Node("leaf", s)


def _balanced(s: str) -> bool:
    depth = 0
    for c in s:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# =========================================================================== ground truth
@dataclass(frozen=True)
class GoldAnswer:
    """A prepared ground truth."""

    answer: str
    """The answer as written (a solution's final box group)."""
    norm: str
    """`latex.normalize_answer` of it."""
    node: Node


@lru_cache(maxsize=16384)
def prepare_ground_truth(ground_truth: str) -> GoldAnswer:
    """Extract, normalize and parse a ground truth once per process (cached). Raises `InvalidGroundTruth`."""
    text = ground_truth.strip()
    if "\\boxed" in text or "\\fbox" in text:
        extraction = extract_answer(text, phrase_fallback=False)
        if extraction.answer is None:
            raise InvalidGroundTruth(f"ground truth has \\boxed but no usable box: {extraction.note}")
        answer = _collapse(extraction.items)
    else:
        answer = text
    if len(answer) > MAX_GOLD_CHARS:
        raise InvalidGroundTruth(f"ground truth answer is {len(answer)} characters long (limit {MAX_GOLD_CHARS})")
    return _gold_from_answer(answer, ground_truth)


def _gold_from_answer(answer: str, source: str) -> GoldAnswer:
    norm = normalize_answer(answer)
    if not norm:
        raise InvalidGroundTruth(f"ground truth {source[:100]!r} has no answer")
    return GoldAnswer(answer=answer, norm=norm, node=build_node(norm))


def _collapse(items: tuple[str, ...]) -> str:
    r"""One answer from a final box group: the last item when all items are equivalent, else the list.

    ``\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}`` is one answer written twice;
    ``\boxed{3} and \boxed{5}`` is the list "3, 5"; ``\boxed{5} or \boxed{6}`` is the hedge "5, 6".
    """
    if len(items) == 1:
        return items[0]
    try:
        last = _gold_from_answer(items[-1], items[-1])
        if all(_compare(last, normalize_answer(item))[0] for item in items[:-1]):
            return items[-1]
    except InvalidGroundTruth:
        pass
    return ", ".join(items)


# =========================================================================== sympy
class _Refused(Exception):
    """An expression too large or too costly to evaluate exactly."""


class _SympyTimeout(BaseException):
    """Raised by our own timer (main thread only)."""


_STRING_ONLY = re.compile(r"\d_\{?[0-9A-Za-z]+\}?|:|\\text|\\(?:int|sum|prod|lim|iint|oint|partial)(?![A-Za-z])|\\ldots|\\cdots|\\dots")
_DECIMAL_LITERAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")
_FACTORIAL_ARG = re.compile(r"(\d+)\s*!")


@lru_cache(maxsize=1)
def _sympy() -> Any:
    import sympy  # noqa: PLC0415 - heavy; only when a comparison needs it

    return sympy


@lru_cache(maxsize=1)
def _parser() -> tuple[Any, Any, Any]:
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig, NormalizationConfig, latex2sympy  # noqa: PLC0415

    normalization = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none", equations=False)
    conversion = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False, lowercase_symbols=False)
    return latex2sympy, normalization, conversion


def _log10(n: int) -> float:
    n = abs(n)
    return _math.log10(n) if 0 < n < 10**300 else n.bit_length() * 0.30103


def _size(expr: Any, depth: int = 0) -> float | None:
    """Upper bound of the digits (numerator plus denominator) of the exact value of a numeric tree; None if unknown."""
    sp = _sympy()
    if depth > 60:
        return None
    if isinstance(expr, sp.Rational):
        return _log10(int(expr.p)) + _log10(int(expr.q))
    if expr.is_NumberSymbol or expr is sp.I:
        return 1.0
    if isinstance(expr, (sp.Add, sp.Mul)):
        total = 1.0
        for arg in expr.args:
            size = _size(arg, depth + 1)
            if size is None:
                return None
            total += size
        return total
    if isinstance(expr, sp.Pow):  # |b^e| has at most |e| * digits(b) digits, and |e| <= 10**digits(e)
        base, exp = (_size(a, depth + 1) for a in expr.args)
        if base is None or exp is None or exp > 15:
            return None
        return base * 10**exp
    if isinstance(expr, sp.factorial) and isinstance(expr.args[0], sp.Integer):
        n = abs(int(expr.args[0]))
        return n * _log10(max(n, 2))
    return None


def _has_tower(expr: Any) -> bool:
    sp = _sympy()
    return any(isinstance(n, (sp.Pow, sp.factorial)) for n in sp.preorder_traversal(expr))


def _guard_tree(expr: Any) -> None:
    """Refuse, without evaluating anything, trees whose exact evaluation could blow up."""
    sp = _sympy()
    stack = [expr]
    seen = 0
    symbolic_degree = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > 2000:
            raise _Refused("expression tree too large")
        if isinstance(node, sp.MatrixBase):
            stack.extend(node)
            continue
        if not isinstance(node, sp.Basic):
            continue
        if isinstance(node, (sp.Integral, sp.Sum, sp.Product, sp.Limit, sp.Derivative)):
            raise _Refused(f"{type(node).__name__} is not evaluated")
        if isinstance(node, sp.Rational) and _log10(int(node.p)) + _log10(int(node.q)) > MAX_EXACT_DIGITS:
            raise _Refused("number too large")
        if isinstance(node, (sp.factorial, sp.factorial2, sp.subfactorial, sp.gamma)):
            arg = node.args[0]
            if not (isinstance(arg, sp.Integer) and abs(int(arg)) * _log10(max(abs(int(arg)), 2)) <= MAX_EXACT_DIGITS):
                raise _Refused("factorial of a large or symbolic argument")
        if isinstance(node, sp.binomial):
            if not all(isinstance(a, sp.Integer) and abs(int(a)) <= 10000 for a in node.args):
                raise _Refused("binomial with large or symbolic arguments")
        if isinstance(node, sp.Pow):
            base, exp = node.args
            if not node.free_symbols:
                size = _size(node)
                if size is None and _has_tower(exp):
                    raise _Refused("power tower")
                if size is not None and size > MAX_EXACT_DIGITS:
                    raise _Refused("power too large")
            elif exp.is_Integer:
                symbolic_degree += abs(int(exp))
                if abs(int(exp)) > MAX_SYMBOLIC_EXPONENT or symbolic_degree > 4 * MAX_SYMBOLIC_EXPONENT:
                    raise _Refused("symbolic power too large")
            elif not exp.is_Number and not exp.free_symbols and _has_tower(exp):
                raise _Refused("power tower")
        stack.extend(node.args)


def _prepare_leaf_text(leaf: str) -> str:
    """Write decimals as exact fractions so sympy never sees a binary float: 1.5 -> (\\frac{15}{10})."""

    def exact(m: re.Match[str]) -> str:
        whole, frac = m.group(1), m.group(2)
        return f"(\\frac{{{(whole or '0') + frac}}}{{1{'0' * len(frac)}}})"

    return _DECIMAL_LITERAL.sub(exact, leaf)


def _to_sympy_uncached(leaf: str) -> Any:
    """Parse a normalized leaf to an evaluated sympy object, or raise `_Refused`."""
    if len(leaf) > MAX_SYMPY_CHARS or max_nesting(leaf) > MAX_SYMPY_NESTING:
        raise _Refused("answer too long or too deeply nested for symbolic comparison")
    if _STRING_ONLY.search(leaf):
        raise _Refused("compared as text only")
    for m in _FACTORIAL_ARG.finditer(leaf):
        if len(m.group(1)) > 4:
            raise _Refused("factorial of a large argument")
    sp = _sympy()
    number = parse_number(leaf)
    if isinstance(number, Fraction):
        return sp.Rational(number.numerator, number.denominator)
    latex2sympy, normalization, conversion = _parser()
    try:
        expr = latex2sympy(_prepare_leaf_text(leaf), is_real=True, convert_degrees=True, normalization_config=normalization, conversion_config=conversion)
    except _SympyTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - unparseable LaTeX: compared as a string only
        raise _Refused(f"unparseable: {type(exc).__name__}") from None
    if isinstance(expr, list):
        raise _Refused("several expressions")
    _guard_tree(expr)
    expr = expr.doit() if hasattr(expr, "doit") else expr
    i_symbols = [s for s in getattr(expr, "free_symbols", ()) if getattr(s, "name", "") == "i"]
    if i_symbols:
        expr = expr.subs({s: sp.I for s in i_symbols})
    floats = expr.atoms(sp.Float) if hasattr(expr, "atoms") else ()
    if floats:
        expr = expr.xreplace({f: sp.Rational(str(f)) for f in floats})
    return expr


@lru_cache(maxsize=16384)
def _gold_sympy(leaf: str) -> Any:
    try:
        return _to_sympy_uncached(leaf)
    except _Refused as exc:
        return exc


@lru_cache(maxsize=2048)
def _pred_sympy(leaf: str) -> Any:
    try:
        return _to_sympy_uncached(leaf)
    except _Refused as exc:
        return exc


_PROBE_VALUES = ("7/11", "13/17", "19/23", "29/31", "37/41", "43/47", "53/59", "61/67")


def _numeric(expr: Any) -> Any:
    sp = _sympy()
    try:
        value = sp.N(expr, 30)
    except (_SympyTimeout, RecursionError):
        raise
    except Exception:  # noqa: BLE001 - not numerically evaluable
        return None
    if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or value.free_symbols:
        return None
    return value


def _clearly_different(a: Any, b: Any) -> bool:
    """True when a numeric evaluation at 30 digits shows a != b (relative test); never proves equality."""
    sp = _sympy()
    va, vb = _numeric(a), _numeric(b)
    if va is None or vb is None:
        return False
    diff = abs(va - vb)
    scale = max(abs(va), abs(vb))
    if scale == 0:
        return False
    return bool(diff > scale * sp.Float("1e-20", 30))


def _is_zero_exact(d: Any) -> bool:
    """Prove ``d == 0`` exactly: structural, expand, simplify, then the minimal polynomial of an algebraic number."""
    sp = _sympy()
    if d == 0:
        return True
    if d.is_Rational:
        return False
    if sp.count_ops(d) > 200:
        return False
    for transform in (sp.expand, sp.cancel, sp.simplify):
        try:
            if transform(d) == 0:
                return True
        except (_SympyTimeout, RecursionError):
            raise
        except Exception:  # noqa: BLE001 - a transform that fails proves nothing
            continue
    if not d.free_symbols and sp.count_ops(d) <= 40 and d.is_algebraic:
        try:
            x = sp.Dummy("x")
            return sp.minimal_polynomial(d, x) == x
        except (_SympyTimeout, RecursionError):
            raise
        except Exception:  # noqa: BLE001
            return False
    return False


def _expr_equal(a: Any, b: Any) -> bool:
    sp = _sympy()
    if a == b:
        return True
    if a.is_Rational and b.is_Rational:
        return False
    symbols = a.free_symbols | b.free_symbols
    if not symbols:
        if _clearly_different(a, b):
            return False
        return _is_zero_exact(a - b)
    ordered = sorted(symbols, key=lambda s: s.name)
    if len(ordered) > len(_PROBE_VALUES):
        return False
    for shift in (0, 1):
        subs = {s: sp.Rational(_PROBE_VALUES[(k + shift) % len(_PROBE_VALUES)]) for k, s in enumerate(ordered)}
        try:
            if _clearly_different(a.xreplace(subs), b.xreplace(subs)):
                return False
        except (_SympyTimeout, RecursionError):
            raise
        except Exception:  # noqa: BLE001
            continue
    return _is_zero_exact(a - b)


def _relation_parts(rel: Any) -> tuple[str, Any]:
    """``(op, d)`` such that the relation reads ``d op 0`` with op one of ==, !=, >, >=."""
    sp = _sympy()
    lhs, rhs = rel.lhs, rel.rhs
    if isinstance(rel, sp.Equality):
        return "==", lhs - rhs
    if isinstance(rel, sp.Unequality):
        return "!=", lhs - rhs
    if isinstance(rel, (sp.StrictLessThan, sp.LessThan)):
        return (">" if isinstance(rel, sp.StrictLessThan) else ">="), rhs - lhs
    return (">" if isinstance(rel, sp.StrictGreaterThan) else ">="), lhs - rhs


def _relations_equal(g: Any, p: Any) -> bool:
    sp = _sympy()
    op_g, dg = _relation_parts(g)
    op_p, dp = _relation_parts(p)
    if op_g != op_p:
        return False
    if _expr_equal(dg, dp):
        return True
    if op_g in ("==", "!=") and _expr_equal(dg, -dp):
        return True
    # the same relation scaled by a constant (positive for inequalities): 2x+2y=2 vs x+y=1
    if dp == 0 or sp.count_ops(dg) + sp.count_ops(dp) > 120:
        return False
    try:
        ratio = sp.cancel(sp.together(dg / dp))
    except (_SympyTimeout, RecursionError):
        raise
    except Exception:  # noqa: BLE001
        return False
    if ratio.free_symbols or not ratio.is_number or ratio == 0 or ratio.has(sp.zoo, sp.nan):
        return False
    return op_g in ("==", "!=") or bool(ratio.is_positive)


def _sympy_equal(g: Any, p: Any) -> bool:
    sp = _sympy()
    if isinstance(g, sp.MatrixBase) or isinstance(p, sp.MatrixBase):
        if not (isinstance(g, sp.MatrixBase) and isinstance(p, sp.MatrixBase)) or g.shape != p.shape:
            return False
        return all(_sympy_equal(x, y) for x, y in zip(g, p))
    g_rel, p_rel = isinstance(g, sp.core.relational.Relational), isinstance(p, sp.core.relational.Relational)
    if g_rel or p_rel:
        if g_rel and p_rel:
            return _relations_equal(g, p)
        # an inequality in one variable against an interval: compare the solution sets
        rel, other = (g, p) if g_rel else (p, g)
        if isinstance(other, sp.Set) and len(rel.free_symbols) == 1 and not isinstance(rel, sp.Equality) and sp.count_ops(rel) <= 40:
            try:
                return bool(rel.as_set() == other)
            except (_SympyTimeout, RecursionError):
                raise
            except Exception:  # noqa: BLE001
                return False
        return False
    if isinstance(g, sp.Set) or isinstance(p, sp.Set):
        if isinstance(g, sp.Set) and isinstance(p, sp.Set):
            return bool(g == p)
        return False
    if isinstance(g, sp.Expr) and isinstance(p, sp.Expr):
        return _expr_equal(g, p)
    if isinstance(g, sp.Basic) and isinstance(p, sp.Basic):
        return bool(g == p)
    return False


# =========================================================================== comparison
_WORDS = re.compile(r"[A-Za-z][A-Za-z'\- ]{2,}")
"""Text answers ("Evelyn", "even"): compared as words, case-insensitively, never by sympy."""


class _Outcome:
    """How a comparison was decided (the strongest method needed)."""

    __slots__ = ("method", "refusals")

    def __init__(self) -> None:
        self.method = "string"
        self.refusals: list[str] = []

    def used(self, method: str) -> None:
        order = ("string", "number", "sympy")
        if order.index(method) > order.index(self.method):
            self.method = method


def _leaf_equal(g: str, p: str, out: _Outcome) -> bool:
    if g == p:
        return True
    if _WORDS.fullmatch(g) or _WORDS.fullmatch(p):
        return g.casefold() == p.casefold()
    gn, pn = parse_number(g), parse_number(p)
    if gn is not None and pn is not None:
        out.used("number")
        return gn == pn
    if isinstance(gn, tuple) or isinstance(pn, tuple):
        return False
    g_var, p_var = _has_variable(g), _has_variable(p)
    gi = _exact_interval(gn) if isinstance(gn, Fraction) else None if g_var else _gold_interval(g)
    pi = _exact_interval(pn) if isinstance(pn, Fraction) else None if p_var else _pred_interval(p)
    if (g_var and not p_var and (pn is not None or pi is not None)) or (p_var and not g_var and (gn is not None or gi is not None)):
        out.used("number")
        return False  # a constant is not an expression in a variable (answers are written simplified)
    if gi is not None and pi is not None and (gi.b < pi.a or pi.b < gi.a):
        out.used("number")
        return False  # disjoint intervals: certainly different, no sympy needed
    return _sympy_leaf_equal(g, p, out)


def _sympy_leaf_equal(g: str, p: str, out: _Outcome) -> bool:
    gs = _gold_sympy(g)
    if isinstance(gs, _Refused):
        out.refusals.append(f"ground truth: {gs}")
        return False
    ps = _pred_sympy(p)
    if isinstance(ps, _Refused):
        out.refusals.append(f"response: {ps}")
        return False
    out.used("sympy")
    return _sympy_equal(gs, ps)


def _match_unordered(gold: tuple[Node, ...], pred: tuple[Node, ...], out: _Outcome) -> bool:
    """A perfect matching between equal-size item lists (Kuhn's algorithm, exact matches first)."""
    if len(gold) != len(pred):
        return False
    n = len(gold)
    cache: dict[tuple[int, int], bool] = {}

    def eq(i: int, j: int) -> bool:
        if (i, j) not in cache:
            cache[(i, j)] = _node_equal(gold[i], pred[j], out)
        return cache[(i, j)]

    owner = [-1] * n  # pred index -> gold index
    # cheap pass: identical strings pair up first
    remaining = []
    for i in range(n):
        j = next((j for j in range(n) if owner[j] < 0 and gold[i].text == pred[j].text and gold[i] == pred[j]), -1)
        if j >= 0:
            owner[j] = i
        else:
            remaining.append(i)

    def augment(i: int, visited: set[int]) -> bool:
        for j in range(n):
            if j in visited or not eq(i, j):
                continue
            visited.add(j)
            if owner[j] < 0 or augment(owner[j], visited):
                owner[j] = i
                return True
        return False

    return all(augment(i, set()) for i in remaining)


_RELATION_OP = re.compile(r"[<>]|\\(?:[lg]eq?|[lg]t|[lg]eqslant)(?![A-Za-z])")


def _is_relation(node: Node) -> bool:
    return node.kind == "leaf" and bool(_RELATION_OP.search(node.text))


def _is_interval(node: Node) -> bool:
    return node.kind == "union" or (node.kind == "tuple" and len(node.items) == 2)


def _node_as_set(node: Node, parse: Any) -> Any:
    """A sympy set from an interval node ``(a, b]`` or a union of them; raises `_Refused`."""
    sp = _sympy()
    if node.kind == "union":
        return sp.Union(*(_node_as_set(item, parse) for item in node.items))
    if node.kind != "tuple" or len(node.items) != 2 or not all(i.kind == "leaf" for i in node.items):
        raise _Refused("not an interval")
    ends = [parse(item.text) for item in node.items]
    for end in ends:
        if isinstance(end, _Refused):
            raise end
        if not isinstance(end, sp.Expr) or end.free_symbols:
            raise _Refused("not an interval")
    return sp.Interval(ends[0], ends[1], left_open=node.brackets[0] == "(", right_open=node.brackets[1] == ")")


def _relation_as_set(expr: Any) -> Any:
    """The solution set of an inequality (or a chain ``a < x < b``) in one variable; raises `_Refused`."""
    sp = _sympy()
    relations = list(getattr(expr, "_unsorted_args", None) or expr.args) if isinstance(expr, sp.And) else [expr]
    if not all(isinstance(r, sp.core.relational.Relational) and not isinstance(r, sp.Equality) for r in relations):
        raise _Refused("not an inequality")
    symbols = set().union(*(r.free_symbols for r in relations))
    if len(symbols) != 1 or sum(sp.count_ops(r) for r in relations) > 40:
        raise _Refused("not an inequality in one variable")
    result = sp.S.Reals
    for relation in relations:
        result = sp.Intersection(result, relation.as_set())
    return result


def _interval_vs_relation(interval: Node, relation: str, parse_interval: Any, parse_relation: Any, out: _Outcome) -> bool:
    expr = parse_relation(relation)
    try:
        if isinstance(expr, _Refused):
            raise expr
        out.used("sympy")
        return bool(_node_as_set(interval, parse_interval) == _relation_as_set(expr))
    except _Refused as exc:
        out.refusals.append(str(exc))
        return False
    except (_SympyTimeout, RecursionError):
        raise
    except Exception:  # noqa: BLE001 - sympy could not solve it: not proved equal
        return False


def _node_equal(g: Node, p: Node, out: _Outcome) -> bool:
    if g.kind == "leaf" and p.kind == "leaf":
        return _leaf_equal(g.text, p.text, out)
    unordered = {"list", "set"}
    if g.kind in unordered and p.kind in unordered:
        return _match_unordered(g.items, p.items, out)
    if g.kind != p.kind:
        # an interval (or union) against an inequality: x > 2 and (2, \infty) are the same set
        if _is_interval(g) and _is_relation(p):
            return _interval_vs_relation(g, p.text, _gold_sympy, _pred_sympy, out)
        if _is_relation(g) and _is_interval(p):
            return _interval_vs_relation(p, g.text, _pred_sympy, _gold_sympy, out)
        return False
    if g.kind == "union":
        return _match_unordered(g.items, p.items, out)
    if g.kind == "assign":
        return g.names == p.names and all(_node_equal(a, b, out) for a, b in zip(g.items, p.items))
    if g.kind == "tuple" and g.brackets != p.brackets:
        return False
    return len(g.items) == len(p.items) and all(_node_equal(a, b, out) for a, b in zip(g.items, p.items))


def _compare(gold: GoldAnswer, pred_norm: str) -> tuple[bool, _Outcome]:
    out = _Outcome()
    if gold.norm == pred_norm:
        return True, out
    return _node_equal(gold.node, build_node(pred_norm), out), out


def answers_equivalent(gold: str, pred: str) -> bool:
    """Whether two answers (LaTeX, no surrounding prose) are equivalent. Never raises; no timer."""
    try:
        ok, _ = _compare(prepare_ground_truth(gold), normalize_answer(pred))
        return ok
    except Exception:  # noqa: BLE001
        return False


# =========================================================================== timer
@contextmanager
def _timer(seconds: float) -> Iterator[None]:
    """Raise `_SympyTimeout` after ``seconds``: main thread only, and only when no other timer is pending.

    The previous SIGALRM handler is restored on exit; a late signal arriving while
    disarming is ignored (the handler checks ``armed``), so the restore always runs.
    """
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield
        return
    armed = [True]

    def on_alarm(signum: int, frame: Any) -> None:
        if armed[0]:
            raise _SympyTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# =========================================================================== verifier
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

    See the module docstring for the extraction and equivalence policy.
    """

    alpha: float = 1.0
    """Score of a correct response."""
    answer_phrase_fallback: bool = True
    """When the response has no ``\\boxed{}``, read an explicit "final answer is X" / "Answer: X" phrase."""
    require_closed_think: bool = True
    """A response that opens ``<think>`` and never closes it has no answer (truncated reasoning);
    False judges the whole text instead."""
    max_answer_chars: int = 10_000
    """An extracted answer longer than this is judged wrong without being parsed."""
    sympy_timeout_s: float = 5.0
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
            with _timer(self.sympy_timeout_s):
                gold = prepare_ground_truth(str(ground_truth))
                if extraction.answer is None:
                    return make_verdict(self.alpha, Reason.NO_ANSWER, details={"why": extraction.note})
                if len(extraction.answer) > self.max_answer_chars:
                    shown = extraction.answer[:200] + "..."
                    why = f"answer longer than {self.max_answer_chars} characters"
                    return make_verdict(self.alpha, Reason.WRONG_ANSWER, shown, {"source": extraction.source, "why": why})
                answer = _collapse(extraction.items)
                details: dict[str, Any] = {"source": extraction.source}
                pred_norm = normalize_answer(answer)
                if not pred_norm:
                    return make_verdict(self.alpha, Reason.NO_ANSWER, answer, {**details, "why": "empty answer"})
                ok, outcome = _compare(gold, pred_norm)
        except _SympyTimeout:
            return make_verdict(
                self.alpha,
                Reason.TIMEOUT,
                extraction.answer[:500] if extraction.answer else None,
                {"error": f"symbolic comparison exceeded {self.sympy_timeout_s}s"},
            )
        details["method"] = outcome.method
        if not ok and outcome.refusals:
            details["not_compared"] = sorted(set(outcome.refusals))[:3]
        return make_verdict(self.alpha, Reason.CORRECT if ok else Reason.WRONG_ANSWER, answer, details)
