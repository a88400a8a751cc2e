"""PPO for RLVR (Tülu 3's recipe): reward ``alpha`` for a verified response, minus ``beta * KL`` per token.

One step of `PPOTrainer.train_step`, top to bottom:

1. **rollout**: draw the step's prompts, sample one completion each from the rollout engine;
2. **verify**: score the responses with the task's verifier in the long-lived `VerifierPool`;
   a response that never emitted EOS is penalised (`MissingEOSPenalty`);
3. **KL-penalised rewards**: forward passes of the policy (old logprobs), the reference and the
   value model; per-token ``-kl_coef * KL`` plus the score on the last token;
4. **advantages**: GAE over response tokens, whitened over the batch;
5. **update**: ``ppo_epochs`` passes of shuffled mini-batches, gradient accumulation over
   micro-batches, clipped policy loss and clipped value loss, each model its own AdamW;
6. **sync**: push the policy's new weights into the running engine (``load_weights``, no
   restart), EMA-update the reference if asked, move the adaptive KL coefficient;
7. **log**: metrics to the progress bar, ``metrics.jsonl``, TensorBoard (and W&B).

`PPOTrainer.train` repeats it, evaluates held-out accuracy when due, checkpoints every
``checkpoint.save_every`` steps and on Ctrl-C, and resumes from a checkpoint exactly: on CPU with
the same config a resumed run logs the same metrics as an uninterrupted one (``time/*`` aside).
The maths lives in `rlvr_gym.trainers.ppo_math`; placement and optimizers behind `Strategy`.

**Several processes** (``strategy.distributed: zero2|zero3`` under ``deepspeed``/``torchrun``): every
process runs this loop with its own rollout engine and verifier pool on a contiguous
``rollout_batch_size / world_size`` share of each step's prompts. What must agree is agreed
collectively: advantages are whitened with the whole batch's statistics, the loss is a token
mean over the whole mini-batch, metrics (and so the adaptive KL coefficient) are merged over
processes, and the decisions to abandon a step or to stop after Ctrl-C are votes taken at the same
points on every process, so collective calls always match. The main process writes the files;
each process saves its own optimizer partition and RNG state in the checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from ..config import ConfigError, to_dict
from ..envs import Item, TaskSpec, format_prompt, get_task, load_items
from ..verifiers import BatchResult, Reason, Verifier, VerifierPool
from .checkpoint import (
    REF_DIR,
    VALUE_DIR,
    capture_rng_state,
    checkpoint_dir,
    load_trainer_state,
    prune_checkpoints,
    restore_rng_state,
    save_trainer_state,
)
from .logprobs import SequenceBatch, collate_completions, forward_logprobs, take_rows
from .ppo_config import MissingEOSPenalty, RefUpdate, TrainConfig
from .ppo_math import (
    gae,
    kl_penalty,
    masked_whiten,
    next_kl_coef,
    per_token_rewards,
    ppo_policy_loss,
    value_loss,
)
from .rollout import Completion, RolloutEngine, SamplingConfig, make_rollout_engine
from .sampler import PromptSampler
from .strategy import Strategy, Trainable, make_strategy
from .tracking import MetricsLogger, ProgressBar, truncate_after
from .value_model import ValueModel, dropout_free_config

__all__ = ["PPOTrainer", "RolloutBatch", "check_world_size", "held_out_items", "sequence_scores"]

T = TypeVar("T")


# --------------------------------------------------------------------------- the training batch


@dataclass(frozen=True)
class RolloutBatch:
    """One step's training batch; every tensor ``# (B, T)``, right-padded, on the trainer's device."""

    input_ids: Tensor
    """Prompt, response, padding (int64)."""
    attention_mask: Tensor
    """1 on prompt and response tokens (int64)."""
    response_mask: Tensor
    """1.0 on response tokens: the tokens that are scored and trained on."""
    old_logprobs: Tensor
    """The policy's logprobs of the sampled tokens at rollout time (before this step's updates)."""
    ref_logprobs: Tensor
    """The reference policy's logprobs of the same tokens."""
    values: Tensor
    """The value model's estimates at rollout time (`ValueModel` alignment)."""
    rewards: Tensor
    """``-kl_coef * KL`` per token, plus the sequence score on the last response token."""
    advantages: Tensor
    """GAE advantages (whitened when configured)."""
    returns: Tensor
    """The value model's regression targets: raw advantages + values."""
    engine_logprobs: Tensor
    """The rollout engine's own logprobs of the sampled tokens (temperature 1): a check of the weight sync."""

    def rows(self, index: Tensor) -> RolloutBatch:
        """The rows ``index``, with trailing all-padding columns dropped."""
        return take_rows(self, index)

    def sequences(self) -> SequenceBatch:
        """The `SequenceBatch` view that `forward_logprobs` takes."""
        return SequenceBatch(self.input_ids, self.attention_mask, self.response_mask, self.old_logprobs)


