"""Policy-loss knobs: how per-token losses are aggregated, the clipped surrogate with asymmetric
(DAPO's clip-higher) and dual clip, and KL to the reference as a loss term (GRPO).

Conventions as in `rlvr_gym.trainers.algorithms.ppo`: ``(B, T)`` tensors, right-padded masks that
are 1.0 on response tokens, ``logprobs[:, t]`` aligned with token ``t``. Every loss is to be
minimised.

Peers read (their code, not copied): veRL ``verl/trainer/ppo/core_algos.py`` (``agg_loss`` and its
``loss_agg_mode``; ``compute_policy_loss_vanilla``: ``clip_ratio_low``/``clip_ratio_high`` and the
dual clip ``clip_ratio_c``, Ye et al. 2020, arXiv:1912.09729), TRL 1.16
``trl/trainer/grpo_trainer.py`` (``_compute_loss``: ``epsilon``/``epsilon_high``, ``loss_type``
grpo / bnpo / dr_grpo / dapo, the k3 ``per_token_kl`` added as ``beta * per_token_kl``), open-instruct
``open_instruct/grpo_utils.py`` (``compute_grpo_loss``: ``clip_lower``/``clip_higher``,
``loss_denominator``; ``model_utils.estimate_kl``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..choices import KLEstimator, LossAggregation
from .ppo import PolicyLossStats, kl_penalty, masked_mean

__all__ = ["ClippedPolicyLossStats", "aggregate_loss", "clipped_policy_loss", "kl_loss"]


def aggregate_loss(
    per_token: Tensor,
    mask: Tensor,
    mode: LossAggregation,
    max_length: int | None = None,
    count: float | Tensor | None = None,
) -> Tensor:
    """One scalar from the per-token losses ``# (B, T)``, as ``mode`` says:

    - ``token_mean``: ``sum(loss * mask) / sum(mask)``; every token weighs the same, so long
      responses weigh more (DAPO; today's PPO).
    - ``seq_mean_token_mean``: each row's token mean, then the mean over the ``B`` rows; every
      response weighs the same, so a token of a long response weighs less (GRPO's paper).
    - ``seq_mean_token_sum_norm``: each row's token sum divided by the constant ``max_length``,
      then the mean over the ``B`` rows (Dr. GRPO; TRL's ``dr_grpo``:
      ``sum / (B * max_completion_length)``); no length bias either way.

    A row with no unmasked token (a truncated response masked out) counts as one sequence of loss 0
    in the sequence modes, as in TRL (veRL leaves such rows out of its sequence count).

    ``count`` replaces this batch's own denominator when the batch is a part of a larger one
    (micro-batches of gradient accumulation, processes): the number of unmasked tokens
    (``token_mean``) or of rows (the sequence modes) of the whole mini-batch. Summing the parts'
    results then gives the whole mini-batch's loss. None: this batch's own.
    """
    mode = LossAggregation(mode)
    if count is not None and not float(count) > 0:
        raise ValueError(f"count must be > 0 (the whole mini-batch's tokens or rows), got {float(count)}")
    m = mask.to(per_token.dtype)  # (B, T)
    masked = per_token * m  # (B, T)
    rows = per_token.shape[0] if count is None else count
    if mode is LossAggregation.TOKEN_MEAN:
        tokens = m.sum().clamp(min=1.0) if count is None else count
        return masked.sum() / tokens
    if mode is LossAggregation.SEQ_MEAN_TOKEN_MEAN:
        row_means = masked.sum(dim=1) / m.sum(dim=1).clamp(min=1.0)  # (B,)
        return row_means.sum() / rows
    if max_length is None or max_length < 1:
        raise ValueError(f"seq_mean_token_sum_norm needs max_length >= 1 (the maximum response length), got {max_length}")
    return masked.sum() / (max_length * rows)


@dataclass(frozen=True)
class ClippedPolicyLossStats(PolicyLossStats):
    """Diagnostics of one `clipped_policy_loss` call (detached scalars, token means over the mask)."""

    clipfrac_low: Tensor
    """Share of tokens clipped at ``1 - clip_low`` (a negative advantage, the ratio below the range)."""
    clipfrac_high: Tensor
    """Share of tokens clipped at ``1 + clip_high`` (a positive advantage, the ratio above the range)."""
    dual_clipfrac: Tensor
    """Share of tokens where the dual clip ``-A * c`` bounded the loss (0 without dual clip)."""


def clipped_policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
    aggregation: LossAggregation = LossAggregation.TOKEN_MEAN,
    max_length: int | None = None,
    weights: Tensor | None = None,
    count: float | Tensor | None = None,
) -> tuple[Tensor, ClippedPolicyLossStats]:
    """The clipped surrogate (PPO) with an asymmetric range and an optional dual clip.

    Per token, with ``ratio = exp(logprobs - old_logprobs)``:
    ``L = max(-A * ratio, -A * clip(ratio, 1 - clip_low, 1 + clip_high))`` (DAPO's clip-higher:
    ``clip_high > clip_low`` lets unlikely tokens with positive advantage grow further); with
    ``dual_clip = c > 1``, tokens with ``A < 0`` take ``min(L, -A * c)``, which bounds the loss of a
    ratio far above the range (Ye et al. 2020; veRL's ``clip_ratio_c``, default 3).

    ``weights`` (``# (B, T)`` or ``# (B, 1)``, detached): per-token factors multiplied into the loss,
    the truncated importance weights of `corrections.truncated_is_weights`. The result is aggregated
    by `aggregate_loss` (``aggregation``, ``max_length``, ``count``). With ``clip_low == clip_high``,
    no dual clip, no weights and ``token_mean`` it equals `ppo_policy_loss`.
    """
    if not 0.0 < clip_low < 1.0:
        raise ValueError(f"clip_low must lie in (0, 1), got {clip_low}")
    if not clip_high > 0.0:
        raise ValueError(f"clip_high must be > 0, got {clip_high}")
    if dual_clip is not None and not dual_clip > 1.0:
        raise ValueError(f"dual_clip must be > 1 (or None), got {dual_clip}")
    log_ratio = logprobs - old_logprobs  # (B, T)
    ratio = torch.exp(log_ratio)  # (B, T)
    unclipped = -advantages * ratio  # (B, T)
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)  # (B, T)
    per_token = torch.maximum(unclipped, clipped)  # (B, T)
    dual_used = torch.zeros_like(per_token, dtype=torch.bool)  # (B, T)
    if dual_clip is not None:
        bound = -advantages * dual_clip  # (B, T)
        negative = advantages < 0
        dual_used = negative & (bound < per_token)
        per_token = torch.where(negative, torch.minimum(per_token, bound), per_token)
    if weights is not None:
        per_token = per_token * weights.detach()
    loss = aggregate_loss(per_token, mask, aggregation, max_length=max_length, count=count)
    with torch.no_grad():
        is_clipped = clipped > unclipped  # (B, T) the clipped term was the one used
        dtype = logprobs.dtype
        stats = ClippedPolicyLossStats(
            clipfrac=masked_mean(is_clipped.to(dtype), mask),
            approx_kl=masked_mean(0.5 * log_ratio.square(), mask),
            ratio_mean=masked_mean(ratio, mask),
            clipfrac_low=masked_mean((is_clipped & (ratio < 1.0)).to(dtype), mask),
            clipfrac_high=masked_mean((is_clipped & (ratio > 1.0)).to(dtype), mask),
            dual_clipfrac=masked_mean(dual_used.to(dtype), mask),
        )
    return loss, stats


def kl_loss(
    logprobs: Tensor,
    ref_logprobs: Tensor,
    mask: Tensor,
    kl_coef: float,
    kind: KLEstimator = KLEstimator.K3,
    aggregation: LossAggregation = LossAggregation.TOKEN_MEAN,
    max_length: int | None = None,
    count: float | Tensor | None = None,
) -> Tensor:
    """KL to the reference as a loss term (GRPO): ``kl_coef * aggregate(kl_penalty(logprobs, ref_logprobs))``.

    ``logprobs`` carries the gradient; ``kind`` defaults to k3, ``exp(ref - logp) - (ref - logp) - 1``,
    whose gradient per token is ``1 - exp(ref - logp)`` (TRL's ``per_token_kl``, open-instruct's
    ``kl_estimator=2``, veRL's ``low_var_kl``, which also clamps it to [-10, 10]; no clamp here). Aggregate
    it like the policy loss: the sum of the two equals the aggregate of their per-token sum.
    """
    if kl_coef < 0:
        raise ValueError(f"kl_coef must be >= 0, got {kl_coef}")
    per_token = kl_penalty(logprobs, ref_logprobs, kind)  # (B, T)
    return kl_coef * aggregate_loss(per_token, mask, aggregation, max_length=max_length, count=count)
