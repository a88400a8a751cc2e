"""``rlvr-gym train``: the whole run, from a config to ``RUN_DIR/summary.json``.

1. validate the config (done by `load_train_config` before this runs), make ``RUN_DIR``, set up
   the strategy (with ``strategy.distributed: zero2|zero3`` under a launcher, one process per
   device: every process runs this function; the main one writes the files);
2. the starting policy: ``model.path``, or the embedded default (tiny model + short SFT, written
   to ``RUN_DIR/sft`` once by the main process and reused on resume);
3. PPO (`PPOTrainer`), with the held-out accuracy before the first step and after the last;
4. ``summary.json``: accuracy before and after, wall time, where the final checkpoint is.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ..config import to_dict
from .checkpoint import latest_checkpoint, load_trainer_state, resolve_resume
from .config import TrainConfig
from .ppo import PPOTrainer
from .run_log import LOG_FILE, RunLog
from .sft import model_or_sft
from .strategies import make_strategy

__all__ = ["RunResult", "default_run_dir", "run_training", "seed_everything"]


@dataclass(frozen=True)
class RunResult:
    """What `run_training` did."""

    run_dir: Path
    """The run's folder."""
    completed: bool
    """True when ``total_steps`` were reached; False after Ctrl-C or ``stop_after``."""
    summary: dict[str, Any]
    """The contents of ``summary.json``."""


def default_run_dir() -> Path:
    """``runs/ppo-<date>-<time>`` under the working directory."""
    return Path("runs") / time.strftime("ppo-%Y%m%d-%H%M%S")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _starting_policy(config: TrainConfig, run_dir: Path, resume_from: Path | None, run_log: RunLog) -> Path:
    """The run's starting checkpoint; builds the embedded default's SFT checkpoint when needed (main process only:
    a transient bar on the console, each probe's line in the run log)."""
    if resume_from is not None:
        start = Path(load_trainer_state(resume_from)["policy_start"])
        if not (start / "config.json").is_file():
            raise FileNotFoundError(f"resume: the run's starting checkpoint {start} is gone (the frozen reference needs it)")
        return start
    return model_or_sft(
        config.model.path,
        run_dir,
        config.task,
        config.sft,
        config.seed,
        log=run_log.info,
        detail=run_log.write if config.log.progress_bar else run_log.info,
        progress=config.log.progress_bar,
    )


_print = functools.partial(print, flush=True)


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quiet_libraries() -> None:
    """Keep a run's console to its own progress bar: no transformers progress bars (loading and saving the
    tiny model and every checkpoint), and not DeepSpeed's import-time "Setting accelerator to CPU" warning
    (transformers imports DeepSpeed when it is installed, even for a run that does not use it)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    deepspeed_logger = logging.getLogger("DeepSpeed")
    if not any(isinstance(f, _DropMessage) for f in deepspeed_logger.filters):
        deepspeed_logger.addFilter(_DropMessage("Setting accelerator to CPU"))


def run_training(config: TrainConfig, stop_after: int | None = None, log: Any = _print) -> RunResult:
    """Run ``config`` end to end (see the module docstring); ``stop_after`` caps this call's PPO steps."""
    started = time.perf_counter()
    quiet_libraries()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    if config.run_dir is not None:
        run_dir = Path(config.run_dir)
    elif config.checkpoint.resume is not None:  # a checkpoint folder: RUN_DIR/checkpoints/step-N
        run_dir = Path(config.checkpoint.resume).resolve().parent.parent
    else:
        run_dir = default_run_dir()
    strategy = make_strategy(config.strategy)
    main = strategy.is_main
    if not main:
        log = _quiet
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    strategy.barrier()
    with RunLog(run_dir / LOG_FILE if main else None, console=log) as run_log:
        log = run_log.info
        resume_from = resolve_resume(config.checkpoint.resume, run_dir)
        if main:
            (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
        seed_everything(config.seed)

        sft_started = time.perf_counter()
        policy_path = _starting_policy(config, run_dir, resume_from, run_log) if main else None
        # the main process's choice (and its SFT checkpoint, once written) for every process
        policy_path = Path(strategy.gather_objects(policy_path)[0])
        sft_seconds = time.perf_counter() - sft_started
        if resume_from is not None:
            log(f"resuming from {resume_from}")
        engine = config.rollout.engine.resolve()
        log(f"rollout engine: {engine}" + (" (rollout.engine=auto)" if engine is not config.rollout.engine else ""))

        with PPOTrainer(config, run_dir, policy_path, resume_from, strategy=strategy, run_log=run_log) as trainer:
            completed = trainer.train(stop_after=stop_after)
            final_eval = trainer.last_eval if completed and trainer.last_eval_step == trainer.step else {}
            summary = {
                "run_dir": str(run_dir),
                "completed": completed,
                "interrupted": trainer.stop.signalled,
                "step": trainer.step,
                "total_steps": config.total_steps,
                "task": config.task.name,
                "estimator": str(config.ppo.estimator),
                "rollout_engine": str(engine),
                "eval_size": len(trainer.eval_items),
                "accuracy_before": (trainer.initial_eval or {}).get("eval/accuracy"),
                "accuracy_after": final_eval.get("eval/accuracy"),
                "checkpoint": str(latest_checkpoint(run_dir)),
                "policy_start": str(policy_path),
                "seconds": {"total": time.perf_counter() - started, "sft": sft_seconds},
            }
        if summary["accuracy_before"] is not None and summary["accuracy_after"] is not None:
            summary["accuracy_gain"] = summary["accuracy_after"] - summary["accuracy_before"]
        if main:
            (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            run_log.write("summary.json: " + json.dumps(summary))
    return RunResult(run_dir=run_dir, completed=completed, summary=summary)


def _quiet(*args: Any, **kwargs: Any) -> None:
    """The log of processes other than the main one."""
