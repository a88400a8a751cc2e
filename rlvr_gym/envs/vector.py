"""A vector environment that verifies a whole batch of responses in parallel.

Follows Gymnasium's ``VectorEnv`` conventions with autoreset mode **SameStep**: every
episode is one step, so ``step`` verifies all responses (through the batch engine's
worker processes), and returns the rewards together with the *next* prompts as
observations. The finished episodes' last observations and infos are in
``info["final_obs"]`` and ``info["final_info"]``. Infos are dicts of arrays with
``_key`` masks, as in Gymnasium.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from ..verifiers import VerifierPool, verify_batch
from .env import MAX_PROMPT_CHARS, MAX_RESPONSE_CHARS, UnicodeText
from .tasks import PromptFormat, TaskSpec, bind_task

__all__ = ["RLVRVectorEnv"]


class RLVRVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` single-step episodes of one task, verified as one batch per step."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        task: str | TaskSpec,
        num_envs: int,
        *,
        split: str | None = None,
        prompt_format: PromptFormat | str | None = None,
        tokenizer: Any = None,
        alpha: float | None = None,
        workers: int | None = None,
        timeout_s: float = 10.0,
        source_options: Mapping[str, Any] | None = None,
    ):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        self.task = bind_task(
            task, split=split, prompt_format=prompt_format, tokenizer=tokenizer, alpha=alpha, source_options=source_options
        )
        self.spec_task, self.split, self.items, self.verifier = self.task.spec, self.task.split, self.task.items, self.task.verifier
        self.num_envs = num_envs
        self.single_observation_space = UnicodeText(MAX_PROMPT_CHARS)
        self.single_action_space = UnicodeText(MAX_RESPONSE_CHARS)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.workers = workers
        self.timeout_s = timeout_s
        self._pool = VerifierPool(workers=workers, timeout_s=timeout_s) if workers != 0 else None
        self._indices = np.full(num_envs, -1, dtype=np.int64)
        self._prompts: tuple[str, ...] = ()

    def _draw(self, indices: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
        if indices is None:
            indices = self.np_random.integers(len(self.items), size=self.num_envs)
        indices = np.asarray(indices)
        if indices.shape != (self.num_envs,) or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"options['indices'] must be {self.num_envs} ints, got shape {indices.shape} of {indices.dtype}")
        if (indices < 0).any() or (indices >= len(self.items)).any():
            raise ValueError(f"options['indices'] must lie in [0, {len(self.items)})")
        self._indices = indices.astype(np.int64)
        prompts = []
        for i in self._indices:
            text, _ = self.task.prompt(self.items[i])
            prompts.append(text)
        self._prompts = tuple(prompts)
        item_ids = np.array([self.items[i].id for i in self._indices], dtype=object)
        mask = np.ones(self.num_envs, dtype=bool)
        return self._prompts, {"item_id": item_ids, "_item_id": mask, "index": self._indices.copy(), "_index": mask}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[tuple[str, ...], dict[str, Any]]:
        if seed is not None:
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seed)
        return self._draw((options or {}).get("indices"))

    def step(self, actions: Any) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if len(self._prompts) != self.num_envs:
            raise RuntimeError("call reset() before step()")
        actions = list(actions)
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")
        pairs = [(action, self.items[i].ground_truth) for action, i in zip(actions, self._indices)]
        if self._pool is None:
            result = verify_batch(self.verifier, pairs, workers=0)
        else:
            result = self._pool.verify(self.verifier, pairs)
        mask = np.ones(self.num_envs, dtype=bool)
        final_info = {
            "score": np.array(result.scores, dtype=np.float64),
            "correct": np.array([v.correct for v in result], dtype=bool),
            "reason": np.array([v.reason.value for v in result], dtype=object),
            "extracted": np.array([v.extracted for v in result], dtype=object),
            "item_id": np.array([self.items[i].id for i in self._indices], dtype=object),
        }
        for key in list(final_info):
            final_info[f"_{key}"] = mask
        final_obs = self._prompts
        rewards = final_info["score"].copy()
        observations, info = self._draw(None)  # SameStep autoreset: the next episodes start now
        info.update(final_obs=np.array(final_obs, dtype=object), _final_obs=mask, final_info=final_info, _final_info=mask)
        info["verifier_counts"] = result.counts
        return observations, rewards, np.ones(self.num_envs, dtype=bool), np.zeros(self.num_envs, dtype=bool), info

    def close_extras(self, **kwargs: Any) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
