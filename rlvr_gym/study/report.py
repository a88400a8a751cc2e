"""The study's outputs from its rows (one per finished cell): ``results.json``, ``results.md`` and ``study.png``.

The table gives, per arm, the held-out accuracy after training (mean ± sample std over seeds, and each seed), the
gain over the seed's SFT checkpoint and the wall time per run. Each claim of the paper is judged on paired seeds
(the arms of one seed share its SFT checkpoint, prompts and held-out items): the difference in final held-out
accuracy, seed by seed. *confirmed*: positive on every seed; *partly*: positive on average, not on every seed;
*not confirmed*: zero or negative on average; *not run*: an arm is missing.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Arm, StudyConfig

__all__ = ["CLAIMS", "COMPARISONS", "Claim", "judge", "write_report"]


@dataclass(frozen=True)
class Claim:
    text: str
    better: Arm
    """The arm the claim says wins."""
    worse: tuple[Arm, ...]
    """The arms it must beat (on a seed, it must beat the best of them)."""
    about_filters: bool = False
    """The claim is about the noisy-pair filters: untestable where they removed nothing."""


CLAIMS = (
    Claim("Iterative DPO on fresh on-policy pairs beats offline DPO on pairs sampled once (distribution shift)",
          Arm.ITERATIVE_DPO, (Arm.OFFLINE_DPO,)),
    Claim("Filtering noisy pairs helps DPO", Arm.ITERATIVE_DPO, (Arm.ITERATIVE_DPO_UNFILTERED,), about_filters=True),
    Claim("PPO beats DPO, offline and iterative", Arm.PPO, (Arm.OFFLINE_DPO, Arm.ITERATIVE_DPO)),
    Claim("Advantage normalisation helps PPO", Arm.PPO, (Arm.PPO_NO_WHITENING,)),
    Claim("A large batch (by gradient accumulation) helps PPO", Arm.PPO_LARGE_BATCH, (Arm.PPO,)),
    Claim("An EMA reference helps PPO", Arm.PPO_EMA_REF, (Arm.PPO,)),
)
"""The paper's claims (Xu et al. 2024), in its order."""

COMPARISONS = (
    Claim("GRPO (critic-free) beats PPO", Arm.GRPO, (Arm.PPO,)),
    Claim("SFT -> DPO -> RLVR beats RLVR from SFT at the same budget", Arm.DPO_THEN_PPO, (Arm.PPO,)),
)
"""Further comparisons the study can answer (not claims of the paper)."""


