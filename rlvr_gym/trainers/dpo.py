"""DPO on tokenized preference pairs: `DPOTrainer`.

Before the first step the reference's log-probabilities of every pair are computed once (the reference is
frozen, so its model is dropped afterwards, as open-instruct's reference cache and TRL's
``precompute_ref_log_probs`` do). One step of `DPOTrainer.train_step`, numbered as in the code:

1. **batch**: the step's ``dpo.batch_size`` pairs, from a seeded shuffle per epoch (`PairOrder`);
2. **forward**: per micro-batch, one forward pass of the policy over the chosen and the rejected sequences
   together, summed over each response's tokens (`sequence_logps`);
3. **loss**: `dpo_loss` of ``dpo.loss`` against the cached reference, a mean over the whole batch; backward;
4. **update**: one optimizer step (clipping, schedule) through the `Strategy`;
5. **log**: loss, implicit rewards, margin and pair accuracy of the batch; held-out pair accuracy and task
   accuracy when due; metrics to ``metrics.jsonl`` and TensorBoard (and W&B).

`DPOTrainer.train` repeats it, checkpoints every ``checkpoint.save_every`` steps and when it stops (Ctrl-C and
SIGTERM through `StopVote`: the current step finishes, a checkpoint is saved), and resumes exactly: the pair
order follows from the seed and the step, the reference cache is recomputed from the same reference.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..config import to_dict
from .algorithms.dpo import DPOStats, dpo_loss, sequence_logps
from .checkpoint import capture_rng_state, checkpoint_dir, load_trainer_state, prune_checkpoints, restore_rng_state, save_trainer_state
from .dpo_config import DPOConfig
from .logprobs import SequenceBatch, forward_logprobs
from .models import load_causal_lm, load_tokenizer
from .preference_data import TokenizedPair
from .stop import StepAbandoned, StopVote
from .strategies import make_strategy
from .strategies.base import Strategy, Trainable
from .task_engine import TaskEngine
from .tracking import MetricsLogger, ProgressBar

__all__ = ["DPO_BAR_FIELDS", "DPOTrainer", "PairOrder", "pairs_fingerprint"]

DPO_BAR_FIELDS = (("loss", "loss/dpo", ".3f"), ("acc", "rewards/accuracy", ".2f"), ("margin", "rewards/margin", ".3f"))


class PairOrder:
    """Pair indices per step: epochs of ``ceil(N / batch_size)`` steps, each epoch a permutation seeded by ``(seed, epoch)``."""

    def __init__(self, num_pairs: int, batch_size: int, seed: int):
        if num_pairs < 1:
            raise ValueError("PairOrder: no pairs to train on")
        self.num_pairs, self.batch_size, self.seed = num_pairs, batch_size, seed
        self.steps_per_epoch = -(-num_pairs // batch_size)

    def indices(self, step: int) -> list[int]:
        epoch, j = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(self.num_pairs)
        return [int(i) for i in order[j * self.batch_size : (j + 1) * self.batch_size]]


def pairs_fingerprint(pairs: Sequence[TokenizedPair]) -> str:
    """SHA-256 of the pairs' token ids: a resumed run checks it trains on the same pairs."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(repr((pair.prompt_ids, pair.chosen_ids, pair.rejected_ids)).encode())
    return digest.hexdigest()


def collate_pairs(pairs: Sequence[TokenizedPair], pad_id: int) -> SequenceBatch:
    """Right-padded ``# (2b, T)`` rows: the b chosen sequences, then the b rejected ones; the mask covers the responses."""
    rows = [(p.prompt_ids, p.chosen_ids) for p in pairs] + [(p.prompt_ids, p.rejected_ids) for p in pairs]
    T = max(len(a) + len(b) for a, b in rows)
    input_ids = torch.full((len(rows), T), pad_id, dtype=torch.long)  # (2b, T)
    attention_mask = torch.zeros((len(rows), T), dtype=torch.long)  # (2b, T)
    response_mask = torch.zeros((len(rows), T), dtype=torch.float32)  # (2b, T)
    for i, (prompt, response) in enumerate(rows):
        n = len(prompt) + len(response)
        input_ids[i, :n] = torch.tensor(list(prompt) + list(response), dtype=torch.long)
        attention_mask[i, :n] = 1
        response_mask[i, len(prompt) : n] = 1.0
    return SequenceBatch(input_ids, attention_mask, response_mask, torch.zeros_like(response_mask))


