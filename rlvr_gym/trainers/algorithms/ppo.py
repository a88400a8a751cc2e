"""PPO math for RLVR: small pure functions on ``(B, T)`` tensors.

Conventions, shared by every function here:

- ``B`` is the batch (one row per completion) and ``T`` the token axis.
- ``mask`` is 1.0 on the tokens that count (the response tokens) and 0.0 on the
  rest (prompt, padding). Masks are **right-padded**: in each row the ones form
  one contiguous run and zeros follow it (the prompt may precede it). GAE and
  `per_token_rewards` rely on this.
- ``logprobs[:, t]`` is ``log pi(token_t | tokens_<t)``, aligned with the token,
  not with the logit that predicted it.
- Every loss is a **token mean** over all unmasked tokens of the batch.

Vocabulary follows Ziegler et al. 2019 ("Fine-Tuning Language Models from
Human Preferences"), Schulman et al. 2017 (PPO) and 2016 (GAE), and Schulman's
note "Approximating KL divergence" (the k1/k2/k3 estimators).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..choices import KLControl, KLEstimator, MissingEOSPenalty
from ..config import KLControlConfig

__all__ = [
    "PolicyLossStats",
    "ValueLossStats",
    "adaptive_kl_coef",
    "ema_update",
    "gae",
    "kl_penalty",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "next_kl_coef",
    "per_token_rewards",
    "ppo_policy_loss",
    "sequence_scores",
    "value_loss",
]


# --------------------------------------------------------------------------- masked statistics


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over the positions where ``mask`` is 1.

    ``dim=None`` averages over every unmasked element (a scalar); an ``int``
    averages along that axis only. An all-zero mask gives 0, not NaN.
    """
    mask = mask.to(x.dtype)
    total = (x * mask).sum() if dim is None else (x * mask).sum(dim)
    count = mask.sum() if dim is None else mask.sum(dim)
    return total / count.clamp(min=1.0)


