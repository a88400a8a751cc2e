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


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The argument of a command whose name ends at ``start``: ``{...}`` (balanced) or ``\\boxed 5``.

    Returns (content, index after it), or None when the braces never close.
    """
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text):
        return None
    if text[i] != "{":
        # "\boxed 5": TeX takes the next token; take the run up to a space or "$".
        j = i
        while j < len(text) and text[j] not in " \t\n$":
            j += 1
        return (text[i:j], j) if j > i else None
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "\\":
            continue  # "\{" is handled by the check below on the next char
        if ch == "{" and text[j - 1] != "\\":
            depth += 1
        elif ch == "}" and text[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
    return None


def boxed_contents(text: str) -> list[str]:
    """The contents of every complete top-level ``\\boxed{}``/``\\fbox{}``, in order.

    A box inside another box is part of the outer box's content, not a separate entry.
    """
    found: list[str] = []
    covered_until = -1
    for start in _box_starts(text):
        if start < covered_until:
            continue
        arg = _braced(text, start)
        if arg is None:
            continue
        content, end = arg
        found.append(content)
        covered_until = end
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last complete top-level box, or None."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None