# --------------------------------------------------------------------------- small pure helpers


def sequence_scores(
    verifier_scores: Sequence[float], finished: Sequence[bool], mode: MissingEOSPenalty, penalty: float
) -> Tensor:
    """Sequence rewards ``# (B,)``: the verifier's scores, with responses that never emitted EOS penalised."""
    scores = torch.tensor(verifier_scores, dtype=torch.float32)  # (B,)
    no_eos = ~torch.tensor(finished, dtype=torch.bool)  # (B,)
    if mode is MissingEOSPenalty.REPLACE:
        return torch.where(no_eos, torch.full_like(scores, -penalty), scores)
    if mode is MissingEOSPenalty.SUBTRACT:
        return scores - penalty * no_eos.float()
    return scores


def held_out_items(spec: TaskSpec, options: dict[str, object], size: int) -> list[Item]:
    """The first ``size`` distinct prompts of the test split (procedural splits repeat problems)."""
    if size == 0:
        return []
    items = load_items(spec, "test", options)
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.prompt, item)
        if len(seen) == size:
            break
    return list(seen.values())


def check_world_size(config: TrainConfig, world_size: int) -> None:
    """Raise `ConfigError` unless the batch sizes split evenly over ``world_size`` processes.

    ``rollout_batch_size`` and ``mini_batch_size`` count completions over all processes;
    ``micro_batch_size`` is per process and must divide each process's mini-batch share.
    """
    ppo = config.ppo
    for name in ("rollout_batch_size", "mini_batch_size"):
        value = getattr(ppo, name)
        if value % world_size:
            raise ConfigError(f"ppo.{name}={value}: must be a multiple of the number of processes ({world_size})")
    share = ppo.mini_batch_size // world_size
    if share % ppo.micro_batch_size:
        raise ConfigError(
            f"ppo.micro_batch_size={ppo.micro_batch_size}: must divide each process's share of the mini-batch "
            f"(ppo.mini_batch_size / processes = {ppo.mini_batch_size} / {world_size} = {share})"
        )


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT inside the block (main thread only; elsewhere signals cannot be changed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _EngineInterrupted(Exception):
    """A helper process failed after Ctrl-C: a terminal's SIGINT reaches vLLM's engine process and the
    verifier workers too. The step in progress is abandoned (it has changed nothing yet) or, for the
    weight sync, finished without it."""


# --------------------------------------------------------------------------- the trainer


class PPOTrainer:
    """Owns the models, the rollout engine, the verifier pool and the loggers of one PPO run.

    ``policy_path`` is the run's starting checkpoint (it is also the frozen reference);
    ``resume_from`` a checkpoint folder of this run to continue from. Use as a context manager,
    or call `close`, to stop the engine and the verifier workers.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        policy_path: Path,
        resume_from: Path | None = None,
        strategy: Strategy | None = None,
    ):
        self.config = config
        self.run_dir = run_dir
        self.policy_path = Path(policy_path).resolve()
        self.stop_requested = False
        self.last_eval: dict[str, float] = {}
        """The latest held-out metrics (`evaluate` in `train`), on every process."""
        self.last_eval_step = -1
        """The step ``last_eval`` was measured at."""

        self.spec = get_task(config.task.name)
        self.train_items = load_items(self.spec, "train", config.task.source_options())
        self.eval_items = held_out_items(self.spec, config.task.source_options(), config.eval.size)
        self.sampler = PromptSampler(len(self.train_items), config.ppo.rollout_batch_size, config.seed)
        self.verifier: Verifier = self.spec.build_verifier(config.task.alpha)
        # Started before the strategy when this process has no other Python thread yet, so that its workers
        # can be forked, and with SIGINT ignored, which they inherit: a terminal's Ctrl-C reaches the whole
        # process group.
        self.pool = VerifierPool(workers=config.verify.workers, timeout_s=config.verify.timeout_s)
        with _sigint_ignored():
            self.pool.verify(self.verifier, [("", self.train_items[0].ground_truth)] * config.verify.workers)

        self.strategy: Strategy = strategy if strategy is not None else make_strategy(config.strategy)
        check_world_size(config, self.strategy.world_size)
        self.local_batch_size = config.ppo.rollout_batch_size // self.strategy.world_size
        """Prompts per step on this process (its contiguous share of the step's ``rollout_batch_size``)."""
        state = load_trainer_state(resume_from, self.strategy.rank) if resume_from is not None else None
        self.step = state["step"] if state else 0
        self.kl_coef = state["kl_coef"] if state else config.ppo.kl.init_kl_coef
        self.initial_eval: dict[str, float] | None = state.get("initial_eval") if state else None
        start = resume_from if resume_from is not None else self.policy_path
        self.tokenizer = self._load_tokenizer(start)
        total_updates = config.total_steps * config.ppo.updates_per_step
        self.policy: Trainable = self.strategy.prepare(
            self._load_causal_lm(start), config.optim.lr, config.optim, total_updates
        )
        self.value: Trainable = self.strategy.prepare(
            self._load_value_model(resume_from), config.optim.value_lr, config.optim, total_updates
        )
        self.ref_model = self.strategy.prepare_frozen(self._load_ref_model(resume_from))
        if state:
            self.policy.load_state_dict(state["policy_optimizer"])
            self.value.load_state_dict(state["value_optimizer"])
            restore_rng_state(state["rng"])

        self.engine: RolloutEngine = make_rollout_engine(start, config.rollout)
        self.samples_path = run_dir / "samples.jsonl"
        self.logger: MetricsLogger | None = None  # files are written by the main process only
        if self.strategy.is_main:
            self.logger = MetricsLogger(
                run_dir,
                tensorboard=config.log.tensorboard,
                wandb=config.log.wandb,
                wandb_project=config.log.wandb_project,
                start_step=self.step,
                run_config=to_dict(config),
            )
            truncate_after(self.samples_path, self.step)

    # -- loading -----------------------------------------------------------------------------

    @staticmethod
    def _load_tokenizer(path: Path) -> Any:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is None:
            raise ValueError(f"{path}: the tokenizer has neither a pad nor an EOS token")
        return tokenizer

    @staticmethod
    def _load_causal_lm(path: Path) -> torch.nn.Module:
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(path, config=dropout_free_config(path), dtype=torch.float32)

    def _load_value_model(self, resume_from: Path | None) -> ValueModel:
        if resume_from is not None:
            return ValueModel.from_pretrained(resume_from / VALUE_DIR)
        return ValueModel.from_pretrained(self.config.model.value_path or self.policy_path)

    def _load_ref_model(self, resume_from: Path | None) -> torch.nn.Module:
        if resume_from is not None and (resume_from / REF_DIR).is_dir():
            return self._load_causal_lm(resume_from / REF_DIR)
        return self._load_causal_lm(self.policy_path)

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    def prompt_text(self, item: Item) -> str:
        """The text the policy sees for ``item`` (the configured prompt format)."""
        return format_prompt(self.spec, item, self.config.task.prompt_format, self.tokenizer)[0]

    # -- one step ----------------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        """Steps 1-6 of the module docstring on the next batch; returns the step's metrics (step 7 is the caller's)."""
        cfg = self.config
        metrics: dict[str, float] = {}
        step_started = time.perf_counter()

        # 1. rollout (this process's share of the step's prompts)
        items = [self.train_items[i] for i in self._local_indices()]
        try:
            completions, metrics["time/generation"] = _timed(lambda: self._generate(items))

            # 2. verify
            result, metrics["time/verification"] = _timed(lambda: self._verify(completions, items))
            interrupted = False
        except _EngineInterrupted:
            interrupted = True
        if self._any_process(interrupted):  # every process abandons the step together
            raise _EngineInterrupted("Ctrl-C stopped a rollout engine or verifier worker")
        scores = sequence_scores(
            result.scores, [c.finished for c in completions], cfg.ppo.missing_eos, cfg.ppo.missing_eos_penalty
        )  # (B,)

        # 3. KL-penalised rewards (and 4. advantages)
        batch, metrics["time/forward"] = _timed(lambda: self._make_batch(completions, scores))

        # 5. update
        update_stats, metrics["time/forward_backward"] = _timed(lambda: self._update(batch))

        # 6. sync
        metrics["time/weight_sync"] = self._sync()
        self.step += 1

        metrics.update(self._share_metrics(batch, completions, result.counts))
        if cfg.sampling.temperature == 1.0:  # the engine reports temperature-1 logprobs: comparable
            gap = (batch.engine_logprobs - batch.old_logprobs) * batch.response_mask  # (B, T)
            metrics["rollout/logprob_gap_max"] = float(gap.abs().max())
        metrics.update(update_stats)
        metrics["time/step"] = time.perf_counter() - step_started
        metrics = self._merge_over_processes(metrics)
        metrics.update(self._batch_metrics(batch, scores, completions))
        metrics["kl/coef"] = self.kl_coef
        self._move_kl_coef(metrics["kl/ref"])
        self._write_samples(items, completions, scores)
        return metrics

    def _local_indices(self) -> list[int]:
        """This process's contiguous share of the step's item indices."""
        start = self.strategy.rank * self.local_batch_size
        return self.sampler.indices(self.step)[start : start + self.local_batch_size]

    def _any_process(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any process (collective)."""
        return bool(self.strategy.all_reduce_sum(torch.tensor([float(flag)])).item() > 0)

    def _merge_over_processes(self, metrics: dict[str, float]) -> dict[str, float]:
        """One value per metric for the whole batch: the mean over processes (equal shares), the max
        for ``*_max`` and ``time/*``; a metric missing on a process (a verifier reason it never saw) counts as 0."""
        if self.strategy.world_size == 1:
            return metrics
        every = self.strategy.gather_objects(metrics)
        merged: dict[str, float] = {}
        for name in sorted(set().union(*every)):
            values = [m.get(name, 0.0) for m in every]
            take_max = name.endswith("_max") or name.startswith("time/")
            merged[name] = max(values) if take_max else sum(values) / len(values)
        return merged

    def _generate(self, items: Sequence[Item]) -> list[Completion]:
        seed = self.config.sampling.seed
        # prompt i of the step draws with seed + step * B + i, whichever process holds it
        offset = self.step * self.config.ppo.rollout_batch_size + self.strategy.rank * self.local_batch_size
        step_seed = None if seed is None else seed + offset
        sampling = dataclasses.replace(self.config.sampling, seed=step_seed)
        prompts = [self.prompt_text(item) for item in items]
        return self._engine_call(lambda: self.engine.generate(prompts, sampling))

    def _engine_call(self, fn: Callable[[], T]) -> T:
        """``fn()``, a call into the rollout engine's or the verifiers' processes, which Ctrl-C may have stopped."""
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - re-raised unless Ctrl-C already stopped the helper processes
            if self.stop_requested:
                raise _EngineInterrupted(str(exc)) from exc
            raise

    def _verify(self, completions: Sequence[Completion], items: Sequence[Item]) -> BatchResult:
        restarts = self.pool.restarts
        pairs = [(c.text, item.ground_truth) for c, item in zip(completions, items)]
        result = self._engine_call(lambda: self.pool.verify(self.verifier, pairs))
        if self.stop_requested and self.pool.restarts != restarts:
            # a worker died under the same Ctrl-C and its item was scored as an error: do not train on that
            raise _EngineInterrupted("a verifier worker stopped on Ctrl-C")
        return result

    @torch.no_grad()
    def _forward_in_chunks(self, fn: Callable[[SequenceBatch], Tensor], batch: SequenceBatch) -> Tensor:
        """``fn`` over micro-batches of ``batch``, re-assembled into ``# (B, T)``."""
        B, T_full = batch.input_ids.shape
        out = torch.zeros((B, T_full), dtype=torch.float32, device=batch.input_ids.device)  # (B, T)
        size = self.config.ppo.micro_batch_size
        for start in range(0, B, size):
            index = torch.arange(start, min(start + size, B), device=batch.input_ids.device)
            part = take_rows(batch, index)
            with self.strategy.autocast():
                values = fn(part).float()  # (b, t)
            out[index, : values.shape[1]] = values
        return out

    def _make_batch(self, completions: Sequence[Completion], scores: Tensor) -> RolloutBatch:
        cfg = self.config
        seq = collate_completions(completions, self.pad_token_id).to(self.strategy.device)  # old_logprobs: the engine's
        mask = seq.response_mask  # (B, T)
        temperature = cfg.sampling.temperature
        old_logprobs = self._forward_in_chunks(lambda b: forward_logprobs(self.policy.module, b, temperature), seq)  # (B, T)
        ref_logprobs = self._forward_in_chunks(lambda b: forward_logprobs(self.ref_model, b, temperature), seq)  # (B, T)
        values = self._forward_in_chunks(lambda b: self.value.module(b.input_ids, b.attention_mask), seq) * mask  # (B, T)

        kl = kl_penalty(old_logprobs, ref_logprobs, cfg.ppo.kl_estimator) * mask  # (B, T)
        rewards = per_token_rewards(scores.to(mask.device), kl, self.kl_coef, mask)  # (B, T)
        # 4. advantages
        advantages, returns = gae(rewards, values, mask, cfg.ppo.gamma, cfg.ppo.gae_lambda)  # (B, T) each
        if cfg.ppo.whiten_advantages:  # over the whole batch, all processes' shares
            all_reduce = self.strategy.all_reduce_sum if self.strategy.world_size > 1 else None
            advantages = masked_whiten(advantages, mask, all_reduce_sum=all_reduce)
        return RolloutBatch(
            input_ids=seq.input_ids,
            attention_mask=seq.attention_mask,
            response_mask=mask,
            old_logprobs=old_logprobs,
            ref_logprobs=ref_logprobs,
            values=values,
            rewards=rewards,
            advantages=advantages,
            returns=returns,
            engine_logprobs=seq.old_logprobs,
        )

    def _update(self, batch: RolloutBatch) -> dict[str, float]:
        """PPO epochs over shuffled mini-batches; gradient accumulation over micro-batches.

        With several processes each shuffles its own rows and takes ``mini_batch_size / world_size``
        of them per mini-batch; the loss is a token mean over the whole mini-batch (all processes),
        scaled by ``world_size`` because the strategy averages gradients over processes.
        """
        cfg = self.config.ppo
        world, rank = self.strategy.world_size, self.strategy.rank
        B = batch.input_ids.shape[0]  # this process's rows
        mini_size = cfg.mini_batch_size // world
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.step + rank * 1_000_000_007)
        sums: dict[str, list[float]] = defaultdict(list)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(B, generator=generator).to(batch.input_ids.device)  # (B,)
            minis = [order[start : start + mini_size] for start in range(0, B, mini_size)]
            tokens = self.strategy.all_reduce_sum(torch.stack([batch.response_mask[mini].sum() for mini in minis]))  # (minis,)
            for mini, mini_tokens in zip(minis, tokens.clamp(min=1.0)):
                for micro_start in range(0, len(mini), cfg.micro_batch_size):
                    part = batch.rows(mini[micro_start : micro_start + cfg.micro_batch_size])
                    weight = part.response_mask.sum() * world / mini_tokens  # token-mean over the whole mini-batch
                    for name, value in self._backward_micro(part, weight).items():
                        sums[name].append(value)
                sums["grad_norm/policy"].append(self.policy.step())
                sums["grad_norm/value"].append(self.value.step())
        stats = {name: sum(values) / len(values) for name, values in sums.items()}
        stats["lr/policy"] = self.policy.lr
        stats["lr/value"] = self.value.lr
        return stats

    def _backward_micro(self, part: RolloutBatch, weight: Tensor) -> dict[str, float]:
        cfg = self.config.ppo
        with self.strategy.autocast():
            logprobs = forward_logprobs(self.policy.module, part.sequences(), self.config.sampling.temperature)  # (b, t)
            policy_loss, policy_stats = ppo_policy_loss(
                logprobs, part.old_logprobs, part.advantages, part.response_mask, cfg.clip_coef
            )
            values = self.value.module(part.input_ids, part.attention_mask)  # (b, t)
            vf_loss, vf_stats = value_loss(values, part.values, part.returns, part.response_mask, cfg.clip_coef_value)
        self.policy.backward(policy_loss * weight)
        self.value.backward(vf_loss * weight)
        return {
            "loss/policy": policy_loss.item(),
            "loss/value": vf_loss.item(),
            "policy/clipfrac": float(policy_stats.clipfrac),
            "policy/approx_kl": float(policy_stats.approx_kl),
            "policy/ratio": float(policy_stats.ratio_mean),
            "value/clipfrac": float(vf_stats.vf_clipfrac),
        }

    def _sync(self) -> float:
        """Push the policy into the engine; EMA the reference. Returns the push's seconds."""
        started = time.perf_counter()
        # Reading the weights is collective under ZeRO-3: every process reads them all, even when its
        # engine is gone (Ctrl-C) and no longer needed (the checkpoint holds the new weights).
        weights = iter(self.strategy.full_named_parameters(self.policy.module))
        try:
            if not self.stop_requested:
                self._engine_call(lambda: self.engine.load_weights(weights))
        except _EngineInterrupted:
            pass
        finally:
            for _ in weights:
                pass
        seconds = time.perf_counter() - started
        if self.config.ppo.ref_update is RefUpdate.EMA:
            self.strategy.ema_update(self.ref_model, self.policy.module, self.config.ppo.ref_ema_decay)
        return seconds

    def _move_kl_coef(self, sequence_kl: float) -> None:
        self.kl_coef = next_kl_coef(self.config.ppo.kl, self.kl_coef, sequence_kl, self.config.ppo.rollout_batch_size)

    def _batch_metrics(self, batch: RolloutBatch, scores: Tensor, completions: Sequence[Completion]) -> dict[str, float]:
        """Rollout metrics of the whole batch, from sums over every process's share (collective)."""
        mask = batch.response_mask
        kl = (batch.old_logprobs - batch.ref_logprobs) * mask  # (B, T) k1, whatever the reward's estimator
        sums = torch.stack(
            [
                torch.tensor(float(len(completions))),  # rows
                mask.sum().cpu(),  # response tokens
                scores.sum().cpu(),
                batch.rewards.sum().cpu(),
                kl.sum().cpu(),
                torch.tensor(float(sum(c.finished for c in completions))),
                (batch.values * mask).sum().cpu(),
                ((batch.returns - batch.values).square() * mask).sum().cpu(),
            ]
        ).double()
        sums = self.strategy.all_reduce_sum(sums)
        rows, tokens, score, kl_penalized, kl_sum, finished, value, advantage_sq = sums.tolist()
        tokens = max(tokens, 1.0)
        return {
            "rewards/mean": score / rows,
            "rewards/kl_penalized": kl_penalized / rows,
            "kl/ref": kl_sum / rows,
            "kl/ref_per_token": kl_sum / tokens,
            "response/length": tokens / rows,
            "response/eos_rate": finished / rows,
            "value/mean": value / tokens,
            "advantages/std_raw": math.sqrt(advantage_sq / tokens),
        }

    @staticmethod
    def _share_metrics(batch: RolloutBatch, completions: Sequence[Completion], counts: dict[str, int]) -> dict[str, float]:
        """Metrics of this process's share that merge exactly by `_merge_over_processes` (equal shares)."""
        n = len(completions)
        metrics = {
            "rewards/accuracy": counts.get(Reason.CORRECT.value, 0) / n,
            "response/length_max": float(batch.response_mask.sum(dim=1).max()),
        }
        for reason, count in sorted(counts.items()):
            metrics[f"verifier/{reason}"] = count / n
        return metrics

    def _write_samples(self, items: Sequence[Item], completions: Sequence[Completion], scores: Tensor) -> None:
        """The first ``log.samples`` of the main process's share."""
        if not self.config.log.samples or not self.strategy.is_main:
            return
        with self.samples_path.open("a", encoding="utf-8") as stream:
            for item, completion, score in list(zip(items, completions, scores.tolist()))[: self.config.log.samples]:
                record = {"step": self.step, "prompt": item.prompt, "response": completion.text, "score": score}
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self) -> dict[str, float]:
        """Held-out accuracy: greedy responses of the engine's (current) policy to the test prompts.

        Each process answers its contiguous share of the prompts; the counts are summed over processes.
        Raises `_EngineInterrupted` on every process when Ctrl-C stopped a helper process on any.
        """
        if not self.eval_items:
            return {}
        max_new_tokens = self.config.eval.max_new_tokens or self.config.sampling.max_new_tokens
        greedy = SamplingConfig(max_new_tokens=max_new_tokens, temperature=0.0, seed=0)
        world, rank = self.strategy.world_size, self.strategy.rank
        share = -(-len(self.eval_items) // world)
        items = self.eval_items[rank * share : (rank + 1) * share]
        started = time.perf_counter()
        counts = [0, 0, 0, 0]  # items, correct, response tokens, finished
        try:
            if items:
                completions = self._engine_call(lambda: self.engine.generate([self.prompt_text(i) for i in items], greedy))
                result = self._verify(completions, items)
                counts = [
                    len(items),
                    result.counts.get(Reason.CORRECT.value, 0),
                    sum(len(c.token_ids) for c in completions),
                    sum(c.finished for c in completions),
                ]
            interrupted = False
        except _EngineInterrupted:
            interrupted = True
        if self._any_process(interrupted):
            raise _EngineInterrupted("Ctrl-C stopped a rollout engine or verifier worker during evaluation")
        counts = [sum(c) for c in zip(*self.strategy.gather_objects(counts))]
        n, correct, tokens, finished = counts
        return {
            "eval/accuracy": correct / n,
            "eval/response_length": tokens / n,
            "eval/eos_rate": finished / n,
            "time/eval": time.perf_counter() - started,
        }

    # -- the loop ----------------------------------------------------------------------------

    def train(self, stop_after: int | None = None) -> bool:
        """Run steps until ``total_steps`` (or ``stop_after`` more steps, or Ctrl-C); checkpoint at the end.

        Returns True when ``total_steps`` was reached. The first SIGINT or SIGTERM finishes (or abandons,
        if the engine died with it) the current step, saves a checkpoint and returns; a second SIGINT
        raises `KeyboardInterrupt` at once.
        """
        cfg = self.config
        main = self.strategy.is_main
        bar = ProgressBar(cfg.log.progress_bar and main, cfg.total_steps, self.step)
        previous_handlers = self._install_signal_handlers(bar)
        saved_step = -1
        steps_run = 0
        try:
            if self.step == 0 and self.initial_eval is None:
                self._sync_stop()
                self.initial_eval = self._try_evaluate()
                if self.initial_eval:
                    self._log(0, self.initial_eval)
                    if main:
                        bar.write(f"held-out accuracy before RL: {self.initial_eval['eval/accuracy']:.3f}")
            while self.step < cfg.total_steps and not self._sync_stop():
                try:
                    metrics = self.train_step()
                except _EngineInterrupted:
                    self.stop_requested = True  # on every process: the step was abandoned on all of them
                    break  # before it changed anything: the checkpoint is the previous step
                if self._eval_due() and not self._sync_stop():
                    metrics.update(self._try_evaluate())
                self._log(self.step, metrics)  # 7. log
                bar.update(metrics)
                steps_run += 1
                if cfg.checkpoint.save_every and self.step % cfg.checkpoint.save_every == 0:
                    self.save()
                    saved_step = self.step
                if stop_after is not None and steps_run >= stop_after:
                    break
            if saved_step != self.step:
                self.save()
        finally:
            bar.close()
            for signum, previous in previous_handlers.items():
                signal.signal(signum, previous)
        return self.step >= cfg.total_steps

    def _eval_due(self) -> bool:
        every = self.config.eval.every
        return self.step == self.config.total_steps or bool(every and self.step % every == 0)

    def _sync_stop(self) -> bool:
        """Whether Ctrl-C reached any process; afterwards ``stop_requested`` is the same on every process."""
        self.stop_requested = self._any_process(self.stop_requested)
        return self.stop_requested

    def _try_evaluate(self) -> dict[str, float]:
        """`evaluate`, or nothing when Ctrl-C stopped it (call right after `_sync_stop`)."""
        if self.stop_requested:
            return {}
        try:
            self.last_eval, self.last_eval_step = self.evaluate(), self.step
        except _EngineInterrupted:
            self.stop_requested = True
            return {}
        return self.last_eval

    def _log(self, step: int, metrics: dict[str, float]) -> None:
        if self.logger is not None:
            self.logger.log(step, metrics)

    def _install_signal_handlers(self, bar: ProgressBar) -> dict[int, Any]:
        """SIGINT (Ctrl-C) and SIGTERM request a stop after the current step; a second SIGINT aborts.

        SIGTERM is what launchers (``torchrun``, ``deepspeed``) send their workers when they get
        Ctrl-C themselves, and what schedulers send before preempting a job: it never aborts, so a
        worker that gets both (the terminal's SIGINT, then the launcher's SIGTERM) still saves.
        Returns the previous handlers (none off the main thread, where signals cannot be caught).
        """
        if threading.current_thread() is not threading.main_thread():
            return {}

        def on_signal(signum: int, frame: Any) -> None:
            if signum == signal.SIGINT and self.stop_requested:
                raise KeyboardInterrupt
            if self.stop_requested:
                return
            self.stop_requested = True
            if self.strategy.is_main:
                name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
                bar.write(f"{name}: finishing step {self.step + 1}, then saving a checkpoint (Ctrl-C again to abort)")

        return {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}

    # -- checkpoints -------------------------------------------------------------------------

    def save(self) -> Path:
        """Write ``RUN_DIR/checkpoints/step-N`` (see `rlvr_gym.trainers.checkpoint`); collective.

        The main process writes the model folders and its trainer state, every other process its own
        trainer state (optimizer partition, RNG), into ``step-N.tmp``, renamed once all are done.
        """
        main = self.strategy.is_main
        final = checkpoint_dir(self.run_dir, self.step)
        tmp = final.with_name(final.name + ".tmp")
        if main:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
        self.strategy.barrier()
        self.strategy.save_pretrained(self.policy.module, tmp)
        if main:
            self.tokenizer.save_pretrained(tmp)
        self.strategy.save_pretrained(self.value.module, tmp / VALUE_DIR)
        if self.config.ppo.ref_update is RefUpdate.EMA:
            self.strategy.save_pretrained(self.ref_model, tmp / REF_DIR)
        position = self.sampler.position(self.step)
        save_trainer_state(
            tmp,
            {
                "step": self.step,
                "kl_coef": self.kl_coef,
                "sampler": dataclasses.asdict(position),
                "policy_start": str(self.policy_path),
                "ref": "ema" if self.config.ppo.ref_update is RefUpdate.EMA else str(self.policy_path),
                "initial_eval": self.initial_eval,
                "config": to_dict(self.config),
                "policy_optimizer": self.policy.state_dict(),
                "value_optimizer": self.value.state_dict(),
                "rng": capture_rng_state(),
            },
            rank=self.strategy.rank,
        )
        self.strategy.barrier()
        if main:
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            prune_checkpoints(self.run_dir, self.config.checkpoint.keep_last)
        self.strategy.barrier()
        return final

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the rollout engine and the verifier workers; close the loggers."""
        if self.logger is not None:
            self.logger.close()
        self.pool.close()
        self.engine.close()

    def __enter__(self) -> PPOTrainer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
