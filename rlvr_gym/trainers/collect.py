"""Steps 1-2 of a training step: draw prompts, sample ``group_size`` completions each, score them.

`Collector.collect` returns a `Collected` batch of this process's share of the step: its prompts
(one per group), their completions (the ``n`` of a prompt consecutive), and the sequence reward
before any KL term: the weighted sum of the configured verifiers (`TaskConfig.rewards`, each part
kept for logging), with DAPO's soft overlong penalty and the missing-EOS penalty applied.

**Dynamic sampling** (DAPO, `PPOConfig.dynamic_sampling`): a group whose samples all score the same
gives every group estimator advantage 0, so it is dropped and further prompts are drawn, up to
``dynamic_sampling_max_rounds`` generation rounds, until this process holds its share of groups
with signal; a shortfall is filled with the first no-signal groups drawn (advantage 0: they change
only a KL term), so every process trains on the same number of rows and collective calls match.
Refill prompts come from their own seeded stream (`PromptSampler` with another seed), so a
resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..envs import Item, TaskSpec
from ..rollout import Completion, RolloutEngine
from ..verifiers import Reason, Verifier, VerifierPool, get_verifier
from .algorithms.estimators import groups_with_signal
from .algorithms.ppo import sequence_scores
from .algorithms.rewards import MixedReward, mix_rewards, soft_overlong_penalty
from .choices import OverlongHandling
from .config import TrainConfig
from .sampler import PromptSampler

__all__ = ["Collected", "Collector"]

REFILL_SEED_OFFSET = 1_000_003
"""The refill stream's `PromptSampler` seed is the run's seed plus this."""


@dataclass(frozen=True)
class Collected:
    """This process's share of one step, after steps 1-2."""

    items: list[Item]
    """One per group (prompt), in training order."""
    completions: list[Completion]
    """``group_size`` per item, consecutive."""
    reward: MixedReward
    """The verifiers' scores ``# (B,)`` (``parts``, unweighted) and their weighted sum (``total``)."""
    scores: Tensor
    """``# (B,)``: ``reward.total`` with the overlong and missing-EOS penalties: the sequence reward before KL."""
    counts: dict[str, int]
    """Verdict reasons of the task's own verifier (``correct``), over the rows kept."""
    groups_drawn: int
    """Groups generated this step (more than kept under dynamic sampling)."""
    groups_dropped: int
    """Groups drawn without signal and left out (dynamic sampling; 0 otherwise)."""
    rounds: int
    """Generation rounds this step (1 without dynamic sampling)."""
    seconds: dict[str, float]
    """``time/generation`` and ``time/verification``."""

    @property
    def finished(self) -> list[bool]:
        return [c.finished for c in self.completions]


