"""PPO for RLVR (Tülu 3's recipe): reward ``alpha`` for a verified response, minus ``beta * KL`` per token.

One step of `PPOTrainer.train_step`, top to bottom, numbered as in the code:

1. **rollout**: draw the step's prompts, sample one completion each from the rollout engine;
2. **verify**: score the responses with the task's verifier in the long-lived `VerifierPool`;
   a response that never emitted EOS is penalised (`MissingEOSPenalty`);
3. **KL-penalised rewards**: forward passes of the policy (old logprobs), the reference and the
   value model; per-token ``-kl_coef * KL`` plus the score on the last token;
4. **advantages**: GAE over response tokens, whitened over the batch;
5. **update**: ``ppo_epochs`` passes of shuffled mini-batches, gradient accumulation over
   micro-batches, clipped policy loss and clipped value loss, each model its own AdamW;
6. **sync**: push the policy's new weights into the running engine (``load_weights``, no
   restart), EMA-update the reference if asked;
7. **log**: the whole batch's metrics; the adaptive KL coefficient moves with the measured KL;
   held-out accuracy when due; metrics to ``metrics.jsonl``, TensorBoard (and W&B).

`PPOTrainer.train` repeats it, checkpoints every ``checkpoint.save_every`` steps and when it
stops, and resumes from a checkpoint exactly: on CPU with the same config a resumed run logs the
same metrics as an uninterrupted one (``time/*`` aside). The maths lives in
`rlvr_gym.trainers.algorithms.ppo`, placement and optimizers behind `Strategy`, Ctrl-C and
SIGTERM in `StopVote` (`rlvr_gym.trainers.stop`).

**Several processes** (``strategy.distributed: zero2|zero3`` under ``deepspeed``/``torchrun``): every
process runs this loop with its own rollout engine and verifier pool on a contiguous
``rollout_batch_size / world_size`` share of each step's prompts. What must agree is agreed
collectively: advantages are whitened with the whole batch's statistics, the loss is a token
mean over the whole mini-batch, metrics (and so the adaptive KL coefficient) cover the whole
batch, and the decisions to abandon a step or to stop are `StopVote`'s votes, taken at the same
points on every process, so collective calls always match. The main process writes the files;
each process saves its own optimizer partition and RNG state in the checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor

from ..config import to_dict
from ..envs import Item, format_prompt, get_task, held_out_items, load_items
from ..rollout import Completion, RolloutEngine, SamplingConfig, make_rollout_engine
from ..verifiers import BatchResult, Reason, Verifier, VerifierPool
from .algorithms.ppo import gae, kl_penalty, masked_whiten, next_kl_coef, per_token_rewards, ppo_policy_loss, sequence_scores, value_loss
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
from .config import RefUpdate, TrainConfig, check_world_size
from .logprobs import RolloutBatch, SequenceBatch, collate_completions, forward_logprobs, take_rows
from .models import load_causal_lm, load_tokenizer
from .sampler import PromptSampler
from .stop import StepAbandoned, StopVote, sigint_ignored
from .strategies import make_strategy
from .strategies.base import Strategy, Trainable
from .tracking import MetricsLogger, ProcessMetrics, ProgressBar, merge_process_metrics, truncate_after
from .value_model import ValueModel

__all__ = ["PPOTrainer"]

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


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
        self.last_eval: dict[str, float] = {}
        """The latest held-out metrics (`evaluate` in `train_step`), on every process."""
        self.last_eval_step = -1
        """The step ``last_eval`` was measured at."""

        self.spec = get_task(config.task.name)
        self.train_items = load_items(self.spec, "train", config.task.source_options)
        self.eval_items = held_out_items(self.spec, config.task.source_options, config.eval.size)
        self.sampler = PromptSampler(len(self.train_items), config.ppo.rollout_batch_size, config.seed)
        self.verifier: Verifier = self.spec.build_verifier(config.task.alpha)
        # Started before the strategy when this process has no other Python thread yet, so that its workers
        # can be forked, and with SIGINT ignored, which they inherit: a terminal's Ctrl-C reaches the whole
        # process group.
        self.pool = VerifierPool(workers=config.verify.workers, timeout_s=config.verify.timeout_s)
        with sigint_ignored():
            self.pool.verify(self.verifier, [("", self.train_items[0].ground_truth)] * config.verify.workers)

        self.strategy: Strategy = strategy if strategy is not None else make_strategy(config.strategy)
        check_world_size(config, self.strategy.world_size)
        self.stop = StopVote(self.strategy.all_reduce_sum, announce=self._announce_stop)
        self.bar = ProgressBar(False, config.total_steps, 0)
        """The progress bar of `train` (a disabled one outside it)."""
        self.local_batch_size = config.ppo.rollout_batch_size // self.strategy.world_size
        """Prompts per step on this process (its contiguous share of the step's ``rollout_batch_size``)."""
        state = load_trainer_state(resume_from, self.strategy.rank) if resume_from is not None else None
        self.step = state["step"] if state else 0
        self.kl_coef = state["kl_coef"] if state else config.ppo.kl.init_kl_coef
        self.initial_eval: dict[str, float] | None = state.get("initial_eval") if state else None
        start = resume_from if resume_from is not None else self.policy_path
        self.tokenizer = load_tokenizer(start)
        total_updates = config.total_steps * config.ppo.updates_per_step
        self.policy: Trainable = self.strategy.prepare(
            load_causal_lm(start), config.optim.lr, config.optim, total_updates
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

    def _load_value_model(self, resume_from: Path | None) -> ValueModel:
        if resume_from is not None:
            return ValueModel.from_pretrained(resume_from / VALUE_DIR)
        return ValueModel.from_pretrained(self.config.model.value_path or self.policy_path)

    def _load_ref_model(self, resume_from: Path | None) -> torch.nn.Module:
        if resume_from is not None and (resume_from / REF_DIR).is_dir():
            return load_causal_lm(resume_from / REF_DIR)
        return load_causal_lm(self.policy_path)

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    def prompt_text(self, item: Item) -> str:
        """The text the policy sees for ``item`` (the configured prompt format)."""
        return format_prompt(self.spec, item, self.config.task.prompt_format, self.tokenizer)[0]

    # -- one step ----------------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        """Steps 1-7 of the module docstring on the next batch; returns the step's logged metrics.

        Raises `StepAbandoned` (on every process) when a stop request made a helper process fail
        during steps 1-2; the step has then changed nothing.
        """
        cfg = self.config
        times: dict[str, float] = {}
        step_started = time.perf_counter()

        # 1. rollout: this process's share of the step's prompts, one completion each
        items = [self.train_items[i] for i in self._local_indices()]
        with self.stop.guard(restarts=lambda: self.pool.restarts):
            completions, times["time/generation"] = _timed(lambda: self._generate(items))
            # 2. verify
            result, times["time/verification"] = _timed(lambda: self._verify(completions, items))
        self.stop.abandon_if_failed("the rollout")
        finished = [c.finished for c in completions]
        scores = sequence_scores(result.scores, finished, cfg.ppo.missing_eos, cfg.ppo.missing_eos_penalty)  # (B,)

        # 3. KL-penalised rewards
        forward_started = time.perf_counter()
        seq = collate_completions(completions, self.pad_token_id).to(self.strategy.device)
        mask = seq.response_mask  # (B, T)
        old_logprobs, ref_logprobs, values = self._rollout_forwards(seq)  # (B, T) each
        values = values * mask
        kl = kl_penalty(old_logprobs, ref_logprobs, cfg.ppo.kl_estimator) * mask  # (B, T)
        rewards = per_token_rewards(scores.to(mask.device), kl, self.kl_coef, mask)  # (B, T)

        # 4. advantages
        advantages, returns = gae(rewards, values, mask, cfg.ppo.gamma, cfg.ppo.gae_lambda)  # (B, T) each
        if cfg.ppo.whiten_advantages:  # over the whole batch, all processes' shares
            advantages = masked_whiten(advantages, mask, all_reduce_sum=self.strategy.all_reduce_sum)
        batch = RolloutBatch(
            input_ids=seq.input_ids,
            attention_mask=seq.attention_mask,
            response_mask=mask,
            old_logprobs=old_logprobs,
            ref_logprobs=ref_logprobs,
            values=values,
            rewards=rewards,
            advantages=advantages,
            returns=returns,
            engine_logprobs=seq.engine_logprobs,
        )
        times["time/forward"] = time.perf_counter() - forward_started

        # 5. update
        update_stats, times["time/forward_backward"] = _timed(lambda: self._update(batch))

        # 6. sync
        times["time/weight_sync"] = self._sync()
        self.step += 1

        # 7. log
        times["time/step"] = time.perf_counter() - step_started
        metrics = self._batch_metrics(batch, scores, finished, result.counts)
        metrics.update(merge_process_metrics(self.strategy.gather_objects(self._process_metrics(batch, update_stats, times))))
        metrics["kl/coef"] = self.kl_coef  # the coefficient this step used
        self.kl_coef = next_kl_coef(cfg.ppo.kl, self.kl_coef, metrics["kl/ref"], cfg.ppo.rollout_batch_size)
        if self._eval_due() and not self.stop.requested():
            metrics.update(self._try_evaluate())
        self._log(self.step, metrics)
        self._write_samples(items, completions, scores)
        return metrics

    def _local_indices(self) -> list[int]:
        """This process's contiguous share of the step's item indices."""
        start = self.strategy.rank * self.local_batch_size
        return self.sampler.indices(self.step)[start : start + self.local_batch_size]

    def _generate(self, items: Sequence[Item]) -> list[Completion]:
        seed = self.config.sampling.seed
        # prompt i of the step draws with seed + step * B + i, whichever process holds it
        offset = self.step * self.config.ppo.rollout_batch_size + self.strategy.rank * self.local_batch_size
        step_seed = None if seed is None else seed + offset
        sampling = dataclasses.replace(self.config.sampling, seed=step_seed)
        return self.engine.generate([self.prompt_text(item) for item in items], sampling)

    def _verify(self, completions: Sequence[Completion], items: Sequence[Item]) -> BatchResult:
        return self.pool.verify(self.verifier, [(c.text, item.ground_truth) for c, item in zip(completions, items)])

    def _rollout_forwards(self, seq: SequenceBatch) -> tuple[Tensor, Tensor, Tensor]:
        """The policy's (old) and the reference's logprobs and the value model's estimates, ``# (B, T)`` each."""
        temperature = self.config.sampling.temperature
        old_logprobs = self._forward_in_chunks(lambda b: forward_logprobs(self.policy.module, b, temperature), seq)
        ref_logprobs = self._forward_in_chunks(lambda b: forward_logprobs(self.ref_model, b, temperature), seq)
        values = self._forward_in_chunks(lambda b: self.value.module(b.input_ids, b.attention_mask), seq)
        return old_logprobs, ref_logprobs, values

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
        # engine is gone (Ctrl-C) and no longer needed (the checkpoint holds the new weights). A push that
        # fails after a stop request is not voted on: the loop stops after this step anyway.
        weights = iter(self.strategy.full_named_parameters(self.policy.module))
        try:
            with self.stop.guard():
                if not self.stop.signalled:
                    self.engine.load_weights(weights)
        finally:
            for _ in weights:
                pass
        seconds = time.perf_counter() - started
        if self.config.ppo.ref_update is RefUpdate.EMA:
            self.strategy.ema_update(self.ref_model, self.policy.module, self.config.ppo.ref_ema_decay)
        return seconds

    def _batch_metrics(
        self, batch: RolloutBatch, scores: Tensor, finished: Sequence[bool], counts: dict[str, int]
    ) -> dict[str, float]:
        """Rollout metrics of the whole batch, from sums over every process's share (collective)."""
        mask = batch.response_mask
        kl = (batch.old_logprobs - batch.ref_logprobs) * mask  # (B, T) k1, whatever the reward's estimator
        reasons = list(Reason)
        sums = torch.stack(
            [
                torch.tensor(float(len(finished))),  # rows
                mask.sum().cpu(),  # response tokens
                scores.sum().cpu(),
                batch.rewards.sum().cpu(),
                kl.sum().cpu(),
                torch.tensor(float(sum(finished))),
                (batch.values * mask).sum().cpu(),
                ((batch.returns - batch.values).square() * mask).sum().cpu(),
                *(torch.tensor(float(counts.get(reason.value, 0))) for reason in reasons),
            ]
        ).double()
        totals = self.strategy.all_reduce_sum(sums).tolist()
        rows, tokens, score, kl_penalized, kl_sum, eos, value, advantage_sq = totals[:8]
        tokens = max(tokens, 1.0)
        metrics = {
            "rewards/mean": score / rows,
            "rewards/kl_penalized": kl_penalized / rows,
            "kl/ref": kl_sum / rows,
            "kl/ref_per_token": kl_sum / tokens,
            "response/length": tokens / rows,
            "response/eos_rate": eos / rows,
            "value/mean": value / tokens,
            "advantages/std_raw": math.sqrt(advantage_sq / tokens),
        }
        for reason, count in zip(reasons, totals[8:]):
            metrics[f"verifier/{reason.value}"] = count / rows
        return metrics

    def _process_metrics(self, batch: RolloutBatch, update_stats: dict[str, float], times: dict[str, float]) -> ProcessMetrics:
        """This process's metrics that are not sums: update statistics (averaged), maxima and times."""
        maxima = {"response/length_max": float(batch.response_mask.sum(dim=1).max()), **times}
        if self.config.sampling.temperature == 1.0:  # the engine reports temperature-1 logprobs: comparable
            gap = (batch.engine_logprobs - batch.old_logprobs) * batch.response_mask  # (B, T)
            maxima["rollout/logprob_gap_max"] = float(gap.abs().max())
        return ProcessMetrics(mean=update_stats, max=maxima)

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
        Raises `StepAbandoned` on every process when a stop request made a helper process fail on any.
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
        with self.stop.guard(restarts=lambda: self.pool.restarts):
            if items:
                completions = self.engine.generate([self.prompt_text(i) for i in items], greedy)
                result = self._verify(completions, items)
                counts = [
                    len(items),
                    result.counts.get(Reason.CORRECT.value, 0),
                    sum(len(c.token_ids) for c in completions),
                    sum(c.finished for c in completions),
                ]
        self.stop.abandon_if_failed("evaluation")
        counts = [sum(c) for c in zip(*self.strategy.gather_objects(counts))]
        n, correct, tokens, finished = counts
        return {
            "eval/accuracy": correct / n,
            "eval/response_length": tokens / n,
            "eval/eos_rate": finished / n,
            "time/eval": time.perf_counter() - started,
        }

    def _try_evaluate(self) -> dict[str, float]:
        """`evaluate`, or nothing when a stop request interrupted it (every process then stops)."""
        try:
            self.last_eval, self.last_eval_step = self.evaluate(), self.step
        except StepAbandoned:
            return {}
        return self.last_eval

    def _eval_due(self) -> bool:
        every = self.config.eval.every
        return self.step == self.config.total_steps or bool(every and self.step % every == 0)

    # -- the loop ----------------------------------------------------------------------------

    def train(self, stop_after: int | None = None) -> bool:
        """Run steps until ``total_steps`` (or ``stop_after`` more steps, or Ctrl-C); checkpoint at the end.

        Returns True when ``total_steps`` was reached. The first SIGINT or SIGTERM finishes (or abandons,
        if a helper process died with it) the current step, saves a checkpoint and returns; a second
        SIGINT raises `KeyboardInterrupt` at once (see `StopVote`).
        """
        cfg = self.config
        self.bar = ProgressBar(cfg.log.progress_bar and self.strategy.is_main, cfg.total_steps, self.step)
        saved_step = -1
        steps_run = 0
        try:
            with self.stop.handlers():
                if self.step == 0 and self.initial_eval is None and not self.stop.requested():
                    self.initial_eval = self._try_evaluate()
                    if self.initial_eval:
                        self._log(0, self.initial_eval)
                        if self.strategy.is_main:
                            self.bar.write(f"held-out accuracy before RL: {self.initial_eval['eval/accuracy']:.3f}")
                while self.step < cfg.total_steps and not self.stop.requested():
                    try:
                        metrics = self.train_step()
                    except StepAbandoned:
                        break  # before it changed anything: the checkpoint is the previous step's
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
        return self.step >= cfg.total_steps

    def _announce_stop(self, signal_name: str) -> None:
        if self.strategy.is_main:
            self.bar.write(f"{signal_name}: finishing step {self.step + 1}, then saving a checkpoint (Ctrl-C again to abort)")

    def _log(self, step: int, metrics: dict[str, float]) -> None:
        if self.logger is not None:
            self.logger.log(step, metrics)

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
        save_trainer_state(
            tmp,
            {
                "step": self.step,
                "kl_coef": self.kl_coef,
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
