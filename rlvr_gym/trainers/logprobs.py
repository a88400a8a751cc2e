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

__all__ = [
    "RolloutBatch",
    "SequenceBatch",
    "collate_completions",
    "forward_logprobs",
    "forward_logprobs_shared_prompts",
    "gather_logprobs",
    "prompt_groups",
    "take_rows",
]

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


def prompt_groups(batch: SequenceBatch) -> tuple[Tensor, Tensor, list[int]]:
    """Rows of ``batch`` that share their prompt: ``(first, inverse, prompt_lengths)``.

    ``prompt_lengths[i]`` is row ``i``'s prompt length (the columns before its first response token);
    ``first`` ``# (G,)`` holds one row per distinct prompt, in order of first appearance, and
    ``inverse`` ``# (B,)`` maps each row to its prompt's position in ``first``.
    """
    lengths = [int(i) for i in batch.response_mask.argmax(dim=1).tolist()]  # (B,) first response column
    ids = batch.input_ids.tolist()
    seen: dict[tuple[int, ...], int] = {}
    first, inverse = [], []
    for row, length in enumerate(lengths):
        key = tuple(ids[row][:length])
        if key not in seen:
            seen[key] = len(first)
            first.append(row)
        inverse.append(seen[key])
    return torch.tensor(first), torch.tensor(inverse), lengths


def forward_logprobs_shared_prompts(model: torch.nn.Module, batch: SequenceBatch, temperature: float = 1.0) -> Tensor:
    """`forward_logprobs`, with each distinct prompt run once: what a group of samples per prompt needs.

    1. The distinct prompts, less their last token, left-padded, go through the model once (``# (G, P-1)``),
       keeping their KV cache (with gradients when enabled).
    2. The cache is repeated for the rows (``# (B, ...)``); each row's last prompt token and its response,
       right-padded (``# (B, 1 + R)``), run on top of it at the positions they hold in the full sequence.
    3. The response logits give the response tokens' logprobs, scattered back to their ``# (B, T)`` columns.

    The same quantities as `forward_logprobs` (equal up to float rounding, and the same gradients), with
    ``G`` instead of ``B`` prompt passes and no logits over prompt positions. Falls back to
    `forward_logprobs` when every prompt is distinct, a prompt has one token, or the model checkpoints
    activations (transformers turns the KV cache off then).
    """
    first, inverse, lengths = prompt_groups(batch)
    checkpointing = any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())  # also inside a wrapper
    if len(first) == len(lengths) or min(lengths) < 2 or checkpointing:
        return forward_logprobs(model, batch, temperature)
    device = next(model.parameters()).device
    B, T = batch.input_ids.shape
    response_lengths = [int(n) for n in batch.response_mask.sum(dim=1).tolist()]
    # 1. distinct prompts less their last token, left-padded: (G, P-1)
    heads = [batch.input_ids[row, : lengths[row] - 1] for row in first.tolist()]
    P1 = max(len(h) for h in heads)
    prompt_ids = torch.zeros((len(heads), P1), dtype=torch.long)  # (G, P-1)
    prompt_mask = torch.zeros((len(heads), P1), dtype=torch.long)  # (G, P-1)
    for g, head in enumerate(heads):
        prompt_ids[g, P1 - len(head) :] = head
        prompt_mask[g, P1 - len(head) :] = 1
    prompt_positions = (prompt_mask.cumsum(-1) - 1).clamp(min=0)  # (G, P-1)
    out = model(
        input_ids=prompt_ids.to(device),
        attention_mask=prompt_mask.to(device),
        position_ids=prompt_positions.to(device),
        use_cache=True,
        logits_to_keep=1,
    )
    cache = out.past_key_values
    # 2. the cache per row; each row's last prompt token and response on top: (B, 1 + R)
    cache.batch_select_indices(inverse.to(device))
    R = max(response_lengths)
    tail_ids = torch.zeros((B, 1 + R), dtype=torch.long)  # (B, 1 + R)
    tail_mask = torch.zeros((B, 1 + R), dtype=torch.long)  # (B, 1 + R)
    for row, (p, n) in enumerate(zip(lengths, response_lengths)):
        tail_ids[row, : 1 + n] = batch.input_ids[row, p - 1 : p + n]
        tail_mask[row, : 1 + n] = 1
    positions = torch.tensor(lengths)[:, None] - 1 + torch.arange(1 + R)[None, :]  # (B, 1 + R)
    logits = model(
        input_ids=tail_ids.to(device),
        attention_mask=torch.cat([prompt_mask[inverse], tail_mask], dim=1).to(device),
        position_ids=positions.to(device),
        past_key_values=cache,
        use_cache=True,
    ).logits  # (B, 1 + R, V)
    # 3. logprob of response token j sits in column p + j of the full sequence
    logprobs = gather_logprobs(logits, tail_ids.to(device), temperature)[:, 1:] * tail_mask[:, 1:].to(device)  # (B, R)
    columns = (torch.tensor(lengths)[:, None] + torch.arange(R)[None, :]).to(device)  # (B, R), distinct per row
    full = torch.zeros((B, max(lengths) + R), dtype=logprobs.dtype, device=device).scatter(1, columns, logprobs)
    return full[:, :T]