def masked_var(x: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of the unmasked elements of ``x`` (a scalar).

    ``unbiased=True`` applies Bessel's correction ``n / (n - 1)``, as TRL's
    ``masked_var`` does. Needs at least two unmasked elements when unbiased.
    """
    mask = mask.to(x.dtype)
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        if n < 2:
            raise ValueError("masked_var: an unbiased variance needs at least two unmasked elements")
        var = var * n / (n - 1)
    return var


def _local_sum(x: Tensor) -> Tensor:
    return x


def masked_whiten(
    x: Tensor,
    mask: Tensor,
    shift_mean: bool = True,
    eps: float = 1e-8,
    all_reduce_sum: Callable[[Tensor], Tensor] = _local_sum,
) -> Tensor:
    """Whiten the unmasked elements of ``x``: ``(x - mean) / sqrt(var + eps)``.

    Statistics come from the unmasked elements of the whole batch (unbiased
    variance). ``shift_mean=False`` scales without centering, keeping the mean
    (used for rewards). Masked positions come out as 0.

    ``all_reduce_sum``: when the batch is split over processes, a function that sums a tensor
    over all of them (two calls: the sums and counts, then the squared deviations), so every
    process whitens with the statistics of the whole batch. The default sums over ``x`` alone.
    """
    m = mask.to(x.dtype)
    total, n = all_reduce_sum(torch.stack([(x * m).sum(), m.sum()]))
    if n < 2:
        raise ValueError("masked_whiten: an unbiased variance needs at least two unmasked elements")
    mean = total / n
    var = all_reduce_sum(((x - mean) ** 2 * m).sum()) / n * n / (n - 1)  # Bessel, as `masked_var` rounds it
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * m


# --------------------------------------------------------------------------- KL penalty and rewards


def kl_penalty(logprobs: Tensor, ref_logprobs: Tensor, kind: KLEstimator = KLEstimator.K1) -> Tensor:
    """Per-token KL estimate between the policy and the reference, ``# (B, T)``.

    ``logprobs`` and ``ref_logprobs`` are the log-probabilities of the sampled
    tokens under the policy and the reference. Mask the result yourself.
    """
    log_ratio = logprobs - ref_logprobs  # (B, T)
    kind = KLEstimator(kind)
    if kind is KLEstimator.K1:
        return log_ratio
    if kind is KLEstimator.K2:
        return 0.5 * log_ratio.square()
    # k3: (r - 1) - log r with log r = -log_ratio; expm1 keeps it exact near 0.
    return torch.expm1(-log_ratio) + log_ratio


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


def per_token_rewards(seq_reward: Tensor, kl: Tensor, kl_coef: float, mask: Tensor) -> Tensor:
    """Ziegler et al.'s shaped reward: ``-kl_coef * KL`` on every response token,
    plus the sequence reward (the verifier's score) on the last response token.

    ``seq_reward`` is ``# (B,)``; ``kl`` and ``mask`` are ``# (B, T)``. Returns ``# (B, T)``,
    zero on masked positions. A row whose mask is all zero gets no reward at all.
    """
    mask = mask.to(kl.dtype)
    rewards = -kl_coef * kl * mask  # (B, T)
    positions = torch.arange(mask.shape[1], device=mask.device)  # (T,)
    last = (positions * mask).argmax(dim=1)  # (B,) index of the last 1 in each row
    has_tokens = mask.sum(dim=1) > 0  # (B,)
    bonus = torch.where(has_tokens, seq_reward.to(kl.dtype), torch.zeros_like(seq_reward, dtype=kl.dtype))
    return rewards.scatter_add(1, last[:, None], bonus[:, None])


# --------------------------------------------------------------------------- advantages


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, gae_lambda: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over response tokens.

    ``delta_t = r_t + gamma * V_{t+1} - V_t`` and ``A_t = delta_t + gamma * lambda * A_{t+1}``,
    where ``V`` and ``A`` are 0 past the last unmasked token of the row (the
    episode ends there: no bootstrapping beyond the EOS or the length cap).
    Masked positions before the response (the prompt) are skipped the same
    way, so rows may start their response at different columns.

    ``rewards``, ``values``, ``mask``: ``# (B, T)``. Returns ``(advantages, returns)``,
    both ``# (B, T)`` and zero where masked; ``returns = advantages + values``
    is the critic's regression target.
    """
    mask = mask.to(values.dtype)
    values = values * mask  # (B, T)
    rewards = rewards * mask  # (B, T)
    B, T = values.shape
    advantages = torch.zeros_like(values)  # (B, T)
    next_value = torch.zeros(B, dtype=values.dtype, device=values.device)  # (B,)
    next_advantage = torch.zeros_like(next_value)  # (B,)
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,)
        advantage = delta + gamma * gae_lambda * next_advantage  # (B,)
        m = mask[:, t]
        advantages[:, t] = advantage * m
        # A masked column passes nothing backwards: the next unmasked token to its left
        # sees V = A = 0 after it, which is exactly the end of its episode.
        next_value = values[:, t] * m
        next_advantage = advantage * m
    returns = (advantages + values) * mask
    return advantages, returns


# --------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class PolicyLossStats:
    """Diagnostics of one `ppo_policy_loss` call (detached scalars)."""

    clipfrac: Tensor
    """Share of unmasked tokens where the clipped term was the one used (the gradient is cut)."""
    approx_kl: Tensor
    """``mean(0.5 * (logprobs - old_logprobs) ** 2)``: the k2 estimate of ``KL(old || new)``."""
    ratio_mean: Tensor
    """Mean of ``pi / pi_old`` over unmasked tokens; 1 on the first PPO epoch."""


def ppo_policy_loss(
    logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor, mask: Tensor, clip_coef: float
) -> tuple[Tensor, PolicyLossStats]:
    """PPO's clipped surrogate loss (to minimise), token mean over the batch.

    ``ratio = exp(logprobs - old_logprobs)``; per token the loss is
    ``max(-A * ratio, -A * clip(ratio, 1 - clip_coef, 1 + clip_coef))``.
    All inputs ``# (B, T)``; ``logprobs`` carries the gradient.
    """
    log_ratio = logprobs - old_logprobs  # (B, T)
    ratio = torch.exp(log_ratio)  # (B, T)
    unclipped = -advantages * ratio  # (B, T)
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)  # (B, T)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        stats = PolicyLossStats(
            clipfrac=masked_mean((clipped > unclipped).to(logprobs.dtype), mask),
            approx_kl=masked_mean(0.5 * log_ratio.square(), mask),
            ratio_mean=masked_mean(ratio, mask),
        )
    return loss, stats