class Collector:
    """Draws, samples and scores the prompts of each step for one process (see the module docstring)."""

    def __init__(
        self,
        config: TrainConfig,
        spec: TaskSpec,
        train_items: Sequence[Item],
        engine: RolloutEngine,
        pool: VerifierPool,
        prompt_text: Callable[[Item], str],
        rank: int,
        world_size: int,
    ):
        self.config = config
        self.spec = spec
        self.train_items = train_items
        self.engine = engine
        self.pool = pool
        self.prompt_text = prompt_text
        self.rank = rank
        self.local_prompts = config.ppo.rollout_batch_size // world_size
        """Prompts (groups) per step on this process."""
        self.sampler = PromptSampler(len(train_items), config.ppo.rollout_batch_size, config.seed)
        self.refills = PromptSampler(len(train_items), config.ppo.rollout_batch_size, config.seed + REFILL_SEED_OFFSET)
        self.verifiers: dict[str, Verifier] = {"correct": spec.build_verifier(config.task.alpha)}
        for name in config.task.rewards:
            if name not in ("correct", "format"):
                self.verifiers[name] = get_verifier(name, alpha=config.task.alpha)

    def _share(self, sampler: PromptSampler, slot: int) -> list[Item]:
        start = self.rank * self.local_prompts
        return [self.train_items[i] for i in sampler.indices(slot)[start : start + self.local_prompts]]

    def _seed(self, slot: int) -> int | None:
        """Round-0 draws of step k use slot k; refill round r uses slot ``total_steps + k * (R - 1) + r - 1``."""
        seed = self.config.sampling.seed
        return None if seed is None else seed + slot * self.config.ppo.rollout_batch_size + self.rank * self.local_prompts

    def _round(self, step: int, round_: int) -> tuple[list[Item], list[Completion], MixedReward, Tensor, list[str]]:
        cfg = self.config
        if round_ == 0:
            items, slot = self._share(self.sampler, step), step
        else:
            refill = step * (cfg.ppo.dynamic_sampling_max_rounds - 1) + round_ - 1
            items, slot = self._share(self.refills, refill), cfg.total_steps + refill
        n = cfg.ppo.group_size
        sampling = dataclasses.replace(cfg.sampling, seed=self._seed(slot), n=n)
        started = time.perf_counter()
        completions = self.engine.generate([self.prompt_text(item) for item in items], sampling)
        self._seconds["time/generation"] += time.perf_counter() - started
        started = time.perf_counter()
        reward, counts = self._score(items, completions)
        self._seconds["time/verification"] += time.perf_counter() - started
        return items, completions, reward, self._shape(reward.total, completions), counts

    def _score(self, items: Sequence[Item], completions: Sequence[Completion]) -> tuple[MixedReward, list[str]]:
        """Every configured verifier's scores, and the per-row verdict reason of the task's own."""
        n = self.config.ppo.group_size
        pairs = [(c.text, items[i // n].ground_truth) for i, c in enumerate(completions)]
        results = {name: self.pool.verify(verifier, pairs) for name, verifier in self.verifiers.items()}
        correct = results["correct"]
        alpha = self.config.task.alpha
        scores: dict[str, list[float]] = {}
        for name in self.config.task.rewards:
            if name == "format":  # an answer could be read, right or wrong
                scores[name] = [alpha if v.extracted is not None else 0.0 for v in correct]
            else:
                scores[name] = results[name].scores
        return mix_rewards(scores, self.config.task.rewards), [v.reason.value for v in correct]

    def _shape(self, total: Tensor, completions: Sequence[Completion]) -> Tensor:
        """The overlong and missing-EOS penalties on the mixed reward ``# (B,)``."""
        ppo = self.config.ppo
        total = total.float()
        if ppo.overlong is OverlongHandling.SOFT_PENALTY:
            lengths = torch.tensor([len(c.token_ids) for c in completions])  # (B,)
            total = total + soft_overlong_penalty(lengths, self.config.sampling.max_new_tokens, ppo.overlong_buffer, ppo.overlong_penalty)
        return sequence_scores(total.tolist(), [c.finished for c in completions], ppo.missing_eos, ppo.missing_eos_penalty)

    def collect(self, step: int) -> Collected:
        """Steps 1-2 for ``step`` (see the module docstring). Call inside the run's `StopVote.guard`."""
        ppo = self.config.ppo
        n = ppo.group_size
        self._seconds = {"time/generation": 0.0, "time/verification": 0.0}
        rounds = ppo.dynamic_sampling_max_rounds if ppo.dynamic_sampling else 1
        kept: list[tuple[Item, list[Completion], dict[str, Tensor], Tensor, list[str]]] = []
        spare: list[tuple[Item, list[Completion], dict[str, Tensor], Tensor, list[str]]] = []
        drawn = dropped = rounds_run = 0
        for round_ in range(rounds):
            items, completions, reward, scores, reasons = self._round(step, round_)
            rounds_run += 1
            keep = groups_with_signal(scores, n).keep.tolist() if ppo.dynamic_sampling else [True] * len(items)
            for g, item in enumerate(items):
                rows = slice(g * n, (g + 1) * n)
                group = (item, completions[rows], {k: v[rows] for k, v in reward.parts.items()}, scores[rows], reasons[rows])
                drawn += 1
                if keep[g] and len(kept) < self.local_prompts:
                    kept.append(group)
                elif not keep[g]:
                    dropped += 1
                    spare.append(group)
            if len(kept) >= self.local_prompts:
                break
        kept.extend(spare[: self.local_prompts - len(kept)])  # shortfall: groups without signal (advantage 0)
        parts = {name: torch.cat([g[2][name] for g in kept]) for name in self.config.task.rewards}
        counts = {reason.value: 0 for reason in Reason}
        for group in kept:
            for reason in group[4]:
                counts[reason] += 1
        return Collected(
            items=[g[0] for g in kept],
            completions=[c for g in kept for c in g[1]],
            reward=mix_rewards(parts, self.config.task.rewards),
            scores=torch.cat([g[3] for g in kept]),
            counts=counts,
            groups_drawn=drawn,
            groups_dropped=dropped,
            rounds=rounds_run,
            seconds=dict(self._seconds),
        )
