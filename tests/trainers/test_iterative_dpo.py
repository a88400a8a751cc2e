"""`rlvr-gym iterate-dpo` end to end on a small SFT: rounds of verifier-labelled pairs, the reference reset or kept, resume.

The SFT is the embedded default's, shrunk (the 0.1M-parameter tiny model, one-digit sums) so that it takes
well under a minute; whether held-out accuracy rises is measured on the full default (README), not here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.trainers.checkpoint import load_trainer_state  # noqa: E402
from rlvr_gym.trainers.dpo_config import load_dpo_config  # noqa: E402
from rlvr_gym.trainers.dpo_run import run_iterative_dpo, run_pairs  # noqa: E402
from rlvr_gym.trainers.preference_data import read_preferences  # noqa: E402

SMALL = (
    "num_threads=1",
    "task.source_options.digits=1",
    "sft.tiny.hidden_size=64",
    "sft.tiny.num_attention_heads=2",
    "sft.tiny.num_key_value_heads=2",
    "sft.tiny.num_hidden_layers=2",
    "sft.tiny.intermediate_size=128",
    "sft.batch_size=32",
    "sft.probe_size=50",
    "sft.target_accuracy=0.2",
    "pairs.prompts=32",
    "pairs.samples_per_prompt=4",
    "pairs.sampling.max_new_tokens=8",
    "eval.size=16",
    "dpo.epochs=1",
    "log.progress_bar=false",
    "log.tensorboard=false",
)


def _run(run_dir, *overrides, command="iterate-dpo"):
    return load_dpo_config(None, [*SMALL, f"run_dir={run_dir}", *overrides], command)


@pytest.mark.slow
def test_rounds_reset_the_reference_and_resume_skips_finished_rounds(tmp_path):
    run_dir = tmp_path / "run"
    result = run_iterative_dpo(_run(run_dir, "iterate.rounds=2"), log=lambda _: None)
    summary = result.summary
    assert result.completed and summary["rounds"] == 2 and summary["ref"] == "reset"
    sft = (run_dir / "sft").resolve()
    round0, round1 = (json.loads((run_dir / f"round-{k}" / "summary.json").read_text()) for k in (0, 1))
    # each round trains from the previous round's policy, its reference reset to that policy
    assert round0["policy_start"] == round0["ref"] == str(sft)
    assert round1["policy_start"] == round1["ref"] == str(Path(round0["checkpoint"]).resolve())
    assert load_trainer_state(Path(round1["checkpoint"]))["ref"] == round1["ref"]
    for k, rnd in enumerate((round0, round1)):
        pairs = read_preferences(run_dir / f"round-{k}" / "pairs.jsonl")
        counts = json.loads((run_dir / f"round-{k}" / "pairs_summary.json").read_text())
        assert len(pairs) == counts["pairs"] == rnd["pairs"] > 0
        assert sum(counts["groups"].values()) == 32 and counts["responses"] == 128
    # the run's own metrics: held-out accuracy before the first round and after each
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1, 2]
    assert records[0]["eval/accuracy"] == summary["accuracy_before"] and records[2]["eval/accuracy"] == summary["accuracy_after"]
    assert summary["accuracy_per_round"] == [round0["accuracy_after"], round1["accuracy_after"]]
    assert round1["accuracy_before"] == round0["accuracy_after"]

    # a third round on resume: rounds 0 and 1 are not run again
    with pytest.raises(ValueError, match="already holds rounds"):
        run_iterative_dpo(_run(run_dir, "iterate.rounds=3"), log=lambda _: None)
    before = (run_dir / "round-1" / "metrics.jsonl").read_text()
    resumed = run_iterative_dpo(_run(run_dir, "iterate.rounds=3", "checkpoint.resume=latest"), log=lambda _: None)
    assert resumed.completed and resumed.summary["rounds"] == 3
    assert (run_dir / "round-1" / "metrics.jsonl").read_text() == before
    assert [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2, 3]
    round2 = json.loads((run_dir / "round-2" / "summary.json").read_text())
    assert round2["ref"] == str(Path(round1["checkpoint"]).resolve())

    # iterate.ref=keep: every round's reference is the starting policy; `pairs` writes round 0's pairs alone
    kept = run_iterative_dpo(_run(tmp_path / "keep", f"model.path={sft}", "iterate.rounds=2", "iterate.ref=keep"), log=lambda _: None)
    assert kept.completed
    kept1 = json.loads((tmp_path / "keep" / "round-1" / "summary.json").read_text())
    assert kept1["ref"] == str(sft) and kept1["policy_start"] != str(sft)
    out, counts = run_pairs(_run(tmp_path / "pairs", f"model.path={sft}", command="pairs"), log=lambda _: None)
    assert out.read_text() == (run_dir / "round-0" / "pairs.jsonl").read_text()  # same policy, prompts and seed as round 0
    assert counts["pairs"] == round0["pairs"]
