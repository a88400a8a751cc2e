r"""Stage 4: sympy, through math-verify's LaTeX parser, with an exact comparison.

Leaves are parsed by latex2sympy2_extended (math-verify's parser) and compared
exactly instead of with math-verify's float rounding: the difference must
simplify to exactly 0 (or be proved 0 by its minimal polynomial). A numeric
evaluation at `NUMERIC_DIGITS` digits is only used to *reject* quickly (relative
difference), never to accept. That is the principled fix for math-verify's
tiny-number false positives (``1/2006!`` vs ``1/2004!``, ``1/2^{99}`` vs
``1/2^{98}``; Math-Verify issue #14).

*Safety.* The parsed tree is inspected without evaluating it (`_guard_tree`), and
answers whose exact value would be a huge integer (``5^{5^{5^5}}``,
``10^{10^{10}}``, ``(10^7)!``) or that hold integrals/limits/derivatives are
refused (compared as strings only). Sums and products (``\sum_{k=0}^{n-1} F_k
F_{n-k-1}``) are parsed but never evaluated: they are equal only in sympy's
canonical form (terms and factors reordered), never by computation.
"""

from __future__ import annotations

import math as _math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..latex import max_nesting
from .limits import (
    MAGNITUDE_DIGITS,
    MAX_BINOMIAL_ARG,
    MAX_EXACT_DIGITS,
    MAX_EXPONENT_DIGITS,
    MAX_FACTORIAL_ARG_DIGITS,
    MAX_MINPOLY_OPS,
    MAX_RATIO_OPS,
    MAX_SIMPLIFY_OPS,
    MAX_SIZE_DEPTH,
    MAX_SOLVE_OPS,
    MAX_SYMBOLIC_DEGREE,
    MAX_SYMBOLIC_EXPONENT,
    MAX_SYMPY_CHARS,
    MAX_SYMPY_NESTING,
    MAX_TREE_NODES,
    NUMERIC_DIGITS,
    REJECT_RELATIVE_GAP,
    side_caches,
)
from .numbers import parse_number
from .safety import Refused, SympyTimeout, attempt

__all__ = ["gold_sympy", "interval_set", "pred_sympy", "relation_set", "sympy", "sympy_equal"]

_STRING_ONLY = re.compile(r"\d_\{?[0-9A-Za-z]+\}?|:|\\text|\\(?:int|lim|iint|oint|partial)(?![A-Za-z])|\\ldots|\\cdots|\\dots")
_DECIMAL_LITERAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")
_FACTORIAL_ARG = re.compile(r"(\d+)\s*!")


@lru_cache(maxsize=1)
def sympy() -> Any:
    """The sympy module, imported on first need (heavy)."""
    import sympy as sp  # noqa: PLC0415 - heavy; only when a comparison needs it

    return sp


@lru_cache(maxsize=1)
def _parser() -> tuple[Any, Any, Any]:
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig, NormalizationConfig, latex2sympy  # noqa: PLC0415

    normalization = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none", equations=False)
    conversion = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False, lowercase_symbols=False)
    return latex2sympy, normalization, conversion


# --------------------------------------------------------------------------- guards (no evaluation)
def _log10(n: int) -> float:
    n = abs(n)
    return _math.log10(n) if 0 < n < 10**300 else n.bit_length() * 0.30103


def _size(expr: Any, depth: int = 0) -> float | None:
    """Upper bound of the digits (numerator plus denominator) of the exact value of a numeric tree; None if unknown."""
    sp = sympy()
    if depth > MAX_SIZE_DEPTH:
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
        if base is None or exp is None or exp > MAX_EXPONENT_DIGITS:
            return None
        if not expr.exp.is_Integer:  # 10^{(-5+\sqrt{13})/6}: bounded by the exponent's magnitude, not its digits
            magnitude = _magnitude(expr.exp)
            if magnitude is not None:
                return base * max(1.0, magnitude) + exp
        return base * 10**exp
    if isinstance(expr, sp.factorial) and isinstance(expr.args[0], sp.Integer):
        n = abs(int(expr.args[0]))
        return n * _log10(max(n, 2))
    return None


def _magnitude(exp: Any) -> float | None:
    """An upper bound of ``|exp|`` for a numeric exponent of at most `MAX_EXPONENT_DIGITS` digits, or None."""
    if exp.free_symbols:
        return None
    if exp.is_Rational:
        return abs(int(exp.p)) / int(exp.q)
    value = attempt(_float_magnitude, exp, failed=None)
    if value is None or not _math.isfinite(value):
        return None
    return value * (1 + 10.0 ** (3 - MAGNITUDE_DIGITS))  # a margin far above the rounding error


