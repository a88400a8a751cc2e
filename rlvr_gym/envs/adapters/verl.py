"""veRL's custom reward hook: ``compute_score(data_source, solution_str, ground_truth, extra_info, **reward_kwargs)``.

How veRL 0.9.1 calls it (read from its source):

- ``verl/trainer/ppo/reward.py``, ``get_custom_reward_fn``: loads ``reward.custom_reward_function.path``
  with ``verl/utils/import_utils.py``'s ``load_extern_object`` (a file path, executed under a generated
  module name ``custom_module_<hash>``; or ``pkg://dotted.module``), then wraps it so that
  ``reward.custom_reward_function.reward_kwargs`` are merged in as keyword arguments;
- ``verl/experimental/reward_loop/reward_manager/naive.py`` (also ``dapo.py``, ``limited.py``,
  ``remote.py``), ``run_single``: ``compute_score(data_source=, solution_str=, ground_truth=,
  extra_info=)`` through ``run_in_executor``, plus ``reward_router_address=`` and
  ``reward_model_tokenizer=`` when a reward model is enabled. A dict result gives the reward from
  ``"score"`` and logs every key (``acc`` among them); ``remote.py`` ships the function to Ray
  worker processes (cloudpickle);
- ``verl/trainer/main_eval.py``, ``process_item``: ``reward_fn(data_source, response, ground_truth)``,
  positionally, then ``np.mean`` over the results: point it at `compute_score_value` (a float).

The verifier comes from ``data_source`` (`verifier_for`). ``alpha`` (reward of a correct response)
comes from ``reward_kwargs``, else from ``extra_info["alpha"]``, else 1.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

# Absolute imports: veRL may load this file by path, outside its package.
from rlvr_gym.verifiers import Verdict, Verifier, get_verifier, list_verifiers

__all__ = ["DATA_SOURCES", "MATH_PREFIXES", "compute_score", "compute_score_value", "verifier_for"]

DATA_SOURCES: dict[str, str] = {
    # veRL's examples/data_preprocess writers and verl/utils/reward_score/__init__.py's default_compute_score names
    "openai/gsm8k": "gsm8k",
    "lighteval/MATH": "math",
    "DigitalLearningGmbH/MATH-lighteval": "math",
    "HuggingFaceH4/MATH-500": "math",
    "math_dapo": "math",
    "math_dapo_reasoning": "math",
    "math": "math",
    # ours
    "gsm8k": "gsm8k",
    "math500": "math",
    "google/IFEval": "ifeval",
    "ifeval": "ifeval",
    "countdown": "countdown",
    "arithmetic": "gsm8k",
}
"""veRL ``data_source`` -> verifier name."""

MATH_PREFIXES: tuple[str, ...] = ("aime", "numina_")
"""``data_source`` prefixes scored by the math verifier (veRL: ``aime*`` by math_dapo, ``numina_*`` by prime_math)."""

_VERIFIERS: dict[tuple[str, float], Verifier] = {}


def verifier_for(data_source: str) -> str:
    """The verifier name for a veRL ``data_source``; ``ValueError`` listing the supported names otherwise."""
    if not isinstance(data_source, str):
        raise TypeError(f"data_source must be a string, got {type(data_source).__name__}")
    if data_source in DATA_SOURCES:
        return DATA_SOURCES[data_source]
    if data_source.startswith(MATH_PREFIXES):
        return "math"
    if data_source in list_verifiers():
        return data_source
    raise ValueError(
        f"rlvr-gym compute_score: no verifier for data_source {data_source!r}. Supported: "
        f"{', '.join(sorted(DATA_SOURCES))}; any name starting with {' or '.join(MATH_PREFIXES)} (math); "
        f"verifier names {', '.join(list_verifiers())}"
    )


def _verdict(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None, alpha: float | None) -> Verdict:
    if alpha is None:
        alpha = (extra_info or {}).get("alpha", 1.0)
    key = (verifier_for(data_source), float(alpha))
    verifier = _VERIFIERS.get(key)
    if verifier is None:  # a race builds it twice: harmless, verifiers are pure
        verifier = _VERIFIERS[key] = get_verifier(key[0], alpha=key[1])
    return verifier.verify(solution_str, ground_truth)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    alpha: float | None = None,
    reward_router_address: str | None = None,
    reward_model_tokenizer: Any = None,
) -> dict[str, float]:
    """``{"score": alpha or 0, "acc": 1.0 or 0.0}`` for one response.

    ``reward_router_address`` and ``reward_model_tokenizer`` (sent when veRL runs a reward model)
    are accepted and unused: the verdict never depends on a model. Any other keyword is a typo in
    ``reward_kwargs`` and raises ``TypeError``.
    """
    verdict = _verdict(data_source, solution_str, ground_truth, extra_info, alpha)
    return {"score": verdict.score, "acc": 1.0 if verdict.correct else 0.0}


def compute_score_value(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    alpha: float | None = None,
    reward_router_address: str | None = None,
    reward_model_tokenizer: Any = None,
) -> float:
    """The score alone (alpha or 0), for ``verl.trainer.main_eval`` which averages the results."""
    return _verdict(data_source, solution_str, ground_truth, extra_info, alpha).score


if __name__ != "rlvr_gym.envs.adapters.verl":
    # Loaded by file path (veRL's load_module runs this file as "custom_module_<hash>", a module no
    # other process can import). Hand out the package's own functions instead: pickle (cloudpickle,
    # for Ray's remote reward workers) then stores them by reference, and any process with rlvr-gym
    # installed loads them back.
    _package = importlib.import_module("rlvr_gym.envs.adapters.verl")
    compute_score = _package.compute_score
    compute_score_value = _package.compute_score_value
    verifier_for = _package.verifier_for
