"""From completions to ``(B, T)`` tensors (`SequenceBatch`, the PPO step's `RolloutBatch`), and the trainer's log-probabilities.

The rollout engine reports, per sampled token, ``log pi(token | prefix)`` under
the distribution it drew from (the sampling temperature applied). The trainer
recomputes the same quantity with its own forward pass (`forward_logprobs` at
that temperature): before the step's first update the two agree up to numerics,
which is what the engine tests check and ``rollout/logprob_gap_*`` logs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ..rollout import Completion

__all__ = ["RolloutBatch", "SequenceBatch", "collate_completions", "forward_logprobs", "gather_logprobs", "take_rows"]

B = TypeVar("B")


@dataclass(frozen=True)
class SequenceBatch:
    """Prompt + response token ids of a batch of completions, right-padded."""

    input_ids: Tensor
    """``# (B, T)`` int64: prompt tokens, then response tokens, then padding."""
    attention_mask: Tensor
    """``# (B, T)`` int64: 1 on prompt and response tokens, 0 on padding."""
    response_mask: Tensor
    """``# (B, T)`` float32: 1 on response tokens only."""
    engine_logprobs: Tensor
    """``# (B, T)`` float32: the rollout engine's logprob of each response token (sampling temperature), 0 elsewhere."""

    def to(self, device: torch.device | str) -> SequenceBatch:
        """The same batch with every tensor on ``device``."""
        return SequenceBatch(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))


@dataclass(frozen=True)
class RolloutBatch:
    """One PPO step's training batch; every tensor ``# (B, T)``, right-padded, on the trainer's device."""

    input_ids: Tensor
    """Prompt, response, padding (int64)."""
    attention_mask: Tensor
    """1 on prompt and response tokens (int64)."""
    response_mask: Tensor
    """1.0 on response tokens: the tokens that are scored."""
    loss_mask: Tensor
    """1.0 on the response tokens that are trained on (``response_mask`` less masked truncated responses)."""
    old_logprobs: Tensor
    """The policy's logprobs of the sampled tokens at rollout time (before this step's updates), at the sampling
    temperature."""
    ref_logprobs: Tensor
    """The reference policy's logprobs of the same tokens."""
    values: Tensor
    """The value model's estimates at rollout time (`ValueModel` alignment); 0 without a value model."""
    rewards: Tensor
    """``-kl_coef * KL`` per token (KL in the reward), plus the sequence score on the last response token."""
    advantages: Tensor
    """The estimator's per-token advantages (`rlvr_gym.trainers.algorithms.estimators.estimate_advantages`)."""
    returns: Tensor
    """gae: the value model's regression targets; otherwise the raw advantages (see `Advantages.returns`)."""
    engine_logprobs: Tensor
    """The rollout engine's own logprobs of the sampled tokens (at the sampling temperature): the mismatch."""

    def rows(self, index: Tensor) -> RolloutBatch:
        """The rows ``index``, with trailing all-padding columns dropped."""
        return take_rows(self, index)

    def sequences(self) -> SequenceBatch:
        """The `SequenceBatch` view that `forward_logprobs` takes."""
        return SequenceBatch(self.input_ids, self.attention_mask, self.response_mask, self.engine_logprobs)


def take_rows(batch: B, index: Tensor) -> B:
    """Rows ``index`` of a dataclass of right-padded ``# (B, T)`` tensors that has an ``attention_mask``
    (`SequenceBatch`, the trainer's ``RolloutBatch``), with the trailing all-padding columns dropped."""
    width = int(batch.attention_mask[index].sum(dim=1).max())  # type: ignore[attr-defined]
    return type(batch)(*(getattr(batch, f.name)[index, :width] for f in dataclasses.fields(batch)))  # type: ignore[arg-type]


def collate_completions(completions: Sequence[Completion], pad_token_id: int) -> SequenceBatch:
    """Stack completions into a right-padded `SequenceBatch` (tensors on the CPU)."""
    if not completions:
        raise ValueError("collate_completions: no completions")
    lengths = [len(c.prompt_token_ids) + len(c.token_ids) for c in completions]
    B, T = len(completions), max(lengths)
    input_ids = torch.full((B, T), pad_token_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((B, T), dtype=torch.long)  # (B, T)
    response_mask = torch.zeros((B, T), dtype=torch.float32)  # (B, T)
    engine_logprobs = torch.zeros((B, T), dtype=torch.float32)  # (B, T)
    for i, c in enumerate(completions):
        p, n = len(c.prompt_token_ids), len(c.token_ids)
        input_ids[i, : p + n] = torch.tensor(list(c.prompt_token_ids) + list(c.token_ids), dtype=torch.long)
        attention_mask[i, : p + n] = 1
        response_mask[i, p : p + n] = 1.0
        engine_logprobs[i, p : p + n] = torch.tensor(c.logprobs, dtype=torch.float32)
    return SequenceBatch(input_ids, attention_mask, response_mask, engine_logprobs)


def gather_logprobs(logits: Tensor, input_ids: Tensor, temperature: float = 1.0) -> Tensor:
    """``log softmax(logits / temperature)`` at each next token, aligned with the token.

    ``logits``: ``# (B, T, V)`` from a causal LM over ``input_ids`` ``# (B, T)``.
    Returns ``# (B, T)`` float32 where column ``t`` holds ``log p(input_ids[:, t] | input_ids[:, :t])``
    and column 0 (no prediction) is 0. Uses ``logsumexp`` rather than a full
    ``log_softmax`` copy of the logits.
    """
    logits = logits[:, :-1].float() / temperature  # (B, T-1, V) predicts tokens 1..T-1
    targets = input_ids[:, 1:]  # (B, T-1)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T-1)
    logprobs = picked - torch.logsumexp(logits, dim=-1)  # (B, T-1)
    return torch.nn.functional.pad(logprobs, (1, 0))  # (B, T)


def forward_logprobs(model: torch.nn.Module, batch: SequenceBatch, temperature: float = 1.0) -> Tensor:
    """The model's logprob of every token of ``batch`` (``# (B, T)``, float32), zero off the response.

    Runs one forward pass (with gradients if enabled by the caller) on the
    model's device; position ids are ``0..T-1`` since the batch is right-padded.
    """
    device = next(model.parameters()).device
    input_ids = batch.input_ids.to(device)  # (B, T)
    logits = model(input_ids=input_ids, attention_mask=batch.attention_mask.to(device)).logits  # (B, T, V)
    return gather_logprobs(logits, input_ids, temperature) * batch.response_mask.to(device)  # (B, T)
