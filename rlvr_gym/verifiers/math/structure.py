r"""Stage 2: the structure of an answer, by string work only.

A bare list (``3, 5, 7``, also from "and"/"or") is compared as a multiset,
``\{..\}`` as a set, tuples/intervals in order with the same brackets, ``\cup`` as
a set of pieces, matrices entry by entry, assignments ``x=1, y=2`` by variable;
``\pm`` expands to two items. A leading ``x =`` is dropped. So a hedge ("5 or 6",
"5, 6", ``\boxed{5}, \boxed{6}``) never matches the single answer 5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..latex import max_nesting, split_top_level, strip_outer
from .limits import MAX_GOLD_CHARS, MAX_ITEMS, MAX_STRUCTURE_NESTING

__all__ = ["Node", "build_node"]


@dataclass(frozen=True)
class Node:
    """A parsed answer: ``kind`` is leaf, list, set, tuple, union, matrix or assign."""

    kind: str
    text: str = ""
    """The normalized text (leaves: the expression)."""
    items: tuple[Node, ...] = ()
    brackets: str = ""
    """Tuples: the opening and closing bracket, e.g. "(]"."""
    names: tuple[str, ...] = ()
    """Assignments: the variable of each item."""


_VAR_PREFIX = re.compile(r"(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?|')?|\\[A-Za-z]+)(?:=|\\in(?![A-Za-z]))(?!=)")
_MATRIX = re.compile(r"\\begin\{([pbB]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.DOTALL)
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


def _matrix(s: str, body: str) -> Node:
    rows = [r for r in re.split(r"\\\\", body) if r.strip()]
    cells = [r.split("&") for r in rows]
    if 0 < len(rows) <= MAX_ITEMS and all(len(c) == len(cells[0]) for c in cells) and len(cells[0]) <= MAX_ITEMS:
        items = tuple(Node("tuple", items=tuple(build_node(strip_outer(c)) for c in row), brackets="[]") for row in cells)
        if all(all(i.text for i in row.items) for row in items):
            return Node("matrix", s, items)
    return Node("leaf", s)


def _list(s: str, parts: list[str]) -> Node:
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


def build_node(s: str) -> Node:
    """Parse a normalized answer string into a `Node` tree (string work only)."""
    if len(s) > MAX_GOLD_CHARS or max_nesting(s) > MAX_STRUCTURE_NESTING:
        return Node("leaf", s)
    m = _MATRIX.fullmatch(s)
    if m and "\\begin{" not in m.group(2) and "\\end{" not in m.group(2):
        return _matrix(s, m.group(2))
    if m:
        return Node("leaf", s)
    parts = split_top_level(s)
    if len(parts) > 1:
        return _list(s, parts)
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
