"""PPO-family RLVR (Tülu 3's recipe and the critic-free estimators): reward ``alpha`` for a verified response.

One step of `PPOTrainer.train_step`, top to bottom, numbered as in the code:

1. **rollout**: draw the step's prompts, sample ``ppo.group_size`` completions each (`Collector`);
2. **verify**: score them with the configured verifiers in the long-lived `VerifierPool` (a weighted
   sum, each part logged), apply the overlong and missing-EOS penalties; under dynamic sampling,
   drop groups without signal and draw further prompts;
3. **forwards**: the policy's logprobs at rollout time (skipped when the step makes one update:
   the update's own forward is then on-policy), the reference's (skipped when beta is 0) and the
   value model's (gae only);
4. **advantages**: ``ppo.estimator``: GAE over the KL-penalised per-token reward, whitened; a group
   estimator (grpo, dr_grpo, rloo) over each prompt's samples; or REINFORCE++'s whitened returns;
5. **update**: ``ppo_epochs`` passes of shuffled mini-batches, gradient accumulation over
   micro-batches: the clipped surrogate (asymmetric and dual clip, the chosen loss aggregation,
   truncated importance weights against the engine mismatch), the KL loss term (``kl_mode: loss``)
   and, with gae, the clipped value loss; each model its own AdamW;
6. **sync**: push the policy's new weights into the running engine (``load_weights``, no
   restart), EMA-update the reference if asked;
7. **log**: the whole batch's metrics (`rlvr_gym.trainers.step_metrics`); the adaptive KL
   coefficient moves with the measured KL; held-out accuracy when due; metrics to
   ``metrics.jsonl``, TensorBoard (and W&B).

`PPOTrainer.train` repeats it, checkpoints every ``checkpoint.save_every`` steps and when it
stops, and resumes from a checkpoint exactly: on CPU with the same config a resumed run logs the
same metrics as an uninterrupted one (``time/*`` aside). The maths lives in
`rlvr_gym.trainers.algorithms`, placement and optimizers behind `Strategy`, Ctrl-C and SIGTERM in
`StopVote` (`rlvr_gym.trainers.stop`).

**Several processes** (``strategy.distributed: zero2|zero3`` under ``deepspeed``/``torchrun``): every
process runs this loop with its own rollout engine and verifier pool on a contiguous
``rollout_batch_size / world_size`` share of each step's prompts (a prompt's group stays on one
process). What must agree is agreed collectively: whole-batch whitening, the loss denominators of
a mini-batch (tokens or rows over all processes), metrics (and so the adaptive KL coefficient),
and the decisions to abandon a step or to stop are `StopVote`'s votes, taken at the same points on
every process, so collective calls always match. The main process writes the files; each process
saves its own optimizer partition and RNG state in the checkpoint.
"""

from __future__ import annotations

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
from .algorithms.corrections import truncated_is_weights
from .algorithms.estimators import estimate_advantages
from .algorithms.losses import clipped_policy_loss, kl_loss
from .algorithms.ppo import kl_penalty, next_kl_coef, value_loss
from .algorithms.rewards import mask_truncated
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
from .choices import KLMode, LossAggregation, OverlongHandling, RefUpdate, TISLevel
from .collect import Collector
from .config import TrainConfig, check_world_size
from .logprobs import RolloutBatch, SequenceBatch, collate_completions, forward_logprobs, forward_logprobs_shared_prompts, take_rows
from .models import load_causal_lm, load_tokenizer
from .run_log import RunLog
from .step_metrics import batch_metrics, process_metrics, write_samples
from .stop import StepAbandoned, StopVote, sigint_ignored
from .strategies import make_strategy
from .strategies.base import Strategy, Trainable
from .tracking import MetricsLogger, ProgressBar, merge_process_metrics, truncate_after
from .value_model import ValueModel

__all__ = ["PPOTrainer"]

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


