"""Item sources: where a task's ``(prompt, ground_truth)`` items come from.

A source is a small frozen dataclass with a ``load() -> list[Item]`` method:

- `FileSource`: a local JSONL or Parquet file, with a field mapping;
- `HFDatasetSource`: a ``datasets`` name (only when the hub is reachable; tests never use it);
- procedural sources live in `rlvr_gym.envs.procedural` and need no file at all.

A relative file path is read from the working directory when the file is there, else
from the data root: ``$RLVR_GYM_DATA`` when set, else the first ``shared/data`` folder
found beside the working directory or the repository (``./shared/data``, ``../shared/data``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from ..jsonl import iter_jsonl

__all__ = ["Item", "ItemSource", "FileSource", "HFDatasetSource", "data_root", "DataNotFound"]


@dataclass(frozen=True)
class Item:
    """One task item."""

    id: str
    """Stable identifier (the file's id field, else ``"<task>/<row index>"``)."""
    prompt: str
    """The problem text, before any prompt format is applied."""
    ground_truth: Any
    """What the task's verifier checks responses against."""
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Other fields of the row (level, subject, ...)."""


class ItemSource(Protocol):
    """Anything with a ``load()`` that returns the task's items, in a fixed order."""

    def load(self) -> list[Item]: ...


class DataNotFound(FileNotFoundError):
    """A task's data file is missing; the message names the file and the fields it needs."""


def data_root() -> Path:
    """The folder relative data paths are read from (see the module docstring)."""
    env = os.environ.get("RLVR_GYM_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for candidate in (Path.cwd() / "shared" / "data", Path.cwd().parent / "shared" / "data", repo.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "data"


def _field(row: Mapping[str, Any], name: str, path: Path, line: int) -> Any:
    try:
        return row[name]
    except KeyError:
        raise KeyError(f"{path}: row {line} has no field {name!r} (fields: {', '.join(sorted(row))})") from None


@dataclass(frozen=True)
class FileSource:
    """Items from a local ``.jsonl`` or ``.parquet`` file."""

    path: str
    """File path; a relative path is read from the working directory if the file is there, else from `data_root()`."""
    prompt_field: str
    """Field holding the prompt text."""
    ground_truth_field: str | tuple[str, ...]
    """Field holding the ground truth, or several fields gathered into one dict (IFEval)."""
    id_field: str | None = None
    """Field holding a stable id; None numbers the rows."""
    metadata_fields: tuple[str, ...] = ()
    """Other fields copied into ``Item.metadata``."""
    drop_null_kwargs: bool = False
    """Drop null values inside a ``kwargs`` list of dicts (IFEval's convention)."""

    def resolved_path(self) -> Path:
        path = Path(self.path)
        return path if path.is_absolute() or path.is_file() else data_root() / path

    def _rows(self, path: Path) -> list[dict[str, Any]]:
        if path.suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise ImportError(f"reading {path} needs pyarrow: pip install 'rlvr-gym[parquet]'") from None
            return pq.read_table(path).to_pylist()
        return [row for _, row in iter_jsonl(path)]

    def load(self) -> list[Item]:
        path = self.resolved_path()
        if not path.is_file():
            fields = (self.prompt_field,) + (
                self.ground_truth_field if isinstance(self.ground_truth_field, tuple) else (self.ground_truth_field,)
            )
            raise DataNotFound(
                f"data file not found: {path} (a .jsonl or .parquet with fields {', '.join(fields)}; "
                "set RLVR_GYM_DATA to the folder holding it)"
            )
        items = []
        for index, row in enumerate(self._rows(path)):
            line = index + 1
            if isinstance(self.ground_truth_field, tuple):
                ground_truth = {name: _field(row, name, path, line) for name in self.ground_truth_field}
                if self.drop_null_kwargs and isinstance(ground_truth.get("kwargs"), list):
                    ground_truth["kwargs"] = [
                        {k: v for k, v in kw.items() if v is not None} if isinstance(kw, dict) else kw for kw in ground_truth["kwargs"]
                    ]
            else:
                ground_truth = _field(row, self.ground_truth_field, path, line)
            item_id = str(_field(row, self.id_field, path, line)) if self.id_field else str(index)
            metadata = {name: row[name] for name in self.metadata_fields if name in row}
            items.append(Item(id=item_id, prompt=_field(row, self.prompt_field, path, line), ground_truth=ground_truth, metadata=metadata))
        return items


@dataclass(frozen=True)
class HFDatasetSource:
    """Items from a Hugging Face ``datasets`` name (needs the hub or a local cache)."""

    name: str
    """Dataset name or local path given to ``datasets.load_dataset``."""
    split: str
    """Split to read, e.g. ``"test"``."""
    prompt_field: str
    """Field holding the prompt text."""
    ground_truth_field: str | tuple[str, ...]
    """Field holding the ground truth, or several fields gathered into one dict."""
    config: str | None = None
    """Dataset configuration name, e.g. ``"main"`` for GSM8K."""
    id_field: str | None = None
    """Field holding a stable id; None numbers the rows."""

    def load(self) -> list[Item]:
        try:
            import datasets
        except ImportError:
            raise ImportError(f"loading {self.name!r} needs the datasets package: pip install datasets") from None
        rows: Sequence[Mapping[str, Any]] = datasets.load_dataset(self.name, self.config, split=self.split)
        items = []
        for index, row in enumerate(rows):
            if isinstance(self.ground_truth_field, tuple):
                ground_truth: Any = {name: row[name] for name in self.ground_truth_field}
            else:
                ground_truth = row[self.ground_truth_field]
            item_id = str(row[self.id_field]) if self.id_field else str(index)
            items.append(Item(id=item_id, prompt=row[self.prompt_field], ground_truth=ground_truth))
        return items
