"""Checks shared by the tests of both rollout engines (HF and vLLM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch

from rlvr_gym.trainers.logprobs import collate_completions, forward_logprobs


def assert_well_formed(
    engine: Any, prompts: Sequence[Any], completions: Sequence[Any], max_new_tokens: int, stop: Sequence[str] = ()
) -> None:
    """One completion per prompt, in order: the prompt's own token ids, 1 to ``max_new_tokens`` tokens with a
    logprob each, stopped at the first stop token or stop string (``finished``) or at the token budget."""
    assert len(completions) == len(prompts)
    for prompt, c in zip(prompts, completions):
        expected_prompt = (
            prompt if isinstance(prompt, list) else engine.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        )
        assert list(c.prompt_token_ids) == expected_prompt
        assert 1 <= len(c.token_ids) <= max_new_tokens
        assert len(c.logprobs) == len(c.token_ids)
        assert all(lp <= 0.0 for lp in c.logprobs)
        assert c.finished == (c.token_ids[-1] in engine.stop_ids or stop_string_end(engine.tokenizer, c.token_ids, stop) is not None)
        assert not any(t in engine.stop_ids for t in c.token_ids[:-1])  # nothing after the first stop token
        assert c.finished or len(c.token_ids) == max_new_tokens


def stop_string_end(tokenizer: Any, token_ids: Sequence[int], stop: Sequence[str]) -> int | None:
    """The reference for stop strings, by brute force: the fewest leading tokens whose decoded text holds a stop string."""
    for k in range(1, len(token_ids) + 1):
        text = tokenizer.decode(list(token_ids[:k]), skip_special_tokens=True)
        if any(s in text for s in stop):
            return k
    return None


def assert_stopped_like_the_reference(engine: Any, unstopped: Sequence[Any], stopped: Sequence[Any], stop: Sequence[str]) -> int:
    """``stopped`` (same prompts and seeds, with ``stop``) against ``unstopped`` (without): each is the prefix of its
    unstopped twin up to the token completing the first stop string (`stop_string_end`), with the same logprobs, its
    text cut before that stop string. Returns how many completions a stop string ended."""
    ended = 0
    for free, c in zip(unstopped, stopped):
        k = stop_string_end(engine.tokenizer, free.token_ids, stop)
        if k is None:
            assert c == free
            continue
        ended += 1
        assert c.token_ids == free.token_ids[:k]
        assert c.logprobs == pytest.approx(free.logprobs[:k], abs=1e-5)
        full = engine.tokenizer.decode(list(c.token_ids), skip_special_tokens=True)
        cut = min((full.find(s) for s in stop if s in full))
        assert c.text == full[:cut] and c.finished
        assert not any(s in c.text for s in stop)
    return ended


def printable_stop_strings(completions: Sequence[Any], count: int = 3) -> tuple[str, ...]:
    """Up to ``count`` two-character strings of printable ASCII taken from the middle of sampled texts (so they do occur)."""
    found: list[str] = []
    for c in completions:
        text = c.text
        for j in range(len(text) // 2, len(text) - 1):
            pair = text[j : j + 2]
            if pair.isascii() and pair.isprintable() and pair not in found:
                found.append(pair)
                break
        if len(found) == count:
            break
    return tuple(found)

def max_logprob_gap(
    model: torch.nn.Module, completions: Sequence[Any], pad_token_id: int, temperature: float = 1.0, top_k: int = 0
) -> float:
    """Largest ``|engine logprob - model's recomputed logprob|`` over every response token of ``completions``.

    The reference is the trainer's `forward_logprobs` at ``temperature`` (what the engines report when
    ``top_k == 0`` and ``top_p == 1``); with ``top_k`` it is renormalised over the ``top_k`` most likely
    tokens by hand: ``lp[token] - logsumexp(top_k largest lp)``."""
    batch = collate_completions(completions, pad_token_id)
    with torch.no_grad():
        recomputed = forward_logprobs(model, batch, temperature)  # (B, T), 0 off the response
        if top_k:
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits.float() / temperature
            kept = torch.log_softmax(logits, dim=-1).topk(top_k, dim=-1).values.logsumexp(dim=-1)  # (B, T) mass kept
            recomputed = (recomputed - torch.nn.functional.pad(kept[:, :-1], (1, 0))) * batch.response_mask
    return (recomputed - batch.engine_logprobs).abs().max().item()


def assert_n_samples_per_prompt(engine: Any, prompts: Sequence[Any], n: int, max_new_tokens: int = 16) -> list[Any]:
    """``SamplingConfig.n``: ``n`` well-formed completions per prompt, the ``n`` of a prompt consecutive and not all
    alike; seeded, the same call gives the same completions. Returns them."""
    from rlvr_gym.rollout import SamplingConfig

    sampling = SamplingConfig(max_new_tokens=max_new_tokens, temperature=1.0, seed=11, n=n)
    completions = engine.generate(prompts, sampling)
    repeated = [p for p in prompts for _ in range(n)]
    assert_well_formed(engine, repeated, completions, max_new_tokens)
    for i in range(len(prompts)):
        group = completions[i * n : (i + 1) * n]
        assert len({c.token_ids for c in group}) > 1, f"prompt {i}: its {n} samples are all the same"
    assert engine.generate(prompts, sampling) == completions
    return completions


def optimizer_step(model, completions, pad_token_id: int, lr: float = 1e-2) -> None:
    """One real AdamW step that raises the logprob of ``completions`` (a stand-in for a PPO update)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    batch = collate_completions(completions, pad_token_id)
    loss = -(forward_logprobs(model, batch).sum() / batch.response_mask.sum())
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