class PPOTrainer:
    """Owns the models, the rollout engine, the verifier pool and the loggers of one run (any ``ppo.estimator``).

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
        run_log: RunLog | None = None,
    ):
        self.config = config
        self.run_log = run_log if run_log is not None else RunLog(None)
        """``RUN_DIR/train.log`` (opened by `rlvr_gym.trainers.train.run_training`; none by default)."""
        self.run_dir = run_dir
        self.policy_path = Path(policy_path).resolve()
        self.last_eval: dict[str, float] = {}
        """The latest held-out metrics (`evaluate` in `train_step`), on every process."""
        self.last_eval_step = -1
        """The step ``last_eval`` was measured at."""

        self.spec = get_task(config.task.name)
        self.train_items = load_items(self.spec, "train", config.task.source_options)
        self.eval_items = held_out_items(self.spec, config.task.source_options, config.eval.size)
        self.verifier: Verifier = self.spec.build_verifier(config.task.alpha)
        """The task's own verifier: held-out accuracy (`Collector` scores the training rewards)."""
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
        self.value: Trainable | None = None
        """The critic (estimator gae only)."""
        if config.ppo.uses_value_model:
            value_model = self._load_value_model(resume_from)
            self.value = self.strategy.prepare(value_model, config.optim.value_lr, config.optim, total_updates)
        self.ref_model: torch.nn.Module | None = None
        """The KL reference (none when beta is 0)."""
        if config.ppo.uses_reference:
            self.ref_model = self.strategy.prepare_frozen(self._load_ref_model(resume_from))
        self.shared_prompts = config.ppo.group_size > 1 and config.ppo.shared_prompt_forward
        self.forward_logprobs = forward_logprobs_shared_prompts if self.shared_prompts else forward_logprobs
        if state:
            self.policy.load_state_dict(state["policy_optimizer"])
            if self.value is not None:
                self.value.load_state_dict(state["value_optimizer"])
            restore_rng_state(state["rng"])

        self.engine: RolloutEngine = make_rollout_engine(start, config.rollout)
        rank, world = self.strategy.rank, self.strategy.world_size
        self.collector = Collector(config, self.spec, self.train_items, self.engine, self.pool, self.prompt_text, rank, world)
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
        ppo = cfg.ppo
        step_started = time.perf_counter()

        # 1-2. rollout and verify: this process's share of the step's prompts, group_size completions each
        with self.stop.guard(restarts=lambda: self.pool.restarts):
            collected = self.collector.collect(self.step)
        self.stop.abandon_if_failed("the rollout")
        times = dict(collected.seconds)

        # 3. forwards: old logprobs (unless on-policy), reference logprobs (unless beta = 0), values (gae)
        forward_started = time.perf_counter()
        seq = collate_completions(collected.completions, self.pad_token_id).to(self.strategy.device)
        mask = seq.response_mask  # (B, T)
        old_logprobs, ref_logprobs, values = self._rollout_forwards(seq)  # (B, T) each, zeros where skipped
        kl = kl_penalty(old_logprobs, ref_logprobs, ppo.kl_estimator) * mask  # (B, T)
        kl_in_reward = self.ref_model is not None and ppo.kl_mode is KLMode.REWARD

        # 4. advantages
        estimate = estimate_advantages(
            ppo.estimator,
            collected.scores.to(mask.device),
            kl,
            self.kl_coef if kl_in_reward else 0.0,
            mask,
            values=values,
            group_size=ppo.group_size,
            gamma=ppo.gamma,
            gae_lambda=ppo.gae_lambda,
            whiten=ppo.whiten_advantages,
            all_reduce_sum=self.strategy.all_reduce_sum,
        )
        loss_mask = mask_truncated(mask, collected.finished) if ppo.overlong is OverlongHandling.MASK else mask
        batch = RolloutBatch(
            input_ids=seq.input_ids,
            attention_mask=seq.attention_mask,
            response_mask=mask,
            loss_mask=loss_mask,
            old_logprobs=old_logprobs,
            ref_logprobs=ref_logprobs,
            values=values,
            rewards=estimate.rewards,
            advantages=estimate.advantages,
            returns=estimate.returns,
            engine_logprobs=seq.engine_logprobs,
        )
        times["time/forward"] = time.perf_counter() - forward_started

        # 5. update (on-policy: fills batch.old_logprobs from its own forward)
        update_stats, times["time/forward_backward"] = _timed(lambda: self._update(batch))

        # 6. sync
        times["time/weight_sync"] = self._sync()
        self.step += 1

        # 7. log
        times["time/step"] = time.perf_counter() - step_started
        has_ref, has_value = self.ref_model is not None, self.value is not None
        metrics = batch_metrics(batch, collected, self.strategy.all_reduce_sum, has_ref, has_value)
        metrics.update(merge_process_metrics(self.strategy.gather_objects(process_metrics(batch, update_stats, times))))
        if has_ref:
            metrics["kl/coef"] = self.kl_coef  # the coefficient this step used
            self.kl_coef = next_kl_coef(ppo.kl, self.kl_coef, metrics["kl/ref"], ppo.rollout_batch_size)
        if self._eval_due() and not self.stop.requested():
            metrics.update(self._try_evaluate())
        self._log(self.step, metrics)
        if self.strategy.is_main:
            write_samples(self.samples_path, self.step, collected, cfg.log.samples)
        return metrics

    @property
    def on_policy(self) -> bool:
        """One optimizer update per rollout batch: the policy that sampled is the one being updated, so the
        update's own forward gives the old logprobs (no separate no-grad pass), unless the KL is in the reward."""
        ppo = self.config.ppo
        kl_in_reward = self.ref_model is not None and ppo.kl_mode is KLMode.REWARD
        return ppo.updates_per_step == 1 and not kl_in_reward

    def _verify(self, completions: Sequence[Completion], items: Sequence[Item]) -> BatchResult:
        return self.pool.verify(self.verifier, [(c.text, item.ground_truth) for c, item in zip(completions, items)])

    def _rollout_forwards(self, seq: SequenceBatch) -> tuple[Tensor, Tensor, Tensor]:
        """The policy's (old) and the reference's logprobs and the value model's estimates, ``# (B, T)`` each;
        zeros for a pass that is skipped (on-policy, no reference, no critic)."""
        temperature = self.config.sampling.temperature
        zeros = torch.zeros(seq.input_ids.shape, dtype=torch.float32, device=seq.input_ids.device)  # (B, T)
        ref_logprobs = values = zeros
        if self.on_policy:
            old_logprobs = zeros.clone()  # filled in place by the update's forward
        else:
            old_logprobs = self._forward_in_chunks(lambda b: self.forward_logprobs(self.policy.module, b, temperature), seq)
        if self.ref_model is not None:
            ref_logprobs = self._forward_in_chunks(lambda b: self.forward_logprobs(self.ref_model, b, temperature), seq)
        if self.value is not None:
            values = self._forward_in_chunks(lambda b: self.value.module(b.input_ids, b.attention_mask), seq) * seq.response_mask
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
        of them per mini-batch. The loss of a mini-batch is aggregated over all of it (every process):
        its denominators (tokens for token_mean, rows for the sequence modes) are summed over processes,
        and the loss is scaled by ``world_size`` because the strategy averages gradients over processes.
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
            if self.shared_prompts:  # micro-batches of whole groups; a mini-batch keeps its rows
                minis = [mini.sort().values for mini in minis]
            rows = [torch.tensor(float(len(mini)), device=batch.input_ids.device) for mini in minis]
            counts = torch.stack(
                [torch.stack([batch.loss_mask[mini].sum(), batch.response_mask[mini].sum(), n]) for mini, n in zip(minis, rows)]
            )  # (minis, 3): loss tokens, response tokens, rows
            counts = self.strategy.all_reduce_sum(counts.to(batch.input_ids.device)).clamp(min=1.0)
            for mini, (loss_tokens, response_tokens, rows) in zip(minis, counts):
                count = loss_tokens if cfg.loss_aggregation is LossAggregation.TOKEN_MEAN else rows
                for micro_start in range(0, len(mini), cfg.micro_batch_size):
                    index = mini[micro_start : micro_start + cfg.micro_batch_size]
                    for name, value in self._backward_micro(batch, index, count / world, response_tokens / world).items():
                        sums[name].append(value)
                sums["grad_norm/policy"].append(self.policy.step())
                if self.value is not None:
                    sums["grad_norm/value"].append(self.value.step())
        stats = {name: sum(values) / len(values) for name, values in sums.items()}
        stats["lr/policy"] = self.policy.lr
        if self.value is not None:
            stats["lr/value"] = self.value.lr
        return stats

    def _backward_micro(self, batch: RolloutBatch, index: Tensor, count: Tensor, value_tokens: Tensor) -> dict[str, float]:
        """Forward and backward of the rows ``index``; ``count`` (this process's part of the mini-batch's loss
        denominator) and ``value_tokens`` (of its response tokens) make the parts' losses add up to the mini-batch's."""
        cfg = self.config.ppo
        part = batch.rows(index)
        with self.strategy.autocast():
            logprobs = self.forward_logprobs(self.policy.module, part.sequences(), self.config.sampling.temperature)  # (b, t)
        logprobs = logprobs.float()
        if self.on_policy:  # the rollout policy is this one: its logprobs are the old ones
            old = logprobs.detach()
            batch.old_logprobs[index, : old.shape[1]] = old
        else:
            old = part.old_logprobs
        weights = None
        stats: dict[str, float] = {}
        if cfg.tis is not TISLevel.NONE:
            weights, tis = truncated_is_weights(old, part.engine_logprobs, part.response_mask, cfg.tis, cfg.tis_cap)
            stats.update({"tis/weight_mean": float(tis.weight_mean), "tis/clipfrac": float(tis.clipfrac)})
        aggregation = dict(aggregation=cfg.loss_aggregation, max_length=self.config.sampling.max_new_tokens, count=count)
        policy_loss, policy_stats = clipped_policy_loss(
            logprobs,
            old,
            part.advantages,
            part.loss_mask,
            clip_low=cfg.clip_coef,
            clip_high=cfg.clip_coef_high if cfg.clip_coef_high is not None else cfg.clip_coef,
            dual_clip=cfg.dual_clip,
            weights=weights,
            **aggregation,
        )
        loss = policy_loss
        if self.ref_model is not None and cfg.kl_mode is KLMode.LOSS:
            kl_term = kl_loss(logprobs, part.ref_logprobs, part.loss_mask, self.kl_coef, cfg.kl_estimator, **aggregation)
            loss = loss + kl_term
            stats["loss/kl"] = kl_term.item()
        self.policy.backward(loss)
        stats.update(
            {
                "loss/policy": policy_loss.item(),
                "policy/clipfrac": float(policy_stats.clipfrac),
                "policy/clipfrac_low": float(policy_stats.clipfrac_low),
                "policy/clipfrac_high": float(policy_stats.clipfrac_high),
                "policy/approx_kl": float(policy_stats.approx_kl),
                "policy/ratio": float(policy_stats.ratio_mean),
            }
        )
        if cfg.dual_clip is not None:
            stats["policy/dual_clipfrac"] = float(policy_stats.dual_clipfrac)
        if self.value is not None:
            with self.strategy.autocast():
                values = self.value.module(part.input_ids, part.attention_mask)  # (b, t)
                vf_loss, vf_stats = value_loss(values, part.values, part.returns, part.response_mask, cfg.clip_coef_value)
            self.value.backward(vf_loss * part.response_mask.sum() / value_tokens)  # token mean over the mini-batch
            stats.update({"loss/value": vf_loss.item(), "value/clipfrac": float(vf_stats.vf_clipfrac)})
        return stats

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
        if self.ref_model is not None and self.config.ppo.ref_update is RefUpdate.EMA:
            self.strategy.ema_update(self.ref_model, self.policy.module, self.config.ppo.ref_ema_decay)
        return seconds

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
        self.bar = ProgressBar(cfg.log.progress_bar and self.strategy.is_main, cfg.total_steps, self.step, desc=str(cfg.ppo.estimator))
        saved_step = -1
        steps_run = 0
        try:
            with self.stop.handlers():
                if self.step == 0 and self.initial_eval is None and not self.stop.requested():
                    self.initial_eval = self._try_evaluate()
                    if self.initial_eval:
                        self._log(0, self.initial_eval)
                        if self.strategy.is_main:
                            self._say(f"held-out accuracy before RL: {self.initial_eval['eval/accuracy']:.3f}")
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
            self._say(f"{signal_name}: finishing step {self.step + 1}, then saving a checkpoint (Ctrl-C again to abort)")

    def _say(self, message: str) -> None:
        """A line on the console (beside the progress bar) and in the run log."""
        self.bar.write(message)
        self.run_log.write(message)

    def _log(self, step: int, metrics: dict[str, float]) -> None:
        if self.logger is not None:
            self.logger.log(step, metrics)
            self.run_log.step(step, self.config.total_steps, metrics)

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
        if self.value is not None:
            self.strategy.save_pretrained(self.value.module, tmp / VALUE_DIR)
        ema = self.ref_model is not None and self.config.ppo.ref_update is RefUpdate.EMA
        if ema:
            self.strategy.save_pretrained(self.ref_model, tmp / REF_DIR)
        save_trainer_state(
            tmp,
            {
                "step": self.step,
                "kl_coef": self.kl_coef,
                "policy_start": str(self.policy_path),
                "ref": "ema" if ema else str(self.policy_path) if self.ref_model is not None else None,
                "initial_eval": self.initial_eval,
                "config": to_dict(self.config),
                "policy_optimizer": self.policy.state_dict(),
                "value_optimizer": self.value.state_dict() if self.value is not None else None,
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
