"""Critic-free advantage estimators for ``n`` samples per prompt, and dynamic sampling's group filter.

Conventions (those of `rlvr_gym.trainers.algorithms.ppo`, plus groups):

- A **group** is the ``n`` responses sampled for one prompt. Sequence scores come either as
  ``# (P, n)`` (one row per prompt) or flat ``# (B,)`` with ``B = P * n`` and a ``group_size``
  ``n``; flat, the group of prompt ``p`` is the ``n`` **consecutive** rows ``p*n .. p*n + n - 1``
  (vLLM's ``n``, TRL's ``repeat_interleave``). Every function returns its advantages in the shape
  it was given; `to_token_advantages` spreads a ``# (B,)`` advantage over the response tokens.
- Scores are floats; a NaN or infinite score, a group of one, or a size that does not divide the
  batch is an error, never a silent zero.

Peers read for these (their code, not copied): TRL 1.16 ``trl/trainer/grpo_trainer.py``
(``_generate_and_score_completions``: ``scale_rewards``, ``nanstd`` with Bessel's correction, eps
1e-4), ``trl/trainer/rloo_trainer.py`` (leave-one-out baseline); open-instruct
``open_instruct/data_loader.py`` (``advantage_normalization_type``: numpy's population std, eps
1e-8; ``filter_zero_std_samples``); veRL ``verl/trainer/ppo/core_algos.py``
(``compute_grpo_outcome_advantage``: ``torch.std``, unbiased, eps 1e-6;
``compute_rloo_outcome_advantage``; ``compute_reinforce_plus_plus_outcome_advantage``); OpenRLHF
``openrlhf/trainer/ppo_utils/experience_maker.py`` (``compute_advantages_and_returns``: ``rloo``,
``group_norm``, ``dr_grpo``, and ``reinforce`` = REINFORCE++ with ``get_cumulative_returns`` and the
batch whitening at its end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..choices import AdvantageEstimator
from .ppo import gae, masked_whiten, per_token_rewards

__all__ = [
    "Advantages",
    "GroupFilter",
    "estimate_advantages",
    "as_groups",
    "dr_grpo_advantages",
    "group_advantages",
    "groups_with_signal",
    "grpo_advantages",
    "reinforce_pp_advantages",
    "rloo_advantages",
    "to_token_advantages",
]

GRPO_EPS = 1e-6
"""Added to the group std before dividing (veRL's 1e-6; TRL uses 1e-4, open-instruct 1e-8)."""


# --------------------------------------------------------------------------- groups


def as_groups(scores: Tensor, group_size: int | None = None) -> Tensor:
    """``scores`` as ``# (P, n)``: a ``(P, n)`` tensor as it is, a ``(B,)`` one cut into consecutive groups.

    ``group_size`` is required for ``(B,)`` input and, if given for ``(P, n)`` input, must equal ``n``.
    Raises ``ValueError`` on non-float or non-finite scores, a group of fewer than two samples, or a
    size that does not divide the batch.
    """
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating-point tensor, got {scores.dtype}")
    if scores.dim() == 1:
        if group_size is None:
            raise ValueError("flat (B,) scores need a group_size (samples per prompt)")
        if group_size < 2 or scores.numel() % group_size:
            raise ValueError(f"group_size must be >= 2 and divide the {scores.numel()} scores, got {group_size}")
        groups = scores.view(-1, group_size)  # (P, n)
    elif scores.dim() == 2:
        if group_size is not None and group_size != scores.shape[1]:
            raise ValueError(f"group_size {group_size} does not match the (P, n) = {tuple(scores.shape)} scores")
        groups = scores  # (P, n)
    else:
        raise ValueError(f"scores must be (B,) or (P, n), got shape {tuple(scores.shape)}")
    if groups.shape[0] == 0 or groups.shape[1] < 2:
        raise ValueError(f"each group needs at least two samples and there must be one group, got {tuple(groups.shape)}")
    if not torch.isfinite(groups).all():
        raise ValueError("scores must be finite (a NaN or infinite score reached the advantages)")
    return groups


# --------------------------------------------------------------------------- the group estimators


def grpo_advantages(scores: Tensor, group_size: int | None = None, eps: float = GRPO_EPS, unbiased: bool = True) -> Tensor:
    """GRPO (Shao et al. 2024): ``(r - group mean) / (group std + eps)``.

    ``unbiased=True`` divides the variance by ``n - 1`` (Bessel), as TRL's ``nanstd``, veRL's and
    OpenRLHF's ``torch.std`` do; ``unbiased=False`` is the population std of open-instruct's
    ``np.std``. A group whose samples all score the same gets advantage 0 (its std is 0).
    """
    groups = as_groups(scores, group_size)  # (P, n)
    mean = groups.mean(dim=1, keepdim=True)  # (P, 1)
    std = groups.std(dim=1, keepdim=True, correction=1 if unbiased else 0)  # (P, 1)
    return ((groups - mean) / (std + eps)).view_as(scores)


def dr_grpo_advantages(scores: Tensor, group_size: int | None = None) -> Tensor:
    """Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"): ``r - group mean``, no std."""
    groups = as_groups(scores, group_size)  # (P, n)
    return (groups - groups.mean(dim=1, keepdim=True)).view_as(scores)


def rloo_advantages(scores: Tensor, group_size: int | None = None) -> Tensor:
    """RLOO (Ahmadian et al. 2024): ``r_i`` minus the mean of the **other** ``n - 1`` samples of its group.

    Equal to ``n / (n - 1) * (r_i - group mean)``: Dr. GRPO's advantage scaled up by ``n / (n - 1)``.
    """
    groups = as_groups(scores, group_size)  # (P, n)
    n = groups.shape[1]
    baseline = (groups.sum(dim=1, keepdim=True) - groups) / (n - 1)  # (P, n) each sample's leave-one-out mean
    return (groups - baseline).view_as(scores)


def group_advantages(
    scores: Tensor, estimator: AdvantageEstimator, group_size: int | None = None, eps: float = GRPO_EPS
) -> Tensor:
    """The sequence advantages of a group estimator (``grpo``, ``dr_grpo`` or ``rloo``), shaped like ``scores``."""
    estimator = AdvantageEstimator(estimator)
    if estimator is AdvantageEstimator.GRPO:
        return grpo_advantages(scores, group_size, eps=eps)
    if estimator is AdvantageEstimator.DR_GRPO:
        return dr_grpo_advantages(scores, group_size)
    if estimator is AdvantageEstimator.RLOO:
        return rloo_advantages(scores, group_size)
    where = "algorithms.ppo.gae (needs the value model)" if estimator is AdvantageEstimator.GAE else "reinforce_pp_advantages"
    raise ValueError(f"{estimator.value!r} is not a group estimator: its advantages are per token, from {where}")


def to_token_advantages(advantages: Tensor, mask: Tensor) -> Tensor:
    """A ``# (B,)`` sequence advantage on every response token: ``# (B, T)``, zero where masked."""
    if advantages.dim() != 1 or advantages.shape[0] != mask.shape[0]:
        raise ValueError(f"advantages must be (B,) with B = {mask.shape[0]} rows of the mask, got {tuple(advantages.shape)}")
    return advantages[:, None] * mask.to(advantages.dtype)  # (B, T)


# --------------------------------------------------------------------------- REINFORCE++


def _local_sum(x: Tensor) -> Tensor:
    return x


def reinforce_pp_advantages(
    seq_reward: Tensor,
    kl: Tensor,
    kl_coef: float,
    mask: Tensor,
    gamma: float = 1.0,
    all_reduce_sum: Callable[[Tensor], Tensor] = _local_sum,
) -> tuple[Tensor, Tensor]:
    """REINFORCE++ (Hu 2025), as OpenRLHF's ``reinforce`` estimator computes it.

    1. the per-token reward: ``-kl_coef * kl`` on every response token, plus ``seq_reward`` on the
       last one (`per_token_rewards`, OpenRLHF's ``compute_reward``);
    2. returns to go: ``G_t = r_t + gamma * G_{t+1}`` (``get_cumulative_returns``; no value model);
    3. the advantages are the returns whitened over every response token of the batch:
       ``(G - mean) / sqrt(max(var, 1e-8))`` with the **biased** variance (divided by the token
       count), as the end of OpenRLHF's ``compute_advantages_and_returns`` does. (veRL's
       ``compute_reinforce_plus_plus_outcome_advantage`` uses its unbiased ``masked_whiten``.)

    ``seq_reward`` is ``# (B,)``; ``kl`` (a per-token KL estimate, `kl_penalty`) and ``mask`` are
    ``# (B, T)`` with right-padded masks. Returns ``(advantages, returns)``, both ``# (B, T)`` and zero
    where masked. ``all_reduce_sum``, as in `masked_whiten`: sums over processes so that every
    process whitens with the whole batch's statistics.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    m = mask.to(kl.dtype)  # (B, T)
    rewards = per_token_rewards(seq_reward, kl, kl_coef, m)  # (B, T), zero where masked
    returns = torch.zeros_like(rewards)  # (B, T)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype, device=rewards.device)  # (B,)
    for t in reversed(range(rewards.shape[1])):
        running = rewards[:, t] + gamma * running  # padding after the response adds 0
        returns[:, t] = running
    returns = returns * m  # a masked prompt before the response keeps no return
    total, count = all_reduce_sum(torch.stack([returns.sum(), m.sum()]))
    if count < 1:
        raise ValueError("reinforce_pp_advantages: the batch has no response token to whiten over")
    mean = total / count
    var = all_reduce_sum(((returns - mean).square() * m).sum()) / count  # biased, as OpenRLHF
    advantages = (returns - mean) * var.clamp(min=1e-8).rsqrt() * m
    return advantages, returns


# --------------------------------------------------------------------------- dynamic sampling


@dataclass(frozen=True)
class GroupFilter:
    """Which groups carry a learning signal (DAPO's dynamic sampling, Yu et al. 2025)."""

    keep: Tensor
    """``# (P,)`` bool: the group's samples do not all score the same."""
    rows: Tensor
    """``# (B,)`` bool: ``keep`` repeated over each group's ``n`` consecutive rows."""
    dropped_share: float
    """Share of the groups dropped (0 to 1): the number to log."""


def groups_with_signal(scores: Tensor, group_size: int | None = None) -> GroupFilter:
    """Keep a group unless all its samples score exactly the same (then every group estimator gives 0).

    "The same" is exact equality (``max == min``). open-instruct's ``filter_zero_std_samples`` tests
    ``np.std(scores) == 0`` and veRL's DAPO filter ``np.std(...) > 0``; a std can come out at 1e-17
    for equal scores (three times 0.1), which would keep a group that has no signal.
    """
    groups = as_groups(scores, group_size)  # (P, n)
    keep = groups.amax(dim=1) > groups.amin(dim=1)  # (P,)
    rows = keep.repeat_interleave(groups.shape[1])  # (B,)
    return GroupFilter(keep=keep, rows=rows, dropped_share=float((~keep).sum()) / keep.numel())


# --------------------------------------------------------------------------- one call for the training loop


@dataclass(frozen=True)
class Advantages:
    """What step 4 of the training loop hands to the update; ``# (B, T)`` each, zero off the response."""

    advantages: Tensor
    """Per-token advantages of the policy loss."""
    returns: Tensor
    """gae: the value model's targets; reinforce_pp: the returns to go; group estimators: the raw (unwhitened)
    advantages. ``returns - values`` is the raw advantage in every case (``values`` 0 without a critic)."""
    rewards: Tensor
    """The per-token reward: ``-kl_coef * KL`` per token (when the KL is in the reward) plus the score on the last."""


def estimate_advantages(
    estimator: AdvantageEstimator,
    scores: Tensor,
    kl: Tensor,
    kl_coef: float,
    mask: Tensor,
    *,
    values: Tensor | None = None,
    group_size: int = 1,
    gamma: float = 1.0,
    gae_lambda: float = 0.95,
    whiten: bool = True,
    all_reduce_sum: Callable[[Tensor], Tensor] = _local_sum,
) -> Advantages:
    """The advantages of ``estimator`` for a batch: sequence ``scores`` ``# (B,)``, per-token ``kl`` and ``mask``
    ``# (B, T)``; ``kl_coef`` 0 keeps the KL out of the reward (`KLMode.LOSS`, or no reference).

    - ``gae``: Ziegler et al.'s per-token reward, GAE with ``values`` ``# (B, T)``, whitened over the batch if ``whiten``;
    - ``reinforce_pp``: `reinforce_pp_advantages` (always whitened);
    - ``grpo``, ``dr_grpo``, ``rloo``: the group estimator of ``score - kl_coef * sum_t KL_t`` (veRL's outcome
      estimators take the token-level reward's sum the same way), spread over each response's tokens.

    ``all_reduce_sum`` sums over processes for the whole-batch statistics (gae's whitening, reinforce_pp); groups
    never span processes, so the group estimators need none.
    """
    estimator = AdvantageEstimator(estimator)
    m = mask.to(kl.dtype)  # (B, T)
    rewards = per_token_rewards(scores, kl, kl_coef, m)  # (B, T)
    if estimator is AdvantageEstimator.GAE:
        if values is None:
            raise ValueError("estimator gae needs the value model's values")
        advantages, returns = gae(rewards, values, m, gamma, gae_lambda)  # (B, T) each
        if whiten:
            advantages = masked_whiten(advantages, m, all_reduce_sum=all_reduce_sum)
        return Advantages(advantages, returns, rewards)
    if estimator is AdvantageEstimator.REINFORCE_PP:
        advantages, returns = reinforce_pp_advantages(scores, kl, kl_coef, m, gamma, all_reduce_sum)
        return Advantages(advantages, returns, rewards)
    sequence = scores.to(kl.dtype) - kl_coef * (kl * m).sum(dim=1)  # (B,)
    advantages = to_token_advantages(group_advantages(sequence, estimator, group_size), m)  # (B, T)
    return Advantages(advantages, advantages, rewards)
