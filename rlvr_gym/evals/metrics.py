"""Evaluation metrics: the unbiased pass@k estimator and IFEval's four accuracies."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["pass_at_k", "mean_pass_at_k", "ifeval_accuracies"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al. 2021).

    ``1 - C(n - c, k) / C(n, k)``, computed as ``1 - prod_{i = n - c + 1}^{n} (1 - k / i)`` so that
    no binomial coefficient is formed.
    """
    if not (isinstance(n, int) and isinstance(c, int) and isinstance(k, int)):
        raise TypeError("pass_at_k takes integers n, c, k")
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def mean_pass_at_k(correct: Sequence[Sequence[bool]], ks: Iterable[int]) -> dict[int, float]:
    """Mean pass@k over problems, each given as the list of its samples' correctness."""
    if not correct:
        raise ValueError("mean_pass_at_k needs at least one problem")
    sizes = {len(samples) for samples in correct}
    if len(sizes) != 1:
        raise ValueError(f"every problem needs the same number of samples, got {sorted(sizes)}")
    n = sizes.pop()
    return {k: sum(pass_at_k(n, sum(map(bool, s)), k) for s in correct) / len(correct) for k in ks}


def ifeval_accuracies(strict: Sequence[Mapping[str, Any]], loose: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Prompt- and instruction-level accuracy, strict and loose, and accuracy per instruction id.

    Each entry is a verdict's ``details``: ``{"instructions": [{"id": ..., "followed": bool}, ...]}``.
    Counts ride along: ``prompt_count_<mode>``, ``inst_count_<mode>`` as ``[followed, total]`` and
    ``per_instruction_count_<mode>`` as ``{id: [followed, total]}``.
    """
    out: dict[str, Any] = {}
    for mode, details in (("strict", strict), ("loose", loose)):
        prompts = [[ins["followed"] for ins in d["instructions"]] for d in details]
        flat = [f for p in prompts for f in p]
        out[f"prompt_level_{mode}"] = sum(all(p) for p in prompts) / len(prompts) if prompts else 0.0
        out[f"inst_level_{mode}"] = sum(flat) / len(flat) if flat else 0.0
        per_id: dict[str, list[bool]] = defaultdict(list)
        for d in details:
            for ins in d["instructions"]:
                per_id[ins["id"]].append(ins["followed"])
        out[f"per_instruction_{mode}"] = {key: sum(v) / len(v) for key, v in sorted(per_id.items())}
        out[f"per_instruction_count_{mode}"] = {key: [sum(v), len(v)] for key, v in sorted(per_id.items())}
        out[f"prompt_count_{mode}"] = [sum(all(p) for p in prompts), len(prompts)]
        out[f"inst_count_{mode}"] = [sum(flat), len(flat)]
    return out