class DPOTrainer:
    """Owns the policy, the reference cache and the loggers of one DPO run over fixed ``pairs``.

    ``policy_path``: the starting checkpoint; ``ref_path``: the frozen reference; ``eval_pairs``: held-out
    pairs measured before the first step and after the last; ``task``: a `TaskEngine` for held-out task
    accuracy (synced with the policy before each evaluation). ``initial_eval``: the task accuracy before
    training when already known (the previous round's final one in iterative DPO).
    """

    def __init__(
        self,
        config: DPOConfig,
        run_dir: Path,
        policy_path: Path,
        ref_path: Path,
        pairs: Sequence[TokenizedPair],
        eval_pairs: Sequence[TokenizedPair] = (),
        task: TaskEngine | None = None,
        resume_from: Path | None = None,
        strategy: Strategy | None = None,
        initial_eval: dict[str, float] | None = None,
    ):
        self.config = config
        self.run_dir = run_dir
        self.policy_path = Path(policy_path).resolve()
        self.ref_path = Path(ref_path).resolve()
        self.pairs, self.eval_pairs, self.task = list(pairs), list(eval_pairs), task
        self.order = PairOrder(len(self.pairs), config.dpo.batch_size, config.seed)
        self.total_steps = config.dpo.epochs * self.order.steps_per_epoch
        self.fingerprint = pairs_fingerprint(self.pairs)
        self.strategy: Strategy = strategy if strategy is not None else make_strategy(config.strategy)
        self.stop = StopVote(self.strategy.all_reduce_sum, announce=self._announce_stop)
        self.bar = ProgressBar(False, self.total_steps, 0)
        state = load_trainer_state(resume_from) if resume_from is not None else None
        if state is not None and state["pairs_fingerprint"] != self.fingerprint:
            raise ValueError(f"resume: {resume_from} was trained on other pairs (their token ids differ): resume with the same data")
        self.step = state["step"] if state else 0
        self.initial_eval: dict[str, float] | None = state.get("initial_eval") if state else initial_eval
        self.last_eval: dict[str, float] = {}
        start = resume_from if resume_from is not None else self.policy_path
        self.tokenizer = load_tokenizer(start)
        self.policy: Trainable = self.strategy.prepare(load_causal_lm(start), config.optim.lr, config.optim, self.total_steps)
        if state:
            self.policy.load_state_dict(state["policy_optimizer"])
            restore_rng_state(state["rng"])
        self.ref_chosen, self.ref_rejected = self._reference_logps(self.pairs)  # (N,) each
        self.eval_ref = self._reference_logps(self.eval_pairs) if self.eval_pairs else None
        self.logger: MetricsLogger | None = None
        if self.strategy.is_main:
            log = config.log
            self.logger = MetricsLogger(
                run_dir, tensorboard=log.tensorboard, wandb=log.wandb, wandb_project=log.wandb_project,
                start_step=self.step, run_config=to_dict(config),
            )

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    # -- log-probabilities ---------------------------------------------------------------------

    def _pair_logps(self, module: torch.nn.Module, pairs: Sequence[TokenizedPair]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(chosen, rejected, chosen_lengths, rejected_lengths)`` ``# (b,)`` each: summed response logprobs of one forward pass."""
        seq = collate_pairs(pairs, self.pad_token_id).to(self.strategy.device)
        with self.strategy.autocast():
            logprobs = forward_logprobs(module, seq)  # (2b, T)
        sums, counts = sequence_logps(logprobs.float(), seq.response_mask)  # (2b,) each
        b = len(pairs)
        return sums[:b], sums[b:], counts[:b], counts[b:]

    @torch.no_grad()
    def _reference_logps(self, pairs: Sequence[TokenizedPair]) -> tuple[Tensor, Tensor]:
        """The frozen reference's ``(chosen, rejected)`` summed logprobs of every pair, ``# (N,)`` each."""
        ref = self.strategy.prepare_frozen(load_causal_lm(self.ref_path))
        chosen, rejected = [], []
        size = self.config.dpo.micro_batch_size
        for start in range(0, len(pairs), size):
            c, r, _, _ = self._pair_logps(ref, pairs[start : start + size])
            chosen.append(c)
            rejected.append(r)
        del ref
        return torch.cat(chosen), torch.cat(rejected)

    # -- one step ------------------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        """Steps 1-5 of the module docstring; returns the step's logged metrics."""
        cfg = self.config.dpo
        started = time.perf_counter()
        # 1. batch
        index = self.order.indices(self.step)
        stats: list[DPOStats] = []
        policy_logps: list[Tensor] = []
        for start in range(0, len(index), cfg.micro_batch_size):
            micro = index[start : start + cfg.micro_batch_size]
            # 2. forward
            chosen, rejected, n_chosen, n_rejected = self._pair_logps(self.policy.module, [self.pairs[i] for i in micro])
            # 3. loss: a mean over the whole batch, accumulated over its micro-batches
            rows = torch.tensor(micro, device=chosen.device)
            loss, micro_stats = dpo_loss(
                chosen, rejected, self.ref_chosen[rows], self.ref_rejected[rows], cfg.beta, cfg.loss, cfg.label_smoothing,
                n_chosen, n_rejected, count=len(index),
            )
            self.policy.backward(loss)
            stats.append(micro_stats)
            policy_logps.append(torch.stack([chosen.detach(), rejected.detach()], dim=1))
        # 4. update
        lr = self.policy.lr  # the rate this update uses
        grad_norm = self.policy.step()
        self.step += 1
        # 5. log
        metrics = _pair_metrics(stats)
        logps = torch.cat(policy_logps)  # (b, 2)
        metrics.update({
            "logps/chosen": float(logps[:, 0].mean()),
            "logps/rejected": float(logps[:, 1].mean()),
            "grad_norm/policy": grad_norm,
            "lr/policy": lr,
            "time/step": time.perf_counter() - started,
        })
        if self._eval_due() and not self.stop.requested():
            metrics.update(self._try_evaluate())
        self._log(self.step, metrics)
        return metrics

    # -- evaluation ----------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate_pairs(self) -> dict[str, float]:
        """Loss, pair accuracy and mean margin of the policy on the held-out pairs (empty without them)."""
        if not self.eval_pairs or self.eval_ref is None:
            return {}
        cfg = self.config.dpo
        stats = []
        for start in range(0, len(self.eval_pairs), cfg.micro_batch_size):
            part = self.eval_pairs[start : start + cfg.micro_batch_size]
            chosen, rejected, n_chosen, n_rejected = self._pair_logps(self.policy.module, part)
            ref_c, ref_r = (x[start : start + len(part)] for x in self.eval_ref)
            stats.append(dpo_loss(chosen, rejected, ref_c, ref_r, cfg.beta, cfg.loss, cfg.label_smoothing, n_chosen, n_rejected)[1])
        names = {"loss/dpo": "loss", "rewards/accuracy": "accuracy", "rewards/margin": "margin", "rewards/chosen": "reward_chosen",
                 "rewards/rejected": "reward_rejected"}
        return {f"pairs_eval/{names[name]}": value for name, value in _pair_metrics(stats).items()}

    def evaluate(self) -> dict[str, float]:
        """Held-out pairs, and the task's held-out accuracy through the synced engine."""
        metrics = self.evaluate_pairs()
        if self.task is not None and self.task.eval_items:
            with self.stop.guard(restarts=lambda: self.task.pool.restarts):  # type: ignore[union-attr]
                self.task.sync(self.policy.module)
                metrics.update(self.task.evaluate())
            self.stop.abandon_if_failed("evaluation")
        return metrics

    def _try_evaluate(self) -> dict[str, float]:
        try:
            self.last_eval = self.evaluate()
        except StepAbandoned:
            return {}
        return self.last_eval

    def _eval_due(self) -> bool:
        every = self.config.eval.every
        return self.step == self.total_steps or bool(every and self.step % every == 0)

    # -- the loop ------------------------------------------------------------------------------

    def train(self, stop_after: int | None = None) -> bool:
        """Run steps until ``dpo.epochs`` are done (or ``stop_after`` more steps, or Ctrl-C); checkpoint at the end.

        Returns True when every step ran. The first SIGINT or SIGTERM finishes the current step, saves a
        checkpoint and returns; a second SIGINT raises `KeyboardInterrupt` at once (see `StopVote`).
        """
        cfg = self.config
        main = self.strategy.is_main
        self.bar = ProgressBar(cfg.log.progress_bar and main, self.total_steps, self.step, desc="dpo", fields=DPO_BAR_FIELDS)
        saved_step = -1
        try:
            with self.stop.handlers():
                if self.step == 0 and not self.stop.requested():
                    if self.initial_eval is None:
                        self.initial_eval = self._try_evaluate()
                    else:  # known task accuracy (iterative DPO); the held-out pairs still measured
                        self.initial_eval = {**self.initial_eval, **self.evaluate_pairs()}
                    if self.initial_eval:
                        self._log(0, self.initial_eval)
                steps_run = 0
                while self.step < self.total_steps and not self.stop.requested():
                    metrics = self.train_step()
                    self.bar.update(metrics)
                    steps_run += 1
                    if cfg.checkpoint.save_every and self.step % cfg.checkpoint.save_every == 0:
                        self.save()
                        saved_step = self.step
                    if stop_after is not None and steps_run >= stop_after:
                        break
                if saved_step != self.step:
                    self.save()
        finally:
            self.bar.close()
        return self.step >= self.total_steps

    def _announce_stop(self, signal_name: str) -> None:
        if self.strategy.is_main:
            self.bar.write(f"{signal_name}: finishing step {self.step + 1}, then saving a checkpoint (Ctrl-C again to abort)")

    def _log(self, step: int, metrics: dict[str, float]) -> None:
        if self.logger is not None:
            self.logger.log(step, metrics)

    # -- checkpoints ---------------------------------------------------------------------------

    def save(self) -> Path:
        """Write ``RUN_DIR/checkpoints/step-N``: the policy as a Hugging Face folder, the tokenizer, the trainer state."""
        final = checkpoint_dir(self.run_dir, self.step)
        tmp = final.with_name(final.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        self.strategy.save_pretrained(self.policy.module, tmp)
        self.tokenizer.save_pretrained(tmp)
        state: dict[str, Any] = {
            "step": self.step,
            "total_steps": self.total_steps,
            "policy_start": str(self.policy_path),
            "ref": str(self.ref_path),
            "pairs": len(self.pairs),
            "pairs_fingerprint": self.fingerprint,
            "initial_eval": self.initial_eval,
            "config": to_dict(self.config),
            "policy_optimizer": self.policy.state_dict(),
            "rng": capture_rng_state(),
        }
        save_trainer_state(tmp, state)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        prune_checkpoints(self.run_dir, self.config.checkpoint.keep_last)
        return final

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()

    def __enter__(self) -> DPOTrainer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _pair_metrics(stats: Sequence[DPOStats]) -> dict[str, float]:
    """Means over every pair of ``stats`` (micro-batches of one batch)."""
    chosen = torch.cat([s.chosen_rewards for s in stats])
    rejected = torch.cat([s.rejected_rewards for s in stats])
    losses = torch.cat([s.losses for s in stats])
    return {
        "loss/dpo": float(losses.mean()),
        "rewards/chosen": float(chosen.mean()),
        "rewards/rejected": float(rejected.mean()),
        "rewards/margin": float((chosen - rejected).mean()),
        "rewards/accuracy": float((chosen > rejected).float().mean()),
    }
