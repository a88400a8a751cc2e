"""veRL's custom reward hook: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

Point veRL's ``custom_reward_function.path`` at this module and
``custom_reward_function.name`` at ``compute_score``. The verifier is chosen from
``data_source`` by `DATA_SOURCES` (the names veRL's data preprocessors write); a
registered task or verifier name works too. The score is 1.0 or 0.0; pass
``extra_info={"alpha": 10}`` to scale it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

# Absolute import: veRL loads this file by path (spec_from_file_location), outside its package.
from rlvr_gym.verifiers import Verifier, get_verifier, list_verifiers

__all__ = ["DATA_SOURCES", "compute_score"]

DATA_SOURCES: dict[str, str] = {
    "openai/gsm8k": "gsm8k",
    "gsm8k": "gsm8k",
    "lighteval/MATH": "math",
    "DigitalLearningGmbH/MATH-lighteval": "math",
    "HuggingFaceH4/MATH-500": "math",
    "math": "math",
    "math500": "math",
    "google/IFEval": "ifeval",
    "ifeval": "ifeval",
    "countdown": "countdown",
    "arithmetic": "gsm8k",
}
"""veRL ``data_source`` -> verifier name."""


@lru_cache(maxsize=None)
def _verifier(name: str, alpha: float) -> Verifier:
    return get_verifier(name, alpha=alpha)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None) -> float:
    """The verifier's score for one response, as veRL's reward manager expects."""
    name = DATA_SOURCES.get(data_source, data_source)
    if name not in list_verifiers():
        raise ValueError(f"compute_score: no verifier for data_source {data_source!r}; known: {', '.join(sorted(DATA_SOURCES))}")
    alpha = float((extra_info or {}).get("alpha", 1.0))
    return _verifier(name, alpha).verify(solution_str, ground_truth).score
