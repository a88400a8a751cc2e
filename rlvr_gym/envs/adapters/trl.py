"""A TRL reward function backed by a task's verifier.

TRL 1.16's ``GRPOTrainer`` (``trl/trainer/grpo_trainer.py``, ``_calculate_rewards``; ``RLOOTrainer``
alike) calls each reward function as ``reward_func(prompts=..., completions=..., completion_ids=...,
**reward_kwargs)``: the dataset's other columns, one list entry per completion, plus
``trainer_state``, ``log_extra`` (``_log_completion_extra(column, values)``: a column of the
completions table), ``log_metric`` (``_log_metric(name, value)``: a scalar averaged over the
logging step) and, with environments, ``environments``. Completions are strings, or for
conversational datasets lists of messages whose last one is the assistant's. The function
returns one float per completion.

Through ``log_metric`` each call logs the fraction of completions per verdict reason
(``<name>/correct``, ``<name>/no_answer``, ``<name>/timeout``, ...), and through ``log_extra`` each
completion's reason (column ``<name>_reason``), so a run shows when answers go unparsed or time out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...verifiers import Reason, Verifier, VerifierPool, get_verifier, verify_batch
from ..tasks import TaskSpec, get_task

__all__ = ["TRLReward", "make_trl_reward"]

_TRAINER_KEYS = frozenset({"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"})
"""Keyword arguments TRL adds that are not dataset columns."""


def _completion_text(completion: Any, position: int) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict) and "content" in completion[-1]:
        return str(completion[-1]["content"])
    raise TypeError(f"completion {position}: expected a string or a list of chat messages, got {type(completion).__name__}")


class TRLReward:
    """Callable reward: the verifier's score (alpha or 0) for each completion."""

    def __init__(self, verifier: Verifier, ground_truth_column: str, workers: int, timeout_s: float):
        self.verifier = verifier
        self.ground_truth_column = ground_truth_column
        self.workers = workers
        self.timeout_s = timeout_s
        self.__name__ = f"rlvr_gym_{verifier.name}"  # TRL logs rewards under the function's name
        self._pool: VerifierPool | None = None

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        log_extra: Callable[[str, list[Any]], None] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **columns: Any,
    ) -> list[float]:
        if self.ground_truth_column not in columns:
            raise KeyError(
                f"{self.__name__}: the dataset needs a {self.ground_truth_column!r} column with the ground truth; "
                f"got columns {sorted(k for k in columns if k not in _TRAINER_KEYS)}"
            )
        ground_truths = columns[self.ground_truth_column]
        if len(ground_truths) != len(completions):
            raise ValueError(f"{self.__name__}: {len(completions)} completions but {len(ground_truths)} ground truths")
        pairs = [(_completion_text(c, i), gt) for i, (c, gt) in enumerate(zip(completions, ground_truths))]
        if self.workers == 0:
            result = verify_batch(self.verifier, pairs, workers=0)
        else:
            if self._pool is None:
                self._pool = VerifierPool(workers=self.workers, timeout_s=self.timeout_s)
            result = self._pool.verify(self.verifier, pairs)
        if log_metric is not None and len(result):
            for reason in Reason:
                log_metric(f"{self.__name__}/{reason.value}", result.counts[reason.value] / len(result))
        if log_extra is not None:
            log_extra(f"{self.__name__}_reason", [v.reason.value for v in result])
        return result.scores

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def make_trl_reward(
    task: str | TaskSpec | None = None,
    *,
    verifier: str | None = None,
    alpha: float | None = None,
    ground_truth_column: str = "ground_truth",
    workers: int = 0,
    timeout_s: float = 10.0,
) -> TRLReward:
    """A TRL reward function for a registered task (or a verifier name).

    ``workers=0`` verifies in the trainer's process; ``workers=N`` uses N worker
    processes with a ``timeout_s`` per completion.
    """
    if (task is None) == (verifier is None):
        raise ValueError("make_trl_reward needs exactly one of task= or verifier=")
    if task is not None:
        built = get_task(task).build_verifier(alpha)
    else:
        built = get_verifier(verifier, alpha=1.0 if alpha is None else alpha)
    return TRLReward(built, ground_truth_column, workers, timeout_s)