def _float_magnitude(exp: Any) -> float | None:
    value = sympy().N(exp, MAGNITUDE_DIGITS)
    return float(abs(value)) if value.is_real and value.is_finite else None


def _has_tower(expr: Any) -> bool:
    sp = sympy()
    return any(isinstance(n, (sp.Pow, sp.factorial)) for n in sp.preorder_traversal(expr))


def _guard_tree(expr: Any) -> None:
    """Refuse, without evaluating anything, trees whose exact evaluation could blow up."""
    sp = sympy()
    stack = [expr]
    seen = 0
    symbolic_degree = 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_TREE_NODES:
            raise Refused("expression tree too large")
        if isinstance(node, sp.MatrixBase):
            stack.extend(node)
            continue
        if not isinstance(node, sp.Basic):
            continue
        if isinstance(node, (sp.Integral, sp.Limit, sp.Derivative)):
            raise Refused(f"{type(node).__name__} is not evaluated")
        if isinstance(node, sp.Rational) and _log10(int(node.p)) + _log10(int(node.q)) > MAX_EXACT_DIGITS:
            raise Refused("number too large")
        if isinstance(node, (sp.factorial, sp.factorial2, sp.subfactorial, sp.gamma)):
            arg = node.args[0]
            if not (isinstance(arg, sp.Integer) and abs(int(arg)) * _log10(max(abs(int(arg)), 2)) <= MAX_EXACT_DIGITS):
                raise Refused("factorial of a large or symbolic argument")
        if isinstance(node, sp.binomial) and not all(isinstance(a, sp.Integer) and abs(int(a)) <= MAX_BINOMIAL_ARG for a in node.args):
            raise Refused("binomial with large or symbolic arguments")
        if isinstance(node, sp.Pow):
            exp = node.exp
            if not node.free_symbols:
                size = _size(node)
                if size is None and _has_tower(exp):
                    raise Refused("power tower")
                if size is not None and size > MAX_EXACT_DIGITS:
                    raise Refused("power too large")
            elif exp.is_Integer:
                symbolic_degree += abs(int(exp))
                if abs(int(exp)) > MAX_SYMBOLIC_EXPONENT or symbolic_degree > MAX_SYMBOLIC_DEGREE:
                    raise Refused("symbolic power too large")
            elif not exp.is_Number and not exp.free_symbols and _has_tower(exp):
                raise Refused("power tower")
        stack.extend(node.args)


# --------------------------------------------------------------------------- parsing
def _prepare_leaf_text(leaf: str) -> str:
    """Write decimals as exact fractions so sympy never sees a binary float: 1.5 -> (\\frac{15}{10})."""

    def exact(m: re.Match[str]) -> str:
        whole, frac = m.group(1), m.group(2)
        return f"(\\frac{{{(whole or '0') + frac}}}{{1{'0' * len(frac)}}})"

    return _DECIMAL_LITERAL.sub(exact, leaf)


def _to_sympy(leaf: str) -> Any:
    """Parse a normalized leaf to an evaluated sympy object, or raise `Refused`."""
    if len(leaf) > MAX_SYMPY_CHARS or max_nesting(leaf) > MAX_SYMPY_NESTING:
        raise Refused("answer too long or too deeply nested for symbolic comparison")
    if _STRING_ONLY.search(leaf):
        raise Refused("compared as text only")
    for m in _FACTORIAL_ARG.finditer(leaf):
        if len(m.group(1)) > MAX_FACTORIAL_ARG_DIGITS:
            raise Refused("factorial of a large argument")
    sp = sympy()
    number = parse_number(leaf)
    if isinstance(number, Fraction):
        return sp.Rational(number.numerator, number.denominator)
    latex2sympy, normalization, conversion = _parser()
    try:
        expr = latex2sympy(
            _prepare_leaf_text(leaf),
            is_real=True,
            convert_degrees=True,
            normalization_config=normalization,
            conversion_config=conversion,
        )
    except SympyTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - unparseable LaTeX: compared as a string only
        raise Refused(f"unparseable: {type(exc).__name__}") from None
    if isinstance(expr, list):
        raise Refused("several expressions")
    _guard_tree(expr)
    expr = _evaluate(expr)
    i_symbols = [s for s in getattr(expr, "free_symbols", ()) if getattr(s, "name", "") == "i"]
    if i_symbols:
        expr = expr.subs({s: sp.I for s in i_symbols})
    floats = expr.atoms(sp.Float) if hasattr(expr, "atoms") else ()
    if floats:
        expr = expr.xreplace({f: sp.Rational(str(f)) for f in floats})
    return expr