@dataclass(frozen=True)
class ValueLossStats:
    """Diagnostics of one `value_loss` call (detached scalars)."""

    vf_clipfrac: Tensor
    """Share of unmasked tokens where the clipped value error was the larger one."""


def value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, clip_coef_value: float
) -> tuple[Tensor, ValueLossStats]:
    """Clipped value loss: ``0.5 * max((V - R)^2, (V_clip - R)^2)``, token mean.

    ``V_clip = old_values + clip(values - old_values, -clip_coef_value, clip_coef_value)``
    keeps the critic near the values it had at rollout time. All inputs ``# (B, T)``.
    """
    clipped_values = old_values + torch.clamp(values - old_values, -clip_coef_value, clip_coef_value)  # (B, T)
    unclipped_error = (values - returns).square()  # (B, T)
    clipped_error = (clipped_values - returns).square()  # (B, T)
    loss = 0.5 * masked_mean(torch.maximum(unclipped_error, clipped_error), mask)
    with torch.no_grad():
        stats = ValueLossStats(vf_clipfrac=masked_mean((clipped_error > unclipped_error).to(values.dtype), mask))
    return loss, stats


# --------------------------------------------------------------------------- reference model


@torch.no_grad()
def ema_update(ref_params: Iterable[Tensor], policy_params: Iterable[Tensor], decay: float) -> None:
    """In place: ``ref = decay * ref + (1 - decay) * policy``, tensor by tensor.

    Pass ``ref_model.parameters()`` and ``policy_model.parameters()`` (same order,
    same shapes). ``decay=1`` keeps the reference frozen; ``decay=0`` copies the policy.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"ema_update: decay must lie in [0, 1], got {decay}")
    ref_list, policy_list = list(ref_params), list(policy_params)
    if len(ref_list) != len(policy_list):
        raise ValueError(f"ema_update: {len(ref_list)} reference tensors but {len(policy_list)} policy tensors")
    for ref, policy in zip(ref_list, policy_list):
        if ref.shape != policy.shape:
            raise ValueError(f"ema_update: shape {tuple(ref.shape)} does not match {tuple(policy.shape)}")
        # lerp: ref + (1 - decay) * (policy - ref) == decay * ref + (1 - decay) * policy
        ref.lerp_(policy.to(ref.dtype), 1.0 - decay)


# --------------------------------------------------------------------------- KL coefficient control


def adaptive_kl_coef(kl_coef: float, current_kl: float, target: float, horizon: float, n_steps: int) -> float:
    """One step of Ziegler et al.'s proportional controller.

    ``error = clip(current_kl / target - 1, -0.2, 0.2)`` and
    ``kl_coef * (1 + error * n_steps / horizon)``, where ``n_steps`` is the number
    of samples (sequences) seen since the last update.
    """
    error = min(max(current_kl / target - 1.0, -0.2), 0.2)
    return kl_coef * (1.0 + error * n_steps / horizon)


def next_kl_coef(config: KLControlConfig, kl_coef: float, current_kl: float, n_steps: int) -> float:
    """The KL coefficient for the next step under ``config`` (fixed: unchanged)."""
    if config.kind is KLControl.FIXED:
        return kl_coef
    if not math.isfinite(current_kl):
        raise ValueError(f"next_kl_coef: current_kl must be finite, got {current_kl}")
    return adaptive_kl_coef(kl_coef, current_kl, config.target, config.horizon, n_steps)
