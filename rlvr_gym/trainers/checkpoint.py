"""Checkpoints: a Hugging Face policy folder plus everything needed to resume the run exactly.

Layout of ``RUN_DIR/checkpoints/step-000050/``::

    config.json, model.safetensors, generation_config.json, tokenizer*.json  # the policy: transformers and vLLM load it as is
    value_model/          # the critic: backbone (save_pretrained) + value_head.safetensors
    ref_model/            # the reference policy, only when it moves (EMA); a frozen one is the run's start checkpoint
    trainer_state.pt      # optimizers, schedules, KL coefficient, step, RNG states (the prompt order follows from seed and step)
    trainer_state.json    # the same, minus tensors, for people

A checkpoint is written to ``step-N.tmp`` and renamed when complete, so an interrupted save never
leaves a folder that looks whole. ``trainer_state.pt`` holds numpy RNG state and is loaded with
``torch.load(weights_only=False)``: load only checkpoints you wrote.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "REF_DIR",
    "TRAINER_STATE_FILE",
    "VALUE_DIR",
    "capture_rng_state",
    "checkpoint_dir",
    "latest_checkpoint",
    "load_trainer_state",
    "prune_checkpoints",
    "resolve_resume",
    "restore_rng_state",
    "save_trainer_state",
    "trainer_state_file",
]

TRAINER_STATE_FILE = "trainer_state.pt"
VALUE_DIR = "value_model"
REF_DIR = "ref_model"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    """``RUN_DIR/checkpoints/step-NNNNNN``."""
    return run_dir / "checkpoints" / f"step-{step:06d}"


def _complete_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and (path / TRAINER_STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step under ``run_dir``, or None."""
    found = _complete_checkpoints(run_dir)
    return found[-1][1] if found else None


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """The checkpoint folder that ``checkpoint.resume`` names (``latest`` or a path), or None to start fresh."""
    if resume is None:
        return None
    if resume == "latest":
        path = latest_checkpoint(run_dir)
        if path is None:
            raise FileNotFoundError(f"checkpoint.resume=latest: no checkpoint under {run_dir / 'checkpoints'}")
        return path
    path = Path(resume)
    if not (path / TRAINER_STATE_FILE).is_file():
        raise FileNotFoundError(f"checkpoint.resume: {path} is not a trainer checkpoint (no {TRAINER_STATE_FILE})")
    return path


def prune_checkpoints(run_dir: Path, keep_last: int | None) -> None:
    """Delete all but the newest ``keep_last`` complete checkpoints (None keeps all)."""
    if keep_last is None:
        return
    for _, path in _complete_checkpoints(run_dir)[:-keep_last]:
        shutil.rmtree(path)


def capture_rng_state() -> dict[str, Any]:
    """RNG states of python, numpy and torch (CPU, and CUDA when present)."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore what `capture_rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items() if not isinstance(v, (torch.Tensor, np.ndarray))}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def trainer_state_file(rank: int = 0) -> str:
    """The trainer-state file of process ``rank``: ``trainer_state.pt`` (rank 0), ``trainer_state.rank{r}.pt``."""
    return TRAINER_STATE_FILE if rank == 0 else f"trainer_state.rank{rank}.pt"


def save_trainer_state(path: Path, state: dict[str, Any], rank: int = 0) -> None:
    """Write process ``rank``'s ``trainer_state*.pt`` (everything) into ``path``; rank 0 also writes
    ``trainer_state.json`` (the scalars). Each process of a multi-process run saves its own (its
    optimizer partition and RNG state)."""
    torch.save(state, path / trainer_state_file(rank))
    if rank == 0:
        summary = {k: v for k, v in state.items() if k not in ("policy_optimizer", "value_optimizer", "rng")}
        (path / "trainer_state.json").write_text(json.dumps(_json_ready(summary), indent=2) + "\n")


def load_trainer_state(path: Path, rank: int = 0) -> dict[str, Any]:
    """Read process ``rank``'s trainer state from a checkpoint folder (written by `save_trainer_state`)."""
    file = path / trainer_state_file(rank)
    if not file.is_file():
        hint = " (was it saved by a run with fewer processes?)" if rank else ""
        raise FileNotFoundError(f"{path}: no {file.name}{hint}")
    return torch.load(file, map_location="cpu", weights_only=False)