def _evaluate(expr: Any) -> Any:
    """``doit()``, except for sums and products (kept as written) and for latex2sympy2_extended's ``And``.

    That ``And`` (latex2sympy2_extended/logic.py, ``And.__new__``) sets ``_unsorted_args`` on whatever
    sympy's ``And`` returns; when a chain such as ``z=3+3=2`` collapses to one relation it is an
    ``Equality``, which has no such attribute, and the rebuild inside ``doit()`` raises. So each part
    is evaluated on its own and joined with sympy's own ``And``.
    """
    sp = sympy()
    if isinstance(expr, sp.And):
        return sp.And(*(_evaluate(arg) for arg in (getattr(expr, "_unsorted_args", None) or expr.args)))
    if not hasattr(expr, "doit"):
        return expr
    if isinstance(expr, sp.Basic) and expr.has(sp.Sum, sp.Product):
        return _canonical(expr)
    return expr.doit()


def _canonical(expr: Any) -> Any:
    """Rebuild a tree bottom-up with sympy's automatic ordering (the parser builds some products with
    ``evaluate=False``), without evaluating sums or products: ``F_k F_{n-k-1}`` = ``F_{n-k-1} F_k``."""
    if not isinstance(expr, sympy().Basic) or not expr.args:
        return expr
    return expr.func(*(_canonical(arg) for arg in expr.args))


def _to_sympy_or_refusal(leaf: str) -> Any:
    try:
        return _to_sympy(leaf)
    except Refused as exc:
        return exc


gold_sympy, pred_sympy = side_caches(_to_sympy_or_refusal)
"""The parsed leaf, or the `Refused` that says why it is not compared symbolically (cached per side)."""


# --------------------------------------------------------------------------- exact equality
_PROBE_VALUES = ("7/11", "13/17", "19/23", "29/31", "37/41", "43/47", "53/59", "61/67")


def _numeric(expr: Any) -> Any:
    sp = sympy()
    value = attempt(sp.N, expr, NUMERIC_DIGITS, failed=None)
    if value is None or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or value.free_symbols:
        return None
    return value


def _clearly_different(a: Any, b: Any) -> bool:
    """True when a numeric evaluation shows a != b (relative test); never proves equality."""
    sp = sympy()
    va, vb = _numeric(a), _numeric(b)
    if va is None or vb is None:
        return False
    diff = abs(va - vb)
    scale = max(abs(va), abs(vb))
    if scale == 0:
        return False
    return bool(diff > scale * sp.Float(REJECT_RELATIVE_GAP, NUMERIC_DIGITS))


def _is_zero_exact(d: Any) -> bool:
    """Prove ``d == 0`` exactly: structural, expand, simplify, then the minimal polynomial of an algebraic number."""
    sp = sympy()
    if d == 0:
        return True
    if d.is_Rational:
        return False
    if sp.count_ops(d) > MAX_SIMPLIFY_OPS:
        return False
    for transform in (sp.expand, sp.cancel, sp.simplify):
        if attempt(transform, d, failed=None) == 0:  # a transform that fails proves nothing
            return True
    if not d.free_symbols and sp.count_ops(d) <= MAX_MINPOLY_OPS and d.is_algebraic:
        x = sp.Dummy("x")
        return attempt(lambda: sp.minimal_polynomial(d, x) == x, failed=False)
    return False


def _clearly_different_at(a: Any, b: Any, subs: dict[Any, Any]) -> bool:
    return _clearly_different(a.xreplace(subs), b.xreplace(subs))


def _expr_equal(a: Any, b: Any) -> bool:
    sp = sympy()
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
        if attempt(_clearly_different_at, a, b, subs, failed=False):
            return False
    return _is_zero_exact(a - b)


def _relation_parts(rel: Any) -> tuple[str, Any]:
    """``(op, d)`` such that the relation reads ``d op 0`` with op one of ==, !=, >, >=."""
    sp = sympy()
    lhs, rhs = rel.lhs, rel.rhs
    if isinstance(rel, sp.Equality):
        return "==", lhs - rhs
    if isinstance(rel, sp.Unequality):
        return "!=", lhs - rhs
    if isinstance(rel, (sp.StrictLessThan, sp.LessThan)):
        return (">" if isinstance(rel, sp.StrictLessThan) else ">="), rhs - lhs
    return (">" if isinstance(rel, sp.StrictGreaterThan) else ">="), lhs - rhs


