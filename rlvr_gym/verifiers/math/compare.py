r"""The equivalence cascade, cheapest stage first, and the prepared ground truth.

1. normalized string equality (`latex.normalize_answer`);
2. structure (`structure.build_node`): lists, sets, tuples, intervals, unions,
   matrices, assignments, each compared item by item;
3. exact numbers (`numbers.parse_number`) and two cheap *rejections* that skip
   sympy: a constant never equals an expression in a variable (answers are
   written simplified), and disjoint intervals (`interval`) are certainly
   different. Numbers in another base (``52_8``), times and ratios (``12:00``)
   compare as strings only;
4. sympy (`symbolic`), exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..base import InvalidGroundTruth
from ..latex import extract_answer, normalize_answer
from .interval import exact_interval, gold_interval, has_variable, pred_interval
from .limits import GOLD_CACHE_SIZE, MAX_GOLD_CHARS
from .numbers import parse_number
from .safety import Refused, attempt
from .structure import Node, build_node, top_level_equals
from .symbolic import gold_sympy, interval_set, pred_sympy, relation_set, sympy, sympy_equal

__all__ = ["GoldAnswer", "Outcome", "answers_equivalent", "collapse", "compare", "prepare_ground_truth"]

_WORDS = re.compile(r"[A-Za-z][A-Za-z'\- ]{2,}")
"""Text answers ("Evelyn", "even"): compared as words, case-insensitively, never by sympy."""
_METHODS = ("string", "number", "sympy")


class Outcome:
    """How a comparison was decided (the strongest method needed) and what was not compared."""

    __slots__ = ("method", "refusals")

    def __init__(self) -> None:
        self.method = "string"
        self.refusals: list[str] = []

    def used(self, method: str) -> None:
        if _METHODS.index(method) > _METHODS.index(self.method):
            self.method = method


# --------------------------------------------------------------------------- leaves
def _leaf_equal(g: str, p: str, out: Outcome) -> bool:
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
    g_var, p_var = has_variable(g), has_variable(p)
    gi = exact_interval(gn) if isinstance(gn, Fraction) else None if g_var else gold_interval(g)
    pi = exact_interval(pn) if isinstance(pn, Fraction) else None if p_var else pred_interval(p)
    if (g_var and not p_var and (pn is not None or pi is not None)) or (p_var and not g_var and (gn is not None or gi is not None)):
        out.used("number")
        return False  # a constant is not an expression in a variable (answers are written simplified)
    if gi is not None and pi is not None and (gi.b < pi.a or pi.b < gi.a):
        out.used("number")
        return False  # disjoint intervals: certainly different, no sympy needed
    return _sympy_leaf_equal(g, p, out)


def _sympy_leaf_equal(g: str, p: str, out: Outcome) -> bool:
    gs = gold_sympy(g)
    if isinstance(gs, Refused):
        out.refusals.append(f"ground truth: {gs}")
        return False
    ps = pred_sympy(p)
    if isinstance(ps, Refused):
        out.refusals.append(f"response: {ps}")
        return False
    out.used("sympy")
    return sympy_equal(gs, ps)


# --------------------------------------------------------------------------- structures
def _match_unordered(gold: tuple[Node, ...], pred: tuple[Node, ...], out: Outcome) -> bool:
    """A perfect matching between equal-size item lists (Kuhn's algorithm, exact matches first)."""
    if len(gold) != len(pred):
        return False
    n = len(gold)
    cache: dict[tuple[int, int], bool] = {}

    def eq(i: int, j: int) -> bool:
        if (i, j) not in cache:
            cache[(i, j)] = node_equal(gold[i], pred[j], out)
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


def _node_as_set(node: Node, parse: Callable[[str], Any]) -> Any:
    """A sympy set from an interval node ``(a, b]`` or a union of them; raises `Refused`."""
    if node.kind == "union":
        return sympy().Union(*(_node_as_set(item, parse) for item in node.items))
    if node.kind != "tuple" or len(node.items) != 2 or not all(i.kind == "leaf" for i in node.items):
        raise Refused("not an interval")
    return interval_set([parse(item.text) for item in node.items], node.brackets)


def _interval_vs_relation(
    interval: Node, relation: str, parse_interval: Callable[[str], Any], parse_relation: Callable[[str], Any], out: Outcome
) -> bool:
    expr = parse_relation(relation)
    try:
        if isinstance(expr, Refused):
            raise expr
        out.used("sympy")
        return attempt(lambda: bool(_node_as_set(interval, parse_interval) == relation_set(expr)), failed=False)
    except Refused as exc:
        out.refusals.append(str(exc))
        return False


def _equation_equal(g: Node, p: Node, out: Outcome) -> bool:
    """``2x+4y-3=0`` against ``y=-\\frac12x+\\frac34``: when a name was stripped from one side and
    the other is an equation, compare the two equations as written."""
    gt, pt = g.whole or g.text, p.whole or p.text
    if (gt, pt) == (g.text, p.text) or len(top_level_equals(gt)) != 2 or len(top_level_equals(pt)) != 2:
        return False
    return _leaf_equal(gt, pt, out)


def _by_name(node: Node) -> tuple[tuple[str, ...], tuple[Node, ...]]:
    order = sorted(range(len(node.names)), key=lambda i: node.names[i])
    return tuple(node.names[i] for i in order), tuple(node.items[i] for i in order)


def _without_repeats(gold: tuple[Node, ...], pred: tuple[Node, ...]) -> tuple[Node, ...]:
    """A prediction that writes the same item twice (``(3,17,3,7), ..., (3, 17, 3, 7)``) states it once,
    unless the ground truth itself repeats an item (a multiset such as a double root)."""
    if len(pred) <= len(gold) or len(set(gold)) < len(gold):
        return pred
    return tuple(dict.fromkeys(pred))


def node_equal(g: Node, p: Node, out: Outcome) -> bool:
    """Whether a ground-truth node and a response node are equivalent (the cascade, per item)."""
    if g.kind == "leaf" and p.kind == "leaf":
        return _leaf_equal(g.text, p.text, out) or (bool(g.whole or p.whole) and _equation_equal(g, p, out))
    unordered = {"list", "set"}
    if g.kind in unordered and p.kind in unordered:
        return _match_unordered(g.items, _without_repeats(g.items, p.items), out)
    ordered = {g.kind, p.kind}
    if (
        "assign" in ordered
        and ordered & {"list", "tuple"}
        and (g.kind != "tuple" or g.brackets == "()")
        and (p.kind != "tuple" or p.brackets == "()")
    ):
        # x=-5, p=\frac{14}{3} against -5, \frac{14}{3}: the values in the order written
        return len(g.items) == len(p.items) and all(node_equal(a, b, out) for a, b in zip(g.items, p.items))
    if g.kind != p.kind:
        # an interval (or union) against an inequality: x > 2 and (2, \infty) are the same set
        if _is_interval(g) and _is_relation(p):
            return _interval_vs_relation(g, p.text, gold_sympy, pred_sympy, out)
        if _is_relation(g) and _is_interval(p):
            return _interval_vs_relation(p, g.text, pred_sympy, gold_sympy, out)
        return False
    if g.kind == "union":
        return _match_unordered(g.items, p.items, out)
    if g.kind == "assign":
        (g_names, g_items), (p_names, p_items) = _by_name(g), _by_name(p)
        return g_names == p_names and all(node_equal(a, b, out) for a, b in zip(g_items, p_items))
    if g.kind == "tuple" and g.brackets != p.brackets:
        return False
    return len(g.items) == len(p.items) and all(node_equal(a, b, out) for a, b in zip(g.items, p.items))


# --------------------------------------------------------------------------- ground truth
@dataclass(frozen=True)
class GoldAnswer:
    """A prepared ground truth."""

    answer: str
    """The answer as written (a solution's final box group)."""
    norm: str
    """`latex.normalize_answer` of it."""
    node: Node


@lru_cache(maxsize=GOLD_CACHE_SIZE)
def prepare_ground_truth(ground_truth: str) -> GoldAnswer:
    """Extract, normalize and parse a ground truth once per process (cached). Raises `InvalidGroundTruth`."""
    text = ground_truth.strip()
    if "\\boxed" in text or "\\fbox" in text:
        extraction = extract_answer(text, phrase_fallback=False)
        if extraction.answer is None:
            raise InvalidGroundTruth(f"ground truth has \\boxed but no usable box: {extraction.note}")
        answer = collapse(extraction.items)
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


def collapse(items: tuple[str, ...]) -> str:
    r"""One answer from a final box group: the last item when all items are equivalent, else the list.

    ``\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}`` is one answer written twice;
    ``\boxed{3} and \boxed{5}`` is the list "3, 5"; ``\boxed{5} or \boxed{6}`` is the hedge "5, 6".
    """
    if len(items) == 1:
        return items[0]
    try:
        last = _gold_from_answer(items[-1], items[-1])
        if all(compare(last, normalize_answer(item))[0] for item in items[:-1]):
            return items[-1]
    except InvalidGroundTruth:
        pass
    return ", ".join(items)


def compare(gold: GoldAnswer, pred_norm: str) -> tuple[bool, Outcome]:
    """Whether a normalized response answer matches a prepared ground truth, and how it was decided."""
    out = Outcome()
    if gold.norm == pred_norm:
        return True, out
    return node_equal(gold.node, build_node(pred_norm), out), out


def answers_equivalent(gold: str, pred: str) -> bool:
    """Whether two answers (LaTeX, no surrounding prose) are equivalent. Never raises; no timer."""
    try:
        ok, _ = compare(prepare_ground_truth(gold), normalize_answer(pred))
        return ok
    except Exception:  # noqa: BLE001
        return False
