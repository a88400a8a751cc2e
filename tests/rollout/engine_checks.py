"""Checks shared by the tests of both rollout engines (HF and vLLM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rlvr_gym.trainers.logprobs import collate_completions, forward_logprobs


def assert_well_formed(engine: Any, prompts: Sequence[Any], completions: Sequence[Any], max_new_tokens: int) -> None:
    """One completion per prompt, in order: the prompt's own token ids, 1 to ``max_new_tokens`` tokens with a
    logprob each, stopped at the first stop token (``finished``) or at the token budget."""
    assert len(completions) == len(prompts)
    for prompt, c in zip(prompts, completions):
        expected_prompt = (
            prompt if isinstance(prompt, list) else engine.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        )
        assert list(c.prompt_token_ids) == expected_prompt
        assert 1 <= len(c.token_ids) <= max_new_tokens
        assert len(c.logprobs) == len(c.token_ids)
        assert all(lp <= 0.0 for lp in c.logprobs)
        assert c.finished == (c.token_ids[-1] in engine.stop_ids)
        assert not any(t in engine.stop_ids for t in c.token_ids[:-1])  # nothing after the first stop token
        assert c.finished or len(c.token_ids) == max_new_tokens


def max_logprob_gap(model: torch.nn.Module, completions: Sequence[Any], pad_token_id: int) -> float:
    """Largest ``|engine logprob - model's recomputed logprob|`` over every response token of ``completions``
    (the trainer's `forward_logprobs` at temperature 1, which is what the engines report)."""
    batch = collate_completions(completions, pad_token_id)
    with torch.no_grad():
        recomputed = forward_logprobs(model, batch)  # (B, T), 0 off the response
    return (recomputed - batch.engine_logprobs).abs().max().item()
