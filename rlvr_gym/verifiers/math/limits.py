"""Every numeric limit of the MATH verifier, named once.

The limits keep each stage bounded on hostile input: anything past a limit is
compared as a string only (or, for a ground truth, refused), never evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

# ----------------------------------------------------------------------------- sizes of answers
MAX_GOLD_CHARS = 10_000
"""A ground-truth answer longer than this is invalid."""
MAX_ANSWER_CHARS = 10_000
"""Default of `MathVerifier.max_answer_chars`: a longer extracted answer is wrong without being parsed."""
MAX_ITEMS = 32
"""Lists, sets, tuples and matrix rows/columns with more items are compared as strings only."""
MAX_NAME_CHARS = 40
"""A left-hand side longer than this is never read as the name of the value (``f(x) = ...``)."""
MAX_STRUCTURE_NESTING = 64
"""Answers nested deeper than this are not split into structure (one leaf, compared as a string)."""

# ----------------------------------------------------------------------------- exact numbers
MAX_INT_DIGITS = 4000
"""Written numbers with more digits are compared digit by digit (Python's int() refuses above 4300)."""
MAX_NUMBER_CHARS = 3 * MAX_INT_DIGITS
"""Longer strings are never read as a number."""
MAX_MIXED_NUMBER_CHARS = 60
"""A mixed number ``1\\frac{4}{5}`` longer than this is not read as one."""

# ----------------------------------------------------------------------------- interval arithmetic
INTERVAL_DIGITS = 40
"""Working precision (decimal digits) of the interval evaluator."""
MAX_INTERVAL_EXPONENT = 10**5
"""Exponents larger in magnitude are not evaluated in interval arithmetic."""
MAX_INTERVAL_MAGNITUDE = 10**1000
"""Interval bounds beyond this are useless for a rejection: the value is dropped."""

# ----------------------------------------------------------------------------- sympy input
MAX_SYMPY_CHARS = 400
"""Leaves longer than this are never parsed by sympy (nor evaluated in interval arithmetic)."""
MAX_SYMPY_NESTING = 12
"""Leaves nested deeper than this are never parsed by sympy."""
MAX_FACTORIAL_ARG_DIGITS = 4
"""A written factorial ``n!`` with more digits in ``n`` is never parsed."""
MAX_TREE_NODES = 2000
"""Parsed trees with more nodes are not evaluated."""
MAX_EXACT_DIGITS = 20000
"""Expressions whose exact value could need more digits than this (``10^{10^{10}}``) are not evaluated."""
MAX_SIZE_DEPTH = 60
"""How deep the digit-count bound of a numeric tree looks before giving up (unknown size)."""
MAX_EXPONENT_DIGITS = 15
"""A power whose exponent has more digits has an unknown (too large) size."""
MAGNITUDE_DIGITS = 15
"""Digits of the numeric bound on a non-integer exponent's magnitude (``10^{(-5+\\sqrt{13})/6}``)."""
MAX_BINOMIAL_ARG = 10_000
"""Binomials with larger (or symbolic) arguments are not evaluated."""
MAX_SYMBOLIC_EXPONENT = 64
"""Integer powers of symbolic bases above this are not expanded."""
MAX_SYMBOLIC_DEGREE = 4 * MAX_SYMBOLIC_EXPONENT
"""The sum of the integer exponents on symbolic bases in one tree."""

# ----------------------------------------------------------------------------- sympy work
NUMERIC_DIGITS = 30
"""Digits of the numeric evaluation used only to *reject* quickly."""
REJECT_RELATIVE_GAP = "1e-20"
"""Values whose relative difference exceeds this (at `NUMERIC_DIGITS`) are certainly different."""
MAX_SIMPLIFY_OPS = 200
"""Differences with more operations are not simplified (not proved equal)."""
MAX_MINPOLY_OPS = 40
"""Algebraic numbers with more operations get no minimal-polynomial proof."""
MAX_RATIO_OPS = 120
"""Two relations with more operations together are not tested for a constant ratio."""
MAX_SOLVE_OPS = 40
"""Inequalities with more operations are not solved into a set."""

# ----------------------------------------------------------------------------- caches and time
GOLD_CACHE_SIZE = 16384
"""Entries in each ground-truth cache (prepared answers, parsed leaves); ground truths recur in training."""
PRED_CACHE_SIZE = 2048
"""Entries in each response-side cache (parsed leaves)."""
SYMPY_TIMEOUT_S = 5.0
"""Default of `MathVerifier.sympy_timeout_s`."""

# ----------------------------------------------------------------------------- what a verdict shows
SHOWN_ANSWER_CHARS = 200
"""A too-long answer is shown cut to this many characters in its verdict."""
SHOWN_TIMEOUT_CHARS = 500
"""A timed-out answer is shown cut to this many characters."""
SHOWN_REFUSALS = 3
"""At most this many reasons for not comparing symbolically go into ``details["not_compared"]``."""

_T = TypeVar("_T")


def side_caches(fn: Callable[[str], _T]) -> tuple[Callable[[str], _T], Callable[[str], _T]]:
    """Two independent caches of ``fn``: one for ground-truth leaves, one for response leaves.

    Ground truths recur across a training run and deserve a large cache; responses
    rarely recur, and must not evict the ground truths.
    """
    return lru_cache(maxsize=GOLD_CACHE_SIZE)(fn), lru_cache(maxsize=PRED_CACHE_SIZE)(fn)
