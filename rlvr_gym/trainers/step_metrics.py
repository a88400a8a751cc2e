"""Step 7's numbers: the metrics of one training step, by group (``rewards/*``, ``kl/*``, ``response/*``,
``rollout/*``, ``value/*``, ``advantages/*``, ``verifier/*``), and the samples file.

`batch_metrics` sums over every process's share (collective), so the rates and means cover the whole
batch; `process_metrics` holds what does not add up (update statistics, maxima, times), merged by
`rlvr_gym.trainers.tracking.merge_process_metrics`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import Tensor

from ..verifiers import Reason
from .algorithms.corrections import logprob_mismatch
from .collect import Collected
from .logprobs import RolloutBatch
from .tracking import ProcessMetrics

__all__ = ["batch_metrics", "process_metrics", "write_samples"]


def batch_metrics(
    batch: RolloutBatch,
    collected: Collected,
    all_reduce_sum: Callable[[Tensor], Tensor],
    has_reference: bool,
    has_value_model: bool,
) -> dict[str, float]:
    """Rollout metrics of the whole batch, from sums over every process's share (collective)."""
    mask = batch.response_mask  # (B, T)
    kl = (batch.old_logprobs - batch.ref_logprobs) * mask  # (B, T) k1, whatever the estimator of the objective
    reasons = list(Reason)
    parts = list(collected.reward.parts)
    finished = collected.finished
    sums = torch.stack(
        [
            torch.tensor(float(len(finished))),  # rows
            mask.sum().cpu(),  # response tokens
            collected.scores.sum().cpu(),
            batch.rewards.sum().cpu(),
            kl.sum().cpu(),
            torch.tensor(float(sum(finished))),
            (batch.values * mask).sum().cpu(),
            ((batch.returns - batch.values).square() * mask).sum().cpu(),
            batch.loss_mask.amax(dim=1).sum().cpu(),  # rows in the loss
            torch.tensor(float(collected.groups_drawn)),
            torch.tensor(float(collected.groups_dropped)),
            torch.tensor(float(collected.rounds)),
            torch.tensor(1.0),  # processes
            *(torch.tensor(float(collected.counts.get(reason.value, 0))) for reason in reasons),
            *(collected.reward.parts[name].sum().cpu() for name in parts),
        ]
    ).double()
    totals = all_reduce_sum(sums).tolist()
    rows, tokens, score, shaped, kl_sum, eos, value, advantage_sq, trained, drawn, dropped, rounds, processes = totals[:13]
    tokens = max(tokens, 1.0)
    metrics = {
        "rewards/mean": score / rows,
        "rewards/kl_penalized": shaped / rows,
        "response/length": tokens / rows,
        "response/eos_rate": eos / rows,
        "response/trained_share": trained / rows,
        "advantages/std_raw": math.sqrt(advantage_sq / tokens),
    }
    if has_reference:
        metrics["kl/ref"] = kl_sum / rows
        metrics["kl/ref_per_token"] = kl_sum / tokens
    if has_value_model:
        metrics["value/mean"] = value / tokens
    if rounds > processes or dropped:  # dynamic sampling at work (global sums: the same on every process)
        metrics["rollout/dropped_share"] = dropped / drawn
        metrics["rollout/rounds"] = rounds / processes
    reason_totals = totals[13 : 13 + len(reasons)]
    for reason, count in zip(reasons, reason_totals):
        metrics[f"verifier/{reason.value}"] = count / rows
    if len(parts) > 1 or parts != ["correct"]:
        for name, total in zip(parts, totals[13 + len(reasons) :]):
            metrics[f"rewards/{name}"] = total / rows
    return metrics


def process_metrics(batch: RolloutBatch, update_stats: Mapping[str, float], times: Mapping[str, float]) -> ProcessMetrics:
    """This process's metrics that are not sums: update statistics and the engine/trainer mismatch (averaged),
    maxima and times. The mismatch compares the engine's logprobs with the trainer's at the sampling temperature
    under the weights that sampled (``old_logprobs``), so it holds at any temperature."""
    mismatch = logprob_mismatch(batch.old_logprobs, batch.engine_logprobs, batch.response_mask)
    means = {**update_stats, "rollout/logprob_gap_mean": float(mismatch.gap_mean), "rollout/mismatch_kl": float(mismatch.kl)}
    maxima = {
        "response/length_max": float(batch.response_mask.sum(dim=1).max()),
        "rollout/logprob_gap_max": float(mismatch.gap_max),
        **times,
    }
    return ProcessMetrics(mean=means, max=maxima)


def write_samples(path: Path, step: int, collected: Collected, limit: int) -> None:
    """The first ``limit`` completions of this share (prompt, response, score) to the samples JSONL."""
    if not limit:
        return
    n = len(collected.completions) // len(collected.items)
    with path.open("a", encoding="utf-8") as stream:
        for i, (completion, score) in enumerate(list(zip(collected.completions, collected.scores.tolist()))[:limit]):
            record = {"step": step, "prompt": collected.items[i // n].prompt, "response": completion.text, "score": score}
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
