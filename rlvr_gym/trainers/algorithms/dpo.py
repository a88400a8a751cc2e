"""DPO losses on sequence log-probabilities: ``sigmoid`` (DPO), ``ipo`` and ``dpo_norm`` (length-normalised DPO).

Inputs are per-pair ``# (B,)`` tensors: the policy's and the reference's log-probability of the chosen
and of the rejected response given the prompt, each the **sum** over the response's tokens, and the
response token counts. With the log-ratios ``c = pi_chosen - ref_chosen`` and ``r = pi_rejected -
ref_rejected`` (divided by the chosen and rejected token counts for ``dpo_norm`` and ``ipo``), and
``h = c - r``:

- ``sigmoid`` (Rafailov et al. 2023): ``-(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)``; ``eps``
  is the label smoothing of conservative DPO (the probability that a label is flipped; 0: plain DPO).
  Gradient in ``pi_chosen``: ``-beta ((1 - eps) sigmoid(-beta h) - eps sigmoid(beta h))``; the opposite
  in ``pi_rejected``.
- ``dpo_norm``: the same on per-token averages (Tülu 3's DPO, open-instruct's default ``dpo_norm``);
  the gradient above divided by the chosen (rejected) token count.
- ``ipo`` (Azar et al. 2023, Eq. 17): ``(h - 1 / (2 beta))^2`` on per-token averages, ``beta`` being the
  paper's tau; gradient ``2 (h - 1 / (2 beta)) / n_chosen`` in ``pi_chosen``, the opposite over
  ``n_rejected`` in ``pi_rejected``. No label smoothing.

The loss is the mean over the ``B`` pairs (``count`` replaces ``B`` when the batch is a micro-batch
of a larger one: summing the parts' losses then gives the whole batch's). The implicit rewards are
``beta * c`` and ``beta * r`` (on the same, possibly normalised, log-ratios the loss uses), so a
pair is *accurate* when ``c > r``, the sign of ``h``.

Peers read (their code, not copied): TRL 1.16 ``trl/trainer/dpo_trainer.py`` (``DPOTrainer._compute_loss``:
``loss_type`` ``"sigmoid"``, ``"ipo"`` with ``chosen_scores / chosen_mask.sum()`` and
``(ipo_delta - 1 / (2 * beta)) ** 2``, ``"sigmoid_norm"``; the metrics ``rewards/chosen``,
``rewards/rejected``, ``rewards/accuracies`` as ``chosen_rewards > rejected_rewards``, ``rewards/margins``);
open-instruct ``open_instruct/dpo_utils.py`` (``DPOLossType.dpo_norm`` with ``average_log_prob=True`` for
policy and reference alike, ``_get_batch_logps``, and ``dpo_loss`` whose label smoothing is
``-logsigmoid(beta h) (1 - eps) - logsigmoid(-beta h) eps``; TRL 1.16's ``"sigmoid"`` has no
smoothing, its ``"robust"`` loss a different one).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from ..dpo_config import DPOLoss

__all__ = ["DPOStats", "dpo_loss", "sequence_logps"]


def sequence_logps(token_logprobs: Tensor, response_mask: Tensor) -> tuple[Tensor, Tensor]:
    """``(sums, counts)``: each row's summed log-probability over its response tokens ``# (B,)`` and their number ``# (B,)``.

    ``token_logprobs`` and ``response_mask`` are ``# (B, T)``, the logprob of token ``t`` in column ``t``
    (`rlvr_gym.trainers.logprobs.forward_logprobs`); padding and prompt columns are masked out.
    """
    mask = response_mask.to(token_logprobs.dtype)
    return (token_logprobs * mask).sum(dim=1), mask.sum(dim=1)


@dataclass(frozen=True)
class DPOStats:
    """Per-pair diagnostics of one `dpo_loss` call, detached ``# (B,)`` tensors."""

    chosen_rewards: Tensor
    """``beta *`` the chosen log-ratio the loss used (per-token average for ``dpo_norm`` and ``ipo``)."""
    rejected_rewards: Tensor
    """``beta *`` the rejected log-ratio."""
    losses: Tensor
    """Each pair's loss."""

    @property
    def margins(self) -> Tensor:
        """``chosen_rewards - rejected_rewards``."""
        return self.chosen_rewards - self.rejected_rewards

    @property
    def accurate(self) -> Tensor:
        """1.0 where the chosen reward is strictly higher (TRL's ``rewards/accuracies``)."""
        return (self.chosen_rewards > self.rejected_rewards).to(self.chosen_rewards.dtype)


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
    kind: DPOLoss | str = DPOLoss.SIGMOID,
    label_smoothing: float = 0.0,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
    count: float | None = None,
) -> tuple[Tensor, DPOStats]:
    """The mean DPO loss of ``kind`` over the pairs, and `DPOStats` (see the module docstring).

    Every logps argument is ``# (B,)``, a sum over the response's tokens; ``chosen_lengths`` and
    ``rejected_lengths`` ``# (B,)`` are the response token counts, needed by ``dpo_norm`` and ``ipo``.
    """
    kind = DPOLoss(kind)
    shapes = {tuple(x.shape) for x in (policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"dpo_loss: the four logps must be (B,) tensors of one shape, got {sorted(shapes)}")
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must lie in [0, 0.5), got {label_smoothing}")
    if kind is DPOLoss.IPO and label_smoothing:
        raise ValueError(f"label_smoothing applies to sigmoid and dpo_norm only, got {label_smoothing} with ipo")
    if count is not None and not count > 0:
        raise ValueError(f"count must be > 0 (the whole batch's pairs), got {count}")
    chosen = policy_chosen_logps - ref_chosen_logps  # (B,)
    rejected = policy_rejected_logps - ref_rejected_logps  # (B,)
    if kind is not DPOLoss.SIGMOID:
        if chosen_lengths is None or rejected_lengths is None:
            raise ValueError(f"{kind.value} divides by the response lengths: pass chosen_lengths and rejected_lengths")
        if bool((chosen_lengths <= 0).any()) or bool((rejected_lengths <= 0).any()):
            raise ValueError(f"{kind.value}: every response needs at least one token")
        chosen = chosen / chosen_lengths.to(chosen.dtype)
        rejected = rejected / rejected_lengths.to(rejected.dtype)
    h = chosen - rejected  # (B,)
    if kind is DPOLoss.IPO:
        losses = (h - 1.0 / (2.0 * beta)).square()  # (B,)
    else:
        losses = -(1.0 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)  # (B,)
    loss = losses.sum() / (losses.shape[0] if count is None else count)
    stats = DPOStats(chosen_rewards=(beta * chosen).detach(), rejected_rewards=(beta * rejected).detach(), losses=losses.detach())
    return loss, stats
