"""The study's report: paired per-seed verdicts and the table's mean ± std, on rows whose numbers are worked out by
hand; the files it writes."""

from __future__ import annotations

import json

import pytest

from rlvr_gym.study.config import Arm, StudyConfig
from rlvr_gym.study.report import CLAIMS, Claim, judge, write_report


def _row(arm: Arm, seed: int, after: float, before: float = 0.30, seconds: float = 90.0) -> dict:
    return {"arm": arm.value, "seed": seed, "responses": 6400, "accuracy_before": before, "accuracy_after": after,
            "gain": after - before, "seconds": seconds, "run_dir": f"seed-{seed}/{arm.value}"}


ROWS = [
    # seed:                 0                                1                                2
    _row(Arm.OFFLINE_DPO, 0, 0.40), _row(Arm.OFFLINE_DPO, 1, 0.50), _row(Arm.OFFLINE_DPO, 2, 0.30),
    _row(Arm.ITERATIVE_DPO, 0, 0.45), _row(Arm.ITERATIVE_DPO, 1, 0.55), _row(Arm.ITERATIVE_DPO, 2, 0.35),
    _row(Arm.PPO, 0, 0.60), _row(Arm.PPO, 1, 0.50), _row(Arm.PPO, 2, 0.70),
    _row(Arm.PPO_EMA_REF, 0, 0.50), _row(Arm.PPO_EMA_REF, 1, 0.50), _row(Arm.PPO_EMA_REF, 2, 0.60),
    _row(Arm.PPO_LARGE_BATCH, 0, 0.70), _row(Arm.PPO_LARGE_BATCH, 1, 0.40), _row(Arm.PPO_LARGE_BATCH, 2, 0.75),
]


# ---- verdicts: differences of final accuracy, in points, seed by seed
@pytest.mark.parametrize(
    "claim, verdict, diffs",
    [
        # iterative beats offline by 5 points on every seed
        (Claim("c", Arm.ITERATIVE_DPO, (Arm.OFFLINE_DPO,)), "confirmed", [5.0, 5.0, 5.0]),
        # PPO against the better DPO arm of each seed: 60-45, 50-55, 70-35
        (Claim("c", Arm.PPO, (Arm.OFFLINE_DPO, Arm.ITERATIVE_DPO)), "partly (2/3 seeds)", [15.0, -5.0, 35.0]),
        # EMA: 50-60, 50-50, 60-70 -> mean -6.67
        (Claim("c", Arm.PPO_EMA_REF, (Arm.PPO,)), "not confirmed", [-10.0, 0.0, -10.0]),
        # large batch: 70-60, 40-50, 75-70 -> mean +1.67, one seed worse
        (Claim("c", Arm.PPO_LARGE_BATCH, (Arm.PPO,)), "partly (2/3 seeds)", [10.0, -10.0, 5.0]),
        # no grpo rows
        (Claim("c", Arm.GRPO, (Arm.PPO,)), "not run", []),
    ],
)
def test_judge_pairs_seeds(claim, verdict, diffs):
    result = judge(claim, ROWS)
    assert result["verdict"] == verdict
    assert result["diffs"] == pytest.approx(diffs)
    if diffs:
        assert result["mean_diff"] == pytest.approx(sum(diffs) / len(diffs))


def test_a_seed_missing_from_one_arm_is_left_out_of_the_pairing():
    rows = [r for r in ROWS if not (r["arm"] == "ppo" and r["seed"] == 1)]
    assert judge(Claim("c", Arm.PPO, (Arm.ITERATIVE_DPO,)), rows)["diffs"] == pytest.approx([15.0, 35.0])


def test_report_files(tmp_path):
    config = StudyConfig(arms=(Arm.OFFLINE_DPO, Arm.ITERATIVE_DPO, Arm.PPO, Arm.PPO_EMA_REF, Arm.PPO_LARGE_BATCH))
    paths = write_report(tmp_path, config, list(reversed(ROWS)), {0: 60.0, 1: 120.0, 2: 90.0})
    table = paths["table"].read_text()
    # PPO after: 60, 50, 70 -> mean 60.0, sample std 10.0; gains 30, 20, 40 -> 30.0 ± 10.0; 90 s -> 1:30
    assert "| ppo | 3 | 60.0 ± 10.0 | 30.0 ± 10.0 | 60.0 / 50.0 / 70.0 | 1:30 |" in table
    # SFT: 30 on every seed, SFT time the mean of 60, 120, 90 s
    assert "| SFT (start) | 3 | 30.0 ± 0.0 | - | 30.0 / 30.0 / 30.0 | 1:30 |" in table
    assert f"| {CLAIMS[0].text} | confirmed | +5.0, +5.0, +5.0 |" in table
    assert "| GRPO (critic-free) beats PPO | not run | - |" in table
    results = json.loads(paths["json"].read_text())
    assert [r["arm"] for r in results["rows"]][:4] == ["offline_dpo"] * 3 + ["iterative_dpo"]  # config order, then seed
    assert paths["plot"].stat().st_size > 10_000


def test_a_filter_claim_is_untestable_when_the_filters_removed_nothing():
    claim = Claim("c", Arm.ITERATIVE_DPO, (Arm.OFFLINE_DPO,), about_filters=True)
    rows = [dict(r, pairs_filtered_out=0) for r in ROWS]
    assert judge(claim, rows)["verdict"].startswith("untestable here: the filters removed no pair")
    rows = [dict(r, pairs_filtered_out=3 if r["seed"] == 1 else 0) for r in ROWS]
    assert judge(claim, rows)["verdict"] == "confirmed"
