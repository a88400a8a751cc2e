"""`forward_logprobs_shared_prompts`: each distinct prompt run once, the same logprobs and gradients as `forward_logprobs`."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.rollout import Completion  # noqa: E402
from rlvr_gym.trainers.logprobs import (  # noqa: E402
    collate_completions,
    forward_logprobs,
    forward_logprobs_shared_prompts,
    prompt_groups,
)

PAD = 0


def _completion(prompt: list[int], response: list[int]) -> Completion:
    return Completion(tuple(prompt), tuple(response), tuple([-1.0] * len(response)), "", True)


def _batch():
    """Two groups of three samples (prompts of 5 and 9 tokens), responses of 1 to 7 tokens, rows interleaved,
    plus a prompt seen once: left padding of unequal prompts, right padding of unequal responses."""
    a, b, c = [5, 17, 33, 61, 90], [7, 8, 9, 10, 11, 12, 13, 14, 15], [40, 41, 42]
    rows = [
        (a, [20, 21, 22]),
        (b, [30]),
        (a, [23, 24, 25, 26, 27, 28, 29]),
        (c, [50, 51]),
        (b, [31, 32, 33, 34]),
        (a, [99]),
        (b, [35, 36, 37, 38, 39, 40]),
    ]
    return collate_completions([_completion(p, r) for p, r in rows], PAD)


def test_prompt_groups_by_hand():
    first, inverse, lengths = prompt_groups(_batch())
    assert first.tolist() == [0, 1, 3]  # a, b, c: the first row of each
    assert inverse.tolist() == [0, 1, 0, 2, 1, 0, 1]
    assert lengths == [5, 9, 5, 3, 9, 5, 9]


def _models(tiny_model_dir):
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    gqa = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        )  # fmt: skip
    )
    return {"tiny qwen2": AutoModelForCausalLM.from_pretrained(tiny_model_dir), "random GQA llama": gqa}


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_same_logprobs_and_gradients_as_the_full_forward(tiny_model_dir, temperature):
    batch = _batch()
    for name, model in _models(tiny_model_dir).items():
        model.train()  # as in the update: dropout is 0 in both configs
        grads = []
        results = []
        for fn in (forward_logprobs, forward_logprobs_shared_prompts):
            model.zero_grad()
            logprobs = fn(model, batch, temperature)  # (B, T)
            (logprobs * torch.linspace(0.5, 1.5, logprobs.numel()).view_as(logprobs)).sum().backward()
            results.append(logprobs.detach())
            grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        full, shared = results
        assert shared.shape == full.shape, name
        assert torch.equal(shared == 0, batch.response_mask == 0), name  # zero exactly off the response
        assert (shared - full).abs().max().item() < 1e-5, name
        assert grads[0].keys() == grads[1].keys(), name
        for param, grad in grads[0].items():
            scale = grad.abs().max().item() + 1e-8
            assert (grads[1][param] - grad).abs().max().item() / scale < 1e-4, (name, param)


def test_falls_back_to_the_full_forward_when_every_prompt_is_distinct(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    batch = collate_completions([_completion([5, 6, 7], [8, 9]), _completion([5, 6], [8])], PAD)
    with torch.no_grad():
        assert torch.equal(forward_logprobs_shared_prompts(model, batch), forward_logprobs(model, batch))


def test_falls_back_under_gradient_checkpointing(tiny_model_dir):
    """transformers turns the KV cache off when activations are checkpointed: the full forward then runs."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.gradient_checkpointing_enable()
    model.train()
    batch = _batch()
    assert torch.equal(forward_logprobs_shared_prompts(model, batch).detach(), forward_logprobs(model, batch).detach())
