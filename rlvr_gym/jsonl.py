"""JSON Lines reading with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

__all__ = ["iter_jsonl"]


def iter_jsonl(path: str | Path, errors: str = "strict") -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for each non-blank line; ValueError names a bad line.

    ``errors`` is the text decoding policy (``"replace"`` reads files with invalid UTF-8).
    """
    with open(path, encoding="utf-8", errors=errors) as stream:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {line_no} is not valid JSON ({exc.msg})") from None
