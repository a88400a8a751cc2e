"""Seeing a run: ``metrics.jsonl``, TensorBoard, W&B (when asked) and a tqdm progress bar.

Metric names are grouped by a ``/``: ``rewards/mean``, ``kl/ref``, ``loss/policy``,
``loss/value``, ``response/length``, ``time/generation``, ``eval/accuracy``, ... One JSON line per
logged step: ``{"step": k, "<name>": value, ...}``. On resume, lines past the checkpoint's step
are dropped first, so the file reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = [
    "METRICS_FILE",
    "PPO_BAR_FIELDS",
    "MetricsLogger",
    "ProcessMetrics",
    "ProgressBar",
    "merge_process_metrics",
    "read_metrics",
    "truncate_after",
]

METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class ProcessMetrics:
    """One process's metrics of a step, by how they combine over processes (equal shares of the batch)."""

    mean: Mapping[str, float] = field(default_factory=dict)
    """Averaged over processes: rates and means of this process's share, loss and update statistics."""
    max: Mapping[str, float] = field(default_factory=dict)
    """The largest over processes: maxima of the share, and times (the slowest process sets the pace)."""


def merge_process_metrics(every: Sequence[ProcessMetrics]) -> dict[str, float]:
    """The whole batch's metrics from every process's `ProcessMetrics` (a name missing on a process counts as 0)."""
    merged: dict[str, float] = {}
    for name in sorted(set().union(*(m.mean for m in every))):
        merged[name] = sum(m.mean.get(name, 0.0) for m in every) / len(every)
    for name in sorted(set().union(*(m.max for m in every))):
        merged[name] = max(m.max.get(name, 0.0) for m in every)
    return merged


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``RUN_DIR/metrics.jsonl``, in order."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics file (is {run_dir} a training run folder?)")
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def truncate_after(path: Path, step: int) -> None:
    """Drop the JSON lines of ``path`` whose ``step`` is past ``step`` (a resumed run rewrites them)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class MetricsLogger:
    """Writes each step's metrics to every configured sink."""

    def __init__(
        self,
        run_dir: Path,
        *,
        tensorboard: bool,
        wandb: bool,
        wandb_project: str,
        start_step: int,
        run_config: Mapping[str, Any],
    ):
        self.path = run_dir / METRICS_FILE
        truncate_after(self.path, start_step)
        self._stream = self.path.open("a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start_step + 1 if start_step else None)
        self._wandb = None
        if wandb:
            import wandb as wandb_module

            self._wandb = wandb_module.init(project=wandb_project, dir=str(run_dir), config=dict(run_config), resume="allow")

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """One record for ``step``; non-finite values are written as JSON ``null``."""
        clean = {name: (float(value) if math.isfinite(float(value)) else None) for name, value in metrics.items()}
        self._stream.write(json.dumps({"step": step, **clean}) + "\n")
        self._stream.flush()
        if self._tb is not None:
            for name, value in clean.items():
                if value is not None:
                    self._tb.add_scalar(name, value, step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(dict(clean), step=step)

    def close(self) -> None:
        self._stream.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


PPO_BAR_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("reward", "rewards/mean", ".2f"),
    ("acc", "verifier/correct", ".2f"),
    ("kl", "kl/ref", ".3f"),
    ("len", "response/length", ".1f"),
)
"""``(label, metric, format)`` of each live value of the training bar (a metric the step did not log is left out:
no ``kl`` without a reference)."""


class ProgressBar:
    """tqdm over steps with live metrics (PPO's: reward, KL, response length; a no-op when disabled); ``leave=False``
    clears the bar when it closes (the SFT's, before the training bar starts)."""

    def __init__(
        self,
        enabled: bool,
        total: int,
        initial: int,
        desc: str = "ppo",
        fields: Sequence[tuple[str, str, str]] = PPO_BAR_FIELDS,
        leave: bool = True,
    ):
        self._bar = None
        self._fields = tuple(fields)
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, leave=leave)

    def update(self, metrics: Mapping[str, float]) -> None:
        if self._bar is None:
            return
        postfix = {label: format(metrics[name], fmt) for label, name, fmt in self._fields if name in metrics}
        if "eval/accuracy" in metrics:
            postfix["eval"] = f"{metrics['eval/accuracy']:.3f}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)

    def write(self, message: str) -> None:
        """Print a line without breaking the bar."""
        if self._bar is None:
            print(message, flush=True)
        else:
            self._bar.write(message)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
