"""Text helpers shared by verifiers: the part after ``</think>`` and ``\\boxed{}`` contents.

Every function here is linear in the input and never recurses, so hostile input
(megabytes of text, braces nested thousands deep) costs time proportional to its size.
"""

from __future__ import annotations

__all__ = ["after_think", "boxed_contents", "last_boxed"]

THINK_CLOSE = "</think>"
_BOX_COMMANDS = ("\\boxed", "\\fbox")


def after_think(response: str) -> str:
    """The text after the last ``</think>``, or the whole response when there is none."""
    head, sep, tail = response.rpartition(THINK_CLOSE)
    return tail if sep else response


def _box_starts(text: str) -> list[int]:
    """Indices just past each ``\\boxed``/``\\fbox`` command name, in order."""
    starts: list[int] = []
    for command in _BOX_COMMANDS:
        i = text.find(command)
        while i != -1:
            end = i + len(command)
            if not (end < len(text) and text[end].isalpha()):  # \boxed, not \boxedfoo
                starts.append(end)
            i = text.find(command, end)
    starts.sort()
    return starts


def _brace_matches(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of its matching ``}``, in one pass (escaped braces ignored)."""
    matches: dict[int, int] = {}
    stack: list[int] = []
    escaped = False
    for j, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "{":
            stack.append(j)
        elif ch == "}" and stack:
            matches[stack.pop()] = j
    return matches


def boxed_contents(text: str) -> list[str]:
    """The contents of every complete top-level ``\\boxed{}``/``\\fbox{}``, in order.

    A box inside another box is part of the outer box's content, not a separate entry.
    ``\\boxed 5`` (no braces) takes the run of text up to a space or ``$``. Linear time.
    """
    starts = _box_starts(text)
    if not starts:
        return []
    matches = _brace_matches(text)
    found: list[str] = []
    covered_until = -1
    for start in starts:
        if start < covered_until:
            continue
        i = start
        while i < len(text) and text[i] in " \t":
            i += 1
        if i >= len(text):
            continue
        if text[i] == "{":
            close = matches.get(i)
            if close is None:
                continue  # never closed
            found.append(text[i + 1 : close])
            covered_until = close + 1
        else:
            j = i
            while j < len(text) and text[j] not in " \t\n$":
                j += 1
            found.append(text[i:j])
            covered_until = j
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last complete top-level box, or None."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None
