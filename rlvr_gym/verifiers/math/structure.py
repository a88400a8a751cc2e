r"""Stage 2: the structure of an answer, by string work only.

A bare list (``3, 5, 7``, also from "and"/"or") is compared as a multiset,
``\{..\}`` as a set, tuples/intervals in order with the same brackets (``,`` or
``;`` between entries), ``\cup`` as a set of pieces, matrices entry by entry
(``pmatrix``, ``bmatrix``, an ``array`` in brackets), assignments ``x=1, y=2`` by
variable (against a plain list or tuple: in the order written), solutions
``p=5,q=2;p=7,q=2`` as a list of tuples; ``\pm`` expands to two items.

A left-hand side that only names the value is dropped: ``x =``, ``f(x) =``,
``|AB| =``, ``(p,q) =``, ``A:B =``, ``\frac{NO}{BO} =`` (`is_name`); the equation as
written is kept (`Node.whole`) so an equation can still be compared with its
rearrangement. A chain ``x = 5+5+1 = 11`` states its last member. So a hedge
("5 or 6", "5, 6", ``\boxed{5}, \boxed{6}``) never matches the single answer 5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..latex import max_nesting, split_top_level, strip_outer
from .limits import MAX_GOLD_CHARS, MAX_ITEMS, MAX_NAME_CHARS, MAX_STRUCTURE_NESTING

__all__ = ["Node", "build_node", "is_name", "top_level_equals"]


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
    """Assignments: the variable of each item, in the order written."""
    whole: str = ""
    """Leaves read from ``name = value``: the equation as written (the leaf's text is the value)."""


_IN_PREFIX = re.compile(r"(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?|')?|\\[A-Za-z]+)\\in(?![A-Za-z])")
_SUBSCRIPT = r"(?:_\{[A-Za-z0-9+\-]+\}|_[A-Za-z0-9])"
_SIMPLE_NAME = re.compile(rf"[A-Za-z]{_SUBSCRIPT}?'*|[A-Z]{{2,4}}{_SUBSCRIPT}?|\\[A-Za-z]+(?:\{{[A-Za-z]{{1,4}}\}})?{_SUBSCRIPT}?")
_FUNCTION = re.compile(rf"[A-Za-z]{_SUBSCRIPT}?\((?:[A-Za-z0-9]{_SUBSCRIPT}?)(?:,[A-Za-z0-9]{_SUBSCRIPT}?)*\)")
_FRAC_OF = re.compile(r"\\frac\{([^{}]+)\}\{([^{}]+)\}")
_MATRIX = re.compile(r"\\begin\{([pbB]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.DOTALL)
_PM = re.compile(r"\\(?:pm|mp)(?![A-Za-z])")
_CUP = re.compile(r"\\cup(?![A-Za-z])")


def is_name(s: str, depth: int = 0) -> bool:
    r"""Whether ``s`` only names a quantity: ``x``, ``x_{1}``, ``AB``, ``\alpha``, ``f(x)``, ``|AB|``,
    ``(p,q)``, ``A:B``, ``V_{1}:V_{2}``, ``\frac{NO}{BO}``; not an expression (``2x+4y``, ``xy``)."""
    if depth > 3 or not s or len(s) > MAX_NAME_CHARS:
        return False
    if _SIMPLE_NAME.fullmatch(s) or _FUNCTION.fullmatch(s):
        return True
    if len(s) > 2 and s[0] == s[-1] == "|":
        return is_name(s[1:-1], depth + 1)
    if s[0] == "(" and s[-1] == ")" and _balanced(s[1:-1]):
        parts = split_top_level(s[1:-1], ",")
        return len(parts) > 1 and all(is_name(p, depth + 1) for p in parts)
    m = _FRAC_OF.fullmatch(s)
    if m:
        return is_name(m.group(1), depth + 1) and is_name(m.group(2), depth + 1)
    parts = split_top_level(s, ":")
    return len(parts) > 1 and all(is_name(p, depth + 1) for p in parts)


def top_level_equals(s: str) -> list[str]:
    """``s`` split at each ``=`` outside brackets (not ``<=``, ``>=``, ``!=``, ``==``)."""
    members: list[str] = []
    depth = start = 0
    for j, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "=" and depth == 0 and s[j - 1 : j] not in ("<", ">", "!", "=") and s[j + 1 : j + 2] != "=":
            members.append(s[start:j])
            start = j + 1
    members.append(s[start:])
    return members


def _strip_var(item: str) -> tuple[str | None, str]:
    """``x=5`` -> ("x", "5"); ``f(x)=1`` -> ("f(x)", "1"); ``x\\in[1,2]`` -> ("x", "[1,2]");
    a chain ``x=5+5+1=11`` -> ("x", "11"); otherwise (None, item)."""
    m = _IN_PREFIX.match(item)
    if m and m.end() < len(item) and "=" not in item[m.end() :]:
        return item[: m.end()].removesuffix("\\in"), item[m.end() :]
    members = top_level_equals(item)
    if len(members) < 2 or not all(members):
        return None, item
    if len(members) > 2:  # a chain of equalities states its last member
        return (members[0] if is_name(members[0]) else "="), members[-1]
    return (members[0], members[1]) if is_name(members[0]) else (None, item)


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


def _solutions(s: str, groups: list[str]) -> Node | None:
    """``p=5,q=2;p=7,q=2``: several solutions, each an assignment of the same names -> a list of tuples."""
    rows = [[_strip_var(p) for p in split_top_level(g, ",")] for g in groups]
    names = [n for n, _ in rows[0]]
    if len(rows) > MAX_ITEMS or len(names) < 2 or not all(names) or len(set(names)) < len(names):
        return None
    if any([n for n, _ in row] != names for row in rows):
        return None
    tuples = [_items([v for _, v in row]) for row in rows]
    if not all(tuples):
        return None
    return Node("list", s, tuple(Node("tuple", g, t, brackets="()") for g, t in zip(groups, tuples)))


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
    if all(names) and "=" not in names and len(set(names)) == len(names):  # x=1, y=2: a solution of a system
        items = _items([value for _, value in named])
        return Node("assign", s, items, names=tuple(names)) if items else Node("leaf", s)
    if names[0] and all(n in (None, names[0]) for n in names):  # x = 1, 2 or x=1, x=2
        parts = [v for _, v in named]
    expanded = [e for p in parts for e in _expand_pm(p)]
    items = _items(expanded)
    return Node("list", s, items) if items else Node("leaf", s)


def build_node(s: str) -> Node:
    """Parse a normalized answer string into a `Node` tree (string work only)."""
    if len(s) > MAX_GOLD_CHARS or max_nesting(s) > MAX_STRUCTURE_NESTING:
        return Node("leaf", s)
    m = _MATRIX.fullmatch(s) or (s[:1] in "([" and s[-1:] in ")]" and _MATRIX.fullmatch(s[1:-1])) or None
    if m and "\\begin{" not in m.group(2) and "\\end{" not in m.group(2):
        return _matrix(s, m.group(2))
    if m:
        return Node("leaf", s)
    groups = split_top_level(s, ";")
    solutions = _solutions(s, groups) if len(groups) > 1 else None
    if solutions is not None:
        return solutions
    parts = split_top_level(s)
    if len(parts) > 1:
        return _list(s, parts)
    name, value = _strip_var(s)
    if name is not None:
        node = build_node(value)
        return replace(node, whole=s) if node.kind == "leaf" and name != "=" else node
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
            if len(parts) == 1:  # (0;-2;6): semicolons between the entries
                parts = split_top_level(inner, ";")
            if len(parts) > 1:
                items = _items(parts) if len(parts) <= MAX_ITEMS else None
                return Node("tuple", s, items, brackets=s[0] + s[-1]) if items else Node("leaf", s)
            if s[0] == "(" and s[-1] == ")":
                return build_node(inner)
    pm = _expand_pm(s)
    if len(pm) == 2:
        return Node("list", s, (Node("leaf", pm[0]), Node("leaf", pm[1])))
    return Node("leaf", s)
