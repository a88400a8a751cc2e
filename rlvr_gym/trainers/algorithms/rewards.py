"""Sequence-reward shaping before the advantages: several verifiers mixed by weight, DAPO's soft
overlong penalty, and masking truncated responses out of the loss.

Peers read (their code, not copied): TRL 1.16 ``trl/trainer/grpo_trainer.py`` (``reward_weights``:
``(rewards_per_func * reward_weights).nansum(dim=1)``, each function logged apart as
``rewards/<name>/mean``; ``mask_truncated_completions``); open-instruct
``open_instruct/data_loader.py`` (``maybe_mask_truncated_completions``); veRL
``verl/workers/reward_manager/dapo.py`` (``overlong_buffer``: ``min(-exceed_len / buffer_len *
penalty_factor, 0)``); OpenRLHF ``openrlhf/trainer/ppo_utils/length_penalty.py``
(``apply_overlong_penalty``, which also caps the excess at the buffer); TRL 1.16
``trl/rewards/other_rewards.py`` (``get_soft_overlong_punishment``, a reward function). The penalty is DAPO's
"soft overlong punishment" (Yu et al. 2025, arXiv:2503.14476, eq. 13).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["MixedReward", "mask_truncated", "mix_rewards", "soft_overlong_penalty"]


@dataclass(frozen=True)
class MixedReward:
    """Several verifiers' scores of the same responses and their weighted sum."""

    total: Tensor
    """``# (B,)``: ``sum_k weight_k * score_k``, the sequence reward."""
    parts: dict[str, Tensor]
    """Each verifier's own (unweighted) scores ``# (B,)``, by name, for logging apart."""
    weights: dict[str, float]
    """The weight of each verifier."""

    def means(self) -> dict[str, float]:
        """Each verifier's mean score over the batch (unweighted), by name."""
        return {name: float(scores.mean()) for name, scores in self.parts.items()}


def mix_rewards(scores: Mapping[str, Sequence[float] | Tensor], weights: Mapping[str, float]) -> MixedReward:
    """The weighted sum of several verifiers' scores (e.g. correctness + format), each kept apart.

    ``scores`` maps a verifier's name to its ``B`` scores; ``weights`` must name exactly the same
    verifiers. Raises ``ValueError`` naming the verifier on a missing or extra name, a length that
    differs from the others, or a NaN or infinite score or weight. (TRL's ``nansum`` skips NaN: a
    reward function that does not apply. Here a verifier that does not apply scores 0 itself.)
    """
    if not scores:
        raise ValueError("mix_rewards needs at least one verifier's scores")
    missing, extra = sorted(set(scores) - set(weights)), sorted(set(weights) - set(scores))
    if missing or extra:
        raise ValueError(f"scores and weights must name the same verifiers: no weight for {missing}, no scores for {extra}")
    parts: dict[str, Tensor] = {}
    for name, values in scores.items():
        try:
            part = values if isinstance(values, Tensor) else torch.tensor(values, dtype=torch.get_default_dtype())
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"scores of {name!r} are not numbers: {exc}") from None
        if part.dim() != 1 or not part.is_floating_point():
            raise ValueError(f"scores of {name!r} must be a flat sequence of floats, got {part.dtype} of shape {tuple(part.shape)}")
        if not torch.isfinite(part).all():
            raise ValueError(f"scores of {name!r} must be finite, got {part.tolist()}")
        if not math.isfinite(weights[name]):
            raise ValueError(f"the weight of {name!r} must be finite, got {weights[name]}")
        parts[name] = part
    lengths = {name: part.numel() for name, part in parts.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every verifier must score the same responses, got lengths {lengths}")
    total = sum(float(weights[name]) * part for name, part in parts.items())
    return MixedReward(total=total, parts=parts, weights={name: float(weights[name]) for name in parts})


def soft_overlong_penalty(lengths: Tensor, max_length: int, buffer: int, factor: float = 1.0) -> Tensor:
    """DAPO's soft overlong punishment, to add to the sequence rewards ``# (B,)``.

    A response of ``L`` tokens gets ``0`` while ``L <= max_length - buffer``, then
    ``-factor * (L - (max_length - buffer)) / buffer``: linear, down to ``-factor`` at ``max_length``.
    ``lengths`` counts response tokens ``# (B,)`` (``mask.sum(dim=1)``). A length above ``max_length``
    is an error: it means ``max_length`` is not the generation limit.
    """
    if not 1 <= buffer <= max_length:
        raise ValueError(f"buffer must lie in [1, max_length = {max_length}], got {buffer}")
    if factor < 0:
        raise ValueError(f"factor must be >= 0, got {factor}")
    if (lengths < 0).any() or (lengths > max_length).any():
        raise ValueError(f"lengths must lie in [0, max_length = {max_length}], got {lengths.tolist()}")
    excess = (lengths - (max_length - buffer)).clamp(min=0)  # (B,) tokens into the buffer
    return -factor * excess.to(torch.get_default_dtype()) / buffer


def mask_truncated(mask: Tensor, finished: Sequence[bool] | Tensor) -> Tensor:
    """``mask`` ``# (B, T)`` with the rows of truncated responses (no EOS: ``finished`` false) zeroed.

    Those responses then weigh nothing in the loss; how the denominators count them is
    `losses.aggregate_loss`'s to say.
    """
    done = torch.as_tensor(finished, dtype=torch.bool, device=mask.device)  # (B,)
    if done.shape != (mask.shape[0],):
        raise ValueError(f"finished must hold one flag per row ({mask.shape[0]}), got shape {tuple(done.shape)}")
    return mask * done[:, None].to(mask.dtype)