def _relations_equal(g: Any, p: Any) -> bool:
    sp = sympy()
    op_g, dg = _relation_parts(g)
    op_p, dp = _relation_parts(p)
    if op_g != op_p:
        return False
    if _expr_equal(dg, dp):
        return True
    if op_g in ("==", "!=") and _expr_equal(dg, -dp):
        return True
    # the same relation scaled by a constant (positive for inequalities): 2x+2y=2 vs x+y=1
    if dp == 0 or sp.count_ops(dg) + sp.count_ops(dp) > MAX_RATIO_OPS:
        return False
    ratio = attempt(lambda: sp.cancel(sp.together(dg / dp)), failed=None)
    if ratio is None or ratio.free_symbols or not ratio.is_number or ratio == 0 or ratio.has(sp.zoo, sp.nan):
        return False
    return op_g in ("==", "!=") or bool(ratio.is_positive)


def _unevaluated(expr: Any) -> bool:
    sp = sympy()
    return isinstance(expr, sp.Basic) and expr.has(sp.Sum, sp.Product)


def sympy_equal(g: Any, p: Any) -> bool:
    """Whether two parsed leaves are exactly equal (expressions, relations, sets, matrices)."""
    sp = sympy()
    if isinstance(g, sp.MatrixBase) or isinstance(p, sp.MatrixBase):
        if not (isinstance(g, sp.MatrixBase) and isinstance(p, sp.MatrixBase)) or g.shape != p.shape:
            return False
        return all(sympy_equal(x, y) for x, y in zip(g, p))
    if _unevaluated(g) or _unevaluated(p):  # sums, products: sympy's canonical form only, never computed
        return bool(g == p) or (isinstance(g, sp.Equality) and isinstance(p, sp.Equality) and g.lhs == p.rhs and g.rhs == p.lhs)
    g_rel, p_rel = isinstance(g, sp.core.relational.Relational), isinstance(p, sp.core.relational.Relational)
    if g_rel or p_rel:
        if g_rel and p_rel:
            return _relations_equal(g, p)
        # an inequality in one variable against an interval: compare the solution sets
        rel, other = (g, p) if g_rel else (p, g)
        if (
            isinstance(other, sp.Set)
            and len(rel.free_symbols) == 1
            and not isinstance(rel, sp.Equality)
            and sp.count_ops(rel) <= MAX_SOLVE_OPS
        ):
            return attempt(lambda: bool(rel.as_set() == other), failed=False)
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


# --------------------------------------------------------------------------- sets
def interval_set(ends: list[Any], brackets: str) -> Any:
    """The sympy interval between two parsed ends with brackets like "(]"; raises `Refused`."""
    sp = sympy()
    for end in ends:
        if isinstance(end, Refused):
            raise end
        if not isinstance(end, sp.Expr) or end.free_symbols:
            raise Refused("not an interval")
    return sp.Interval(ends[0], ends[1], left_open=brackets[0] == "(", right_open=brackets[1] == ")")


def relation_set(expr: Any) -> Any:
    """The solution set of an inequality (or a chain ``a < x < b``) in one variable; raises `Refused`."""
    sp = sympy()
    relations = list(getattr(expr, "_unsorted_args", None) or expr.args) if isinstance(expr, sp.And) else [expr]
    if not all(isinstance(r, sp.core.relational.Relational) and not isinstance(r, sp.Equality) for r in relations):
        raise Refused("not an inequality")
    if sum(sp.count_ops(r) for r in relations) > MAX_SOLVE_OPS:
        raise Refused("inequality too large")
    middle = _common_side(relations)
    if middle is not None and not middle.is_Symbol:
        # 0 < f(x) < 1 says f(x) lies in (0, 1): solve for x when sympy can (1 <= |z| <= 2 is a union in z),
        # else read the shared side as the quantity the set is about
        solved = attempt(_solve_one_symbol, relations, failed=None)
        if solved is not None and not solved.has(sp.ConditionSet):
            return solved
        t = sp.Dummy("t", real=True)
        relations = [r.xreplace({middle: t}) for r in relations]
    return _solve_one_symbol(relations)


def _common_side(relations: list[Any]) -> Any:
    """The one non-constant side that every relation shares (``f(x)`` in ``0 < f(x) < 1``), or None."""
    sides = []
    for r in relations:
        if r.lhs.free_symbols and not r.rhs.free_symbols:
            sides.append(r.lhs)
        elif r.rhs.free_symbols and not r.lhs.free_symbols:
            sides.append(r.rhs)
        else:
            return None
    return sides[0] if all(side == sides[0] for side in sides) else None


def _solve_one_symbol(relations: list[Any]) -> Any:
    sp = sympy()
    if len(set().union(*(r.free_symbols for r in relations))) != 1:
        raise Refused("not an inequality in one variable")
    result = sp.S.Reals
    for relation in relations:
        result = sp.Intersection(result, relation.as_set())
    return result
