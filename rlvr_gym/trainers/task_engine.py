"""`TaskEngine`: a rollout engine and a verifier pool over one task: verifier-labelled pairs and held-out accuracy.

``rlvr-gym pairs`` and each round of ``rlvr-gym iterate-dpo`` sample K responses per train prompt
(`TaskEngine.pairs`); ``dpo`` and ``iterate-dpo`` measure held-out accuracy with greedy responses to the
task's test prompts (`TaskEngine.evaluate`, as `PPOTrainer.evaluate` does, in one process). The engine keeps
running between calls and takes the trained policy's new weights with `TaskEngine.sync`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..envs import Item, get_task, held_out_items, load_items
from ..rollout import RolloutEngine, SamplingConfig, make_rollout_engine
from ..verifiers import Reason, Verifier, VerifierPool
from .dpo_config import DPOConfig
from .pairs import LabelCounts, sample_pairs
from .sampler import PromptSampler
from .stop import sigint_ignored

__all__ = ["TaskEngine"]

ROUND_SEED_STRIDE = 1_000_003
"""Round ``k`` samples its pairs with seed ``pairs.sampling.seed + k * ROUND_SEED_STRIDE``."""


class TaskEngine:
    """The task's items, its verifier in a long-lived `VerifierPool`, and a rollout engine started from ``model_path``."""

    def __init__(self, config: DPOConfig, model_path: str | Path, tokenizer: Any):
        self.config = config
        self.tokenizer = tokenizer
        self.spec = get_task(config.task.name)
        self.train_items = load_items(self.spec, "train", config.task.source_options)
        self.eval_items: list[Item] = held_out_items(self.spec, config.task.source_options, config.eval.size)
        self.verifier: Verifier = self.spec.build_verifier(config.task.alpha)
        # started before any thread and with SIGINT ignored, which its workers inherit (see PPOTrainer)
        self.pool = VerifierPool(workers=config.verify.workers, timeout_s=config.verify.timeout_s)
        with sigint_ignored():
            self.pool.verify(self.verifier, [("", self.train_items[0].ground_truth)] * config.verify.workers)
        self.engine: RolloutEngine = make_rollout_engine(model_path, config.rollout)
        self.sampler = PromptSampler(len(self.train_items), config.pairs.prompts, config.seed)

    def sync(self, module: torch.nn.Module) -> None:
        """Load ``module``'s weights (the trained policy) into the engine."""
        self.engine.load_weights(module.named_parameters())

    def pairs(self, round_index: int) -> tuple[list[dict[str, Any]], LabelCounts]:
        """Round ``round_index``'s records: its block of ``pairs.prompts`` train prompts, K samples each, labelled."""
        items = [self.train_items[i] for i in self.sampler.indices(round_index)]
        seed = self.config.pairs.sampling.seed
        round_seed = None if seed is None else seed + round_index * ROUND_SEED_STRIDE
        return sample_pairs(
            self.engine, self.spec, items, self.config.task.prompt_format, self.tokenizer, self.pool, self.verifier,
            self.config.pairs, round_seed,
        )

    def prompt_text(self, item: Item) -> str:
        from ..envs import format_prompt

        return format_prompt(self.spec, item, self.config.task.prompt_format, self.tokenizer)[0]

    def evaluate(self) -> dict[str, float]:
        """Greedy held-out accuracy of the engine's current weights on ``eval.size`` distinct test prompts."""
        if not self.eval_items:
            return {}
        started = time.perf_counter()
        max_new_tokens = self.config.eval.max_new_tokens or self.config.pairs.sampling.max_new_tokens
        greedy = SamplingConfig(max_new_tokens=max_new_tokens, temperature=0.0, seed=0)
        completions = self.engine.generate([self.prompt_text(item) for item in self.eval_items], greedy)
        result = self.pool.verify(self.verifier, [(c.text, item.ground_truth) for c, item in zip(completions, self.eval_items)])
        n = len(self.eval_items)
        return {
            "eval/accuracy": result.counts.get(Reason.CORRECT.value, 0) / n,
            "eval/response_length": sum(len(c.token_ids) for c in completions) / n,
            "eval/eos_rate": sum(c.finished for c in completions) / n,
            "time/eval": time.perf_counter() - started,
        }

    def close(self) -> None:
        self.pool.close()
        self.engine.close()

    def __enter__(self) -> TaskEngine:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
