"""The engine seam: `Completion`, the `RolloutEngine` protocol and what both engines share.

No torch import here (tensors are only handled, by duck typing), so the types load with the config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

from .config import SamplingConfig

if TYPE_CHECKING:
    from torch import Tensor
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "Completion",
    "Prompt",
    "RolloutEngine",
    "Weights",
    "make_completion",
    "named_tensors",
    "find_stop",
    "prompt_ids",
    "stop_token_ids",
]

Prompt = str | Sequence[int]
"""A prompt: text (tokenised without special tokens added) or token ids."""

Weights: TypeAlias = "Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]"
"""New weights with Hugging Face parameter names: a state dict, or ``model.named_parameters()``."""


@dataclass(frozen=True)
class Completion:
    """One sampled completion of one prompt."""

    prompt_token_ids: tuple[int, ...]
    """The prompt, as the engine saw it."""
    token_ids: tuple[int, ...]
    """The sampled tokens, ending with the stop token when `finished` by one, or with the token that
    completed a stop string when `finished` by that (its tokens are kept, the text drops them)."""
    logprobs: tuple[float, ...]
    """``log pi(token_ids[i] | prompt, token_ids[:i])`` under the distribution it was drawn from (temperature,
    top-k/top-p applied; raw when greedy), one per token (see `rlvr_gym.rollout`)."""
    text: str
    """``token_ids`` decoded, special tokens (the stop token) left out, cut before the first stop string."""
    finished: bool
    """True when the completion ended by a stop token (EOS) or a stop string, False when it hit ``max_new_tokens``."""


def find_stop(text: str, stop: Sequence[str]) -> int:
    """Where the first stop string that ends earliest in ``text`` starts; -1 when none occurs.

    "Ends earliest" is the occurrence a token-by-token check meets first (vLLM's ``check_stop_strings``
    in ``vllm/v1/engine/detokenizer.py`` picks the same), so both engines cut at one place.
    """
    best_end, best_start = len(text) + 1, -1
    for s in stop:
        at = text.find(s)
        if at >= 0 and at + len(s) < best_end:
            best_end, best_start = at + len(s), at
    return best_start


def make_completion(
    tokenizer: PreTrainedTokenizerBase,
    stop_ids: frozenset[int],
    prompt: Sequence[int],
    token_ids: Sequence[int],
    logprobs: Sequence[float],
    stop: Sequence[str] = (),
) -> Completion:
    """The `Completion` of a sampled token sequence, built the same way by every engine.

    ``stop``: the call's stop strings; the text is cut before the first one, which also makes the
    completion `finished` (the engine has already ended the tokens at the one completing it).
    """
    token_ids = [int(t) for t in token_ids]
    text = tokenizer.decode(token_ids, skip_special_tokens=True)
    at = find_stop(text, stop)
    return Completion(
        prompt_token_ids=tuple(prompt),
        token_ids=tuple(token_ids),
        logprobs=tuple(float(lp) for lp in logprobs),
        text=text if at < 0 else text[:at],
        finished=(bool(token_ids) and token_ids[-1] in stop_ids) or at >= 0,
    )


@runtime_checkable
class RolloutEngine(Protocol):
    """Samples completions with per-token logprobs; takes new policy weights in place."""

    def generate(self, prompts: Sequence[Prompt], sampling: SamplingConfig) -> list[Completion]:
        """``sampling.n`` completions per prompt, in prompt order (the ``n`` of a prompt consecutive)."""
        ...

    def load_weights(self, weights: Weights) -> None:
        """Replace the engine's weights (HF names; a subset replaces only those tensors)."""
        ...

    def close(self) -> None:
        """Release the engine's processes and memory."""
        ...


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, generation_eos: int | Sequence[int] | None) -> frozenset[int]:
    """The tokens that end a completion: the tokenizer's EOS and the generation config's ``eos_token_id``(s)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if isinstance(generation_eos, int):
        ids.add(generation_eos)
    elif generation_eos is not None:
        ids.update(int(i) for i in generation_eos)
    if not ids:
        raise ValueError("stop_token_ids: the tokenizer has no eos_token and the generation config no eos_token_id")
    return frozenset(ids)


def prompt_ids(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Prompt]) -> list[list[int]]:
    ids = []
    for prompt in prompts:
        if isinstance(prompt, str):
            ids.append(list(tokenizer(prompt, add_special_tokens=False)["input_ids"]))
        else:
            ids.append([int(i) for i in prompt])
        if not ids[-1]:
            raise ValueError("generate: empty prompt")
    return ids


def named_tensors(weights: Weights) -> list[tuple[str, Tensor]]:
    """``weights`` as ``(name, tensor)`` pairs: detached, on the CPU, contiguous.

    A tensor that shares storage with an earlier one (tied embeddings: ``lm_head.weight``
    is ``model.embed_tokens.weight``) is dropped; the engine re-ties it.
    """
    items = weights.items() if isinstance(weights, Mapping) else weights
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    out = []
    for name, tensor in items:
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key in seen:
            continue
        seen.add(key)
        out.append((name, tensor.detach().to("cpu").contiguous()))
    return out
