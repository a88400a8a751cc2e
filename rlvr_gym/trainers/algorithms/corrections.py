"""Engine/trainer mismatch: truncated importance sampling (TIS) weights, and the mismatch measured.

The rollout engine (vLLM, or HF generation in another dtype or batch shape) samples tokens from
``pi_engine``; the trainer computes ``pi_trainer`` of the same tokens with the same weights, and
the two differ by kernels and numerics. The policy gradient wants samples of ``pi_trainer``, so
each token's loss is reweighted by ``pi_trainer / pi_engine``, truncated at ``C`` to bound the
variance (Yao et al. 2025, "Your efficient RL framework secretly brings you off-policy RL
training"). Both sides must be log-probabilities **at the sampling temperature** (logits divided
by it), or the gap measures the temperature instead of the mismatch.

Peers read (their code, not copied): veRL ``verl/trainer/ppo/rollout_corr_helper.py``
(``compute_rollout_correction_weights``: ``rollout_is`` token / sequence, the sequence weight the
exponential of the summed log ratios, ``rollout_is_threshold`` 2.0), TRL 1.16
``trl/trainer/grpo_trainer.py`` (``vllm_importance_sampling_mode`` ``token_truncate`` /
``sequence_truncate``, ``vllm_importance_sampling_clip_max`` 3.0; the logged ``sampling/
sampling_logp_difference/mean|max``), open-instruct ``open_instruct/grpo_utils.py``
(``compute_rho_correction``, ``rho_clamp_upper_bound`` 2.0; ``compute_vllm_local_debug_metrics``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..choices import KLEstimator, TISLevel
from .ppo import kl_penalty, masked_mean

__all__ = ["LogprobMismatch", "TISStats", "logprob_mismatch", "truncated_is_weights"]

DEFAULT_TIS_CAP = 2.0
"""``C``: veRL's ``rollout_is_threshold`` and open-instruct's ``rho_clamp_upper_bound`` (TRL: 3.0)."""


def _check_finite(trainer_logprobs: Tensor, engine_logprobs: Tensor, mask: Tensor) -> Tensor:
    if trainer_logprobs.shape != engine_logprobs.shape or trainer_logprobs.shape != mask.shape:
        raise ValueError(
            f"trainer_logprobs {tuple(trainer_logprobs.shape)}, engine_logprobs {tuple(engine_logprobs.shape)} "
            f"and mask {tuple(mask.shape)} must have the same (B, T) shape"
        )
    on = mask.bool()  # (B, T)
    for name, logprobs in (("trainer_logprobs", trainer_logprobs), ("engine_logprobs", engine_logprobs)):
        bad = on & ~torch.isfinite(logprobs)
        if bad.any():
            row, col = (int(i) for i in bad.nonzero()[0])
            raise ValueError(f"{name} is {float(logprobs[row, col])} at response token (row {row}, column {col})")
    return on


@dataclass(frozen=True)
class TISStats:
    """Diagnostics of `truncated_is_weights` (detached scalars)."""

    weight_mean: Tensor
    """Mean weight over response tokens, after truncation."""
    clipfrac: Tensor
    """Share of response tokens whose weight was truncated at ``C``."""


def truncated_is_weights(
    trainer_logprobs: Tensor,
    engine_logprobs: Tensor,
    mask: Tensor,
    level: TISLevel = TISLevel.TOKEN,
    cap: float = DEFAULT_TIS_CAP,
) -> tuple[Tensor, TISStats]:
    """Truncated importance weights ``# (B, T)`` to multiply into the per-token policy loss.

    - ``token``: ``min(exp(trainer - engine), C)`` per token;
    - ``sequence``: ``min(exp(sum over the response of (trainer - engine)), C)``, the same for
      every token of the response (the weight of the whole sequence);
    - ``none``: 1 on every response token.

    ``trainer_logprobs``: the trainer's logprobs of the sampled tokens under the weights that
    generated them (the "old" logprobs, not the ones carrying the gradient); ``engine_logprobs``:
    the engine's for the same tokens; both ``# (B, T)``. The weights are detached and 0 where masked.
    A NaN or infinite logprob on a response token is an error naming where.
    """
    level = TISLevel(level)
    if not cap > 1.0:
        raise ValueError(f"cap (C) must be > 1, got {cap}")
    on = _check_finite(trainer_logprobs, engine_logprobs, mask)  # (B, T)
    m = on.to(trainer_logprobs.dtype)  # (B, T)
    with torch.no_grad():
        log_ratio = torch.where(on, trainer_logprobs - engine_logprobs, torch.zeros_like(trainer_logprobs))  # (B, T)
        if level is TISLevel.NONE:
            raw = torch.ones_like(log_ratio)  # (B, T)
        elif level is TISLevel.TOKEN:
            raw = torch.exp(log_ratio)  # (B, T)
        else:
            raw = torch.exp(log_ratio.sum(dim=1, keepdim=True)).expand_as(log_ratio)  # (B, T); exp may be inf: capped
        weights = raw.clamp(max=cap) * m  # (B, T)
        stats = TISStats(weight_mean=masked_mean(weights, m), clipfrac=masked_mean((raw > cap).to(m.dtype), m))
    return weights, stats


@dataclass(frozen=True)
class LogprobMismatch:
    """How far the engine's logprobs are from the trainer's (detached scalars, over response tokens)."""

    gap_mean: Tensor
    """Mean of ``|trainer - engine|`` (TRL's ``sampling_logp_difference/mean``)."""
    gap_max: Tensor
    """Largest ``|trainer - engine|`` (today's ``rollout/logprob_gap_max``)."""
    kl: Tensor
    """k3 estimate of ``KL(pi_engine || pi_trainer)`` per token (the tokens are the engine's samples;
    veRL's off-policy metric ``k3_kl``)."""


def logprob_mismatch(trainer_logprobs: Tensor, engine_logprobs: Tensor, mask: Tensor) -> LogprobMismatch:
    """The mismatch of one batch, to log every step. Same inputs and errors as `truncated_is_weights`."""
    on = _check_finite(trainer_logprobs, engine_logprobs, mask)  # (B, T)
    m = on.to(trainer_logprobs.dtype)  # (B, T)
    with torch.no_grad():
        gap = torch.where(on, (trainer_logprobs - engine_logprobs).abs(), torch.zeros_like(trainer_logprobs))  # (B, T)
        # k3 with log_ratio = engine - trainer: samples of pi_engine, KL(pi_engine || pi_trainer)
        kl = torch.where(on, kl_penalty(engine_logprobs, trainer_logprobs, KLEstimator.K3), torch.zeros_like(gap))  # (B, T)
        return LogprobMismatch(gap_mean=masked_mean(gap, m), gap_max=gap.max(), kl=masked_mean(kl, m))
