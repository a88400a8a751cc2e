"""A readable console beside vLLM: its loggers at WARNING unless asked, and repeated warnings shown once.

vLLM logs at INFO by default, and a weight sync warns once per tensor when dtypes differ
("Attempted to load weight ... with dtype torch.float32 into parameter with dtype torch.bfloat16",
``vllm/model_executor/models/utils.py``, ``AutoWeightsLoader._load_module``): 2,718 lines in one
training run. The copy casts and is correct, so one line per dtype pair says all there is to say.
No vLLM import here: the filter is plain `logging`, testable without vLLM.
"""

from __future__ import annotations

import logging
import os
import re

__all__ = ["DTYPE_WARNING_LOGGER", "RUN_LOG_ENV", "OncePerKindFilter", "file_handler", "quiet_vllm_logging"]

RUN_LOG_ENV = "RLVR_GYM_RUN_LOG"
"""Environment variable naming a training run's log file while the run is open (`rlvr_gym.trainers.run_log`);
vLLM's records go there too, from every process that calls `quiet_vllm_logging`."""

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

DTYPE_WARNING_LOGGER = "vllm.model_executor.models.utils"
"""The logger that warns once per tensor on a dtype mismatch (vLLM 0.32)."""

_TENSOR_NAME = re.compile(r"^Attempted to load weight \S+ ")


class OncePerKindFilter(logging.Filter):
    """Lets a record through the first time its message *kind* is seen: the message with the tensor name
    dropped, so "Attempted to load weight NAME with dtype A into parameter with dtype B" passes once per (A, B)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("Attempted to load weight"):
            return True
        kind = _TENSOR_NAME.sub("Attempted to load weight * ", message)
        if kind in self.seen:
            return False
        self.seen.add(kind)
        record.msg, record.args = kind + " (shown once; the copy casts; further tensors not listed)", None
        return True


def file_handler(path: str | os.PathLike[str]) -> logging.FileHandler:
    """An appending INFO handler in the run log's format."""
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    return handler


def quiet_vllm_logging() -> None:
    """vLLM at WARNING unless ``VLLM_LOGGING_LEVEL`` is set; the per-tensor dtype warning once per dtype pair.

    Call before vLLM is imported (the level is read then, and child processes inherit the environment)
    and in each worker process (`rlvr_gym.rollout.vllm_worker` does on import). Idempotent. While a run's
    log is open (``RUN_LOG_ENV``), the ``vllm`` logger also writes there; call again after vLLM's import,
    whose logging set-up replaces that logger's handlers.
    """
    level = os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    logging.getLogger("vllm").setLevel(level.upper())
    logger = logging.getLogger(DTYPE_WARNING_LOGGER)
    if not any(isinstance(f, OncePerKindFilter) for f in logger.filters):
        logger.addFilter(OncePerKindFilter())
    run_log = os.environ.get(RUN_LOG_ENV)
    vllm_logger = logging.getLogger("vllm")
    if run_log and not any(getattr(h, "baseFilename", None) == os.path.abspath(run_log) for h in vllm_logger.handlers):
        vllm_logger.addHandler(file_handler(run_log))
