"""``RUN_DIR/train.log``: everything a run says, in one file, while the console keeps to the progress bar.

The file gets, each line stamped with the time:

- every line the run prints (`RunLog.info`: the engine, resume, held-out accuracy);
- one line per step with its main numbers (`RunLog.step`; the full record is in ``metrics.jsonl``);
- every log record at INFO or above of this process, the libraries' included: transformers, DeepSpeed
  and vLLM keep their records from the root logger, so the file handler goes on their loggers too;
- every Python warning (`logging.captureWarnings`). The console still shows each once per message and
  place (Python's default filter), and any record at WARNING or above, as Python's last resort did.

vLLM's engine process writes its records to the same file: `RUN_LOG_ENV` names it, the child inherits
it, and `rlvr_gym.rollout.vllm_logging.quiet_vllm_logging` attaches it there. Lines are appended, so a
resumed run continues the same file.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from ..rollout.vllm_logging import RUN_LOG_ENV, file_handler

__all__ = ["LIBRARY_LOGGERS", "LOG_FILE", "STEP_FIELDS", "RunLog"]

LOG_FILE = "train.log"

LIBRARY_LOGGERS = ("transformers", "DeepSpeed", "vllm")
"""Loggers that do not pass their records to the root logger."""

STEP_FIELDS = ("rewards/mean", "verifier/correct", "kl/ref", "response/length", "loss/policy", "eval/accuracy", "time/step")
"""The numbers of each step's line (those the step logged)."""


class RunLog:
    """The run's log file, open between ``__enter__`` and ``__exit__`` (see the module docstring).

    ``console`` is where `info` lines are shown (the progress bar's writer while it runs); ``None`` keeps
    them to the file, as in processes other than the main one, which open no file at all (``path=None``).
    """

    def __init__(self, path: Path | None, console=print):
        self.path = path
        self.console = console
        self._handler: logging.FileHandler | None = None
        self._loggers: list[logging.Logger] = []
        self._console_handler: logging.Handler | None = None
        self._root_level = logging.NOTSET
        self._previous_env: str | None = None

    def __enter__(self) -> RunLog:
        if self.path is None:
            return self
        root = logging.getLogger()
        self._handler = file_handler(self.path)
        self._console_handler = logging.StreamHandler(sys.stderr)  # what the root showed before (its last resort)
        self._console_handler.setLevel(logging.WARNING)
        self._loggers = [root] + [logging.getLogger(name) for name in LIBRARY_LOGGERS]
        for logger in self._loggers:
            logger.addHandler(self._handler)
        root.addHandler(self._console_handler)
        self._root_level = root.level
        root.setLevel(min(root.level, logging.INFO) if root.level != logging.NOTSET else logging.INFO)
        logging.captureWarnings(True)  # warnings reach the root as "py.warnings" records: console and file
        self._previous_env = os.environ.get(RUN_LOG_ENV)
        os.environ[RUN_LOG_ENV] = str(self.path)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._handler is None:
            return
        if kind is not None:
            self.write(f"the run ended with {kind.__name__}: {error}")
        logging.captureWarnings(False)
        root = logging.getLogger()
        root.removeHandler(self._console_handler)
        root.setLevel(self._root_level)
        for logger in self._loggers:  # ours, and the one quiet_vllm_logging adds after vLLM's import replaced ours
            for handler in [h for h in logger.handlers if getattr(h, "baseFilename", None) == self._handler.baseFilename]:
                logger.removeHandler(handler)
                handler.close()
        self._handler = None
        if self._previous_env is None:
            os.environ.pop(RUN_LOG_ENV, None)
        else:
            os.environ[RUN_LOG_ENV] = self._previous_env

    def info(self, message: str) -> None:
        """Show ``message`` on the console and keep it in the file."""
        if self.console is not None:
            self.console(message)
        self.write(message)

    def step(self, step: int, total: int, metrics: Mapping[str, float], names: tuple[str, ...] = STEP_FIELDS) -> None:
        """One line for ``step``: the ``names`` among ``metrics`` (those the step logged), file only."""
        shown = " ".join(f"{name}={metrics[name]:.4g}" for name in names if name in metrics)
        self.write(f"step {step}/{total} {shown}")

    def write(self, message: str) -> None:
        """Keep ``message`` in the file only (nothing when no file is open)."""
        if self._handler is None:
            return
        self._handler.handle(logging.LogRecord("rlvr_gym", logging.INFO, __file__, 0, message, None, None))
