r"""Stage 3a: exact numbers without sympy.

Integers, decimals, ``\frac{a}{b}``, ``a/b`` and mixed numbers (``1\frac{4}{5}``)
become `fractions.Fraction`; decimals are exact (``0.5 = \frac12``,
``0.333 != \frac13``). Plain numbers too long for ``int()`` become a canonical
digit tuple, compared exactly, never converted.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..latex import SLASH_FRACTION
from .limits import MAX_INT_DIGITS, MAX_MIXED_NUMBER_CHARS, MAX_NUMBER_CHARS

__all__ = ["parse_number"]

_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"([+-]?)(\d*)\.(\d*)")
_INT_PARTS = re.compile(r"([+-]?)(\d+)()")
_FRAC = re.compile(r"([+-]?)\\frac\{([+-]?\d+(?:\.\d+)?)\}\{([+-]?\d+(?:\.\d+)?)\}")
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
    if len(s) > MAX_NUMBER_CHARS:
        return None
    value = _dec(s)
    if value is not None:
        return value
    if len(s) > MAX_INT_DIGITS and (_INT.fullmatch(s) or _DEC.fullmatch(s)):
        return _big_digits(s)  # too long for Fraction: canonical digits, compared exactly
    m = _FRAC.fullmatch(s) or SLASH_FRACTION.fullmatch(s)
    if m:
        sign, num, den = m.groups() if m.re is _FRAC else ("", *m.groups())
        n, d = _dec(num), _dec(den)
        if n is None or d is None or d == 0:
            return None
        return -(n / d) if sign == "-" else n / d
    m = _MIXED.fullmatch(s)
    if m:
        sign, whole, num, den = m.groups()
        if len(s) < MAX_MIXED_NUMBER_CHARS and 0 < int(num) < int(den):
            value = int(whole) + Fraction(int(num), int(den))
            return -value if sign == "-" else value
    return None