def _after(rows: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    return {(r["arm"], r["seed"]): r["accuracy_after"] for r in rows if r.get("accuracy_after") is not None}


def judge(claim: Claim, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The paired per-seed differences (points) of ``claim.better`` over the best of ``claim.worse``, and a verdict."""
    after = _after(rows)
    seeds = sorted({seed for (_, seed) in after})
    diffs = [
        100 * (after[(claim.better.value, s)] - max(after[(w.value, s)] for w in claim.worse))
        for s in seeds
        if (claim.better.value, s) in after and all((w.value, s) in after for w in claim.worse)
    ]
    if not diffs:
        return {"claim": claim.text, "verdict": "not run", "diffs": [], "mean_diff": None}
    mean = statistics.fmean(diffs)
    filtered = [r.get("pairs_filtered_out") for r in rows if r["arm"] == claim.better.value]
    if claim.about_filters and filtered and not any(filtered):
        verdict = "untestable here: the filters removed no pair (verifier labels carry no noise on this task)"
    elif mean <= 0:
        verdict = "not confirmed"
    elif all(d > 0 for d in diffs):
        verdict = "confirmed"
    else:
        verdict = f"partly ({sum(d > 0 for d in diffs)}/{len(diffs)} seeds)"
    return {"claim": claim.text, "verdict": verdict, "diffs": diffs, "mean_diff": mean}


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.1f} ± {std:.1f}"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _table(config: StudyConfig, rows: list[dict[str, Any]], sft_seconds: dict[int, float]) -> str:
    lines = [
        f"Held-out accuracy (greedy, %) after training at an equal budget of {config.budget} sampled responses per run; "
        f"mean ± std over seeds {', '.join(map(str, config.seeds))}.",
        "",
        "| arm | seeds | accuracy after | gain over SFT (pts) | per seed | wall time per run |",
        "|---|---|---|---|---|---|",
    ]
    starts = {r["seed"]: r["accuracy_before"] for r in rows if r.get("accuracy_before") is not None}
    if starts:
        sft_time = statistics.fmean(sft_seconds.values()) if sft_seconds else 0.0
        per_seed = " / ".join(f"{100 * starts[s]:.1f}" for s in sorted(starts))
        accuracy = _mean_std([100 * v for v in starts.values()])
        lines.append(f"| SFT (start) | {len(starts)} | {accuracy} | - | {per_seed} | {_minutes(sft_time)} |")
    for arm in config.arms:
        mine = sorted((r for r in rows if r["arm"] == arm.value), key=lambda r: r["seed"])
        if not mine:
            continue
        after = [100 * r["accuracy_after"] for r in mine if r["accuracy_after"] is not None]
        gains = [100 * r["gain"] for r in mine if r["gain"] is not None]
        per_seed = " / ".join(f"{100 * r['accuracy_after']:.1f}" for r in mine if r["accuracy_after"] is not None)
        wall = _minutes(statistics.fmean(r["seconds"] for r in mine))
        lines.append(f"| {arm.value} | {len(mine)} | {_mean_std(after)} | {_mean_std(gains)} | {per_seed} | {wall} |")
    lines += ["", "| claim | verdict | per-seed difference (pts) |", "|---|---|---|"]
    for claim in (*CLAIMS, *COMPARISONS):
        j = judge(claim, rows)
        diffs = ", ".join(f"{d:+.1f}" for d in j["diffs"]) or "-"
        lines.append(f"| {claim.text} | {j['verdict']} | {diffs} |")
    return "\n".join(lines) + "\n"


_COLOURS = {
    Arm.OFFLINE_DPO.value: "tab:orange", Arm.ITERATIVE_DPO.value: "tab:orange", Arm.ITERATIVE_DPO_UNFILTERED.value: "tab:orange",
    Arm.GRPO.value: "tab:green", Arm.DPO_THEN_PPO.value: "tab:purple",
}
"""Bar colours: DPO arms orange, PPO arms blue (the default), GRPO green, SFT -> DPO -> PPO purple."""


def _plot(config: StudyConfig, rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = [a.value for a in config.arms if any(r["arm"] == a.value for r in rows)]
    fig, (acc_ax, time_ax) = plt.subplots(1, 2, figsize=(11, 0.5 * len(arms) + 1.8), sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    for y, arm in enumerate(arms):
        mine = [r for r in rows if r["arm"] == arm and r["accuracy_after"] is not None]
        values = [100 * r["accuracy_after"] for r in mine]
        if values:
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            acc_ax.barh(y, statistics.fmean(values), xerr=std, color=_COLOURS.get(arm, "tab:blue"), alpha=0.6)
            acc_ax.scatter(values, [y] * len(values), color="black", s=12, zorder=3)
        time_ax.barh(y, statistics.fmean(r["seconds"] for r in rows if r["arm"] == arm) / 60, color="tab:gray")
    starts = [100 * r["accuracy_before"] for r in rows if r.get("accuracy_before") is not None]
    if starts:
        acc_ax.axvline(statistics.fmean(starts), color="tab:red", linestyle="--", label="SFT start (mean)")
        acc_ax.legend(loc="lower right")
    acc_ax.set_yticks(range(len(arms)), arms)
    acc_ax.invert_yaxis()
    acc_ax.set_xlabel("held-out accuracy after training (%), bars: mean ± std, dots: seeds")
    time_ax.set_xlabel("wall time per run (min)")
    fig.suptitle(f"rlvr-gym study: {config.budget} sampled responses per run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(study_dir: Path, config: StudyConfig, rows: list[dict[str, Any]], sft_seconds: dict[int, float]) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and (with at least one row) ``study.png``; returns their paths."""
    order = [a.value for a in config.arms]
    rows = sorted(rows, key=lambda r: (order.index(r["arm"]) if r["arm"] in order else len(order), r["seed"]))
    paths = {"json": study_dir / "results.json", "table": study_dir / "results.md", "plot": study_dir / "study.png"}
    claims = [judge(c, rows) for c in (*CLAIMS, *COMPARISONS)]
    results = {"budget": config.budget, "rows": rows, "claims": claims, "sft_seconds": sft_seconds}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["table"].write_text(_table(config, rows, sft_seconds))
    if rows:
        _plot(config, rows, paths["plot"])
    return paths
