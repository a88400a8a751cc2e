"""A real study, small: SFT, a PPO run and SFT -> DPO -> PPO (Tülu 3's order) as subprocesses; Ctrl-C in the middle
of the PPO run (it saves), then the same command resumes it from its checkpoint, and a third call finds everything
done."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

# 30 PPO steps of 64 (a checkpoint every 25 steps); dpo_then_ppo: 960 / 8 = 120 DPO prompts, then 15 PPO steps;
# a 150-step SFT (enough for a few correct samples, so DPO finds pairs), 20 held-out items
SMALL = [
    "seeds=[0]", "arms=[ppo, dpo_then_ppo]", "budget=1920", "device=cpu",
    "train_overrides=[sft.steps=150, sft.target_accuracy=null, eval.size=20]",
    "dpo_overrides=[sft.steps=150, sft.target_accuracy=null, eval.size=20]",
]


def _study(run_dir) -> list[str]:
    command = [sys.executable, "-m", "rlvr_gym.cli", "study", "--run-dir", str(run_dir)]
    for item in SMALL:
        command += ["--set", item]
    return command


def test_interrupt_and_resume(tmp_path):
    run_dir = tmp_path / "study"
    # 1. Ctrl-C (SIGINT to the whole process group, as a terminal sends it) once PPO has written its step-25 checkpoint
    process = subprocess.Popen(_study(run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    checkpoint = run_dir / "seed-0" / "ppo" / "checkpoints" / "step-000025"
    deadline = time.monotonic() + 600
    while not checkpoint.is_dir() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checkpoint.is_dir(), process.communicate()
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, (out, err)
    assert "interrupted; it saved a checkpoint. Run the same command to resume." in out
    assert "resume with the same command" in err
    ppo = run_dir / "seed-0" / "ppo"
    assert not json.loads((ppo / "summary.json").read_text())["completed"]
    sft_summary = (run_dir / "seed-0" / "sft_summary.json").read_text()

    # 2. the same command: the SFT is reused, PPO resumes from its newest checkpoint, DPO then PPO run
    second = subprocess.run(_study(run_dir), capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (run_dir / "seed-0" / "sft_summary.json").read_text() == sft_summary
    assert (ppo / "command.txt").read_text().rstrip().endswith("--resume")
    summary = json.loads((ppo / "summary.json").read_text())
    assert summary["completed"] and summary["step"] == 30
    assert "resuming from" in (ppo / "console.log").read_text()
    results = json.loads((run_dir / "results.json").read_text())
    assert [(r["arm"], r["seed"], r["responses"]) for r in results["rows"]] == [("ppo", 0, 1920), ("dpo_then_ppo", 0, 1920)]
    for row in results["rows"]:
        assert 0 <= row["accuracy_after"] <= 1 and row["seconds"] > 0
    assert "| ppo | 1 |" in second.stdout and "| dpo_then_ppo | 1 |" in second.stdout
    # RLVR from the DPO checkpoint: `rlvr-gym train --set model.path=DPO_OUT`
    dpo = json.loads((run_dir / "seed-0" / "dpo_then_ppo" / "dpo" / "summary.json").read_text())
    rl = json.loads((run_dir / "seed-0" / "dpo_then_ppo" / "ppo" / "summary.json").read_text())
    assert rl["policy_start"] == dpo["checkpoint"] and rl["completed"] and rl["step"] == 15
    row = results["rows"][1]
    assert (row["accuracy_before"], row["accuracy_between"], row["accuracy_after"]) == (
        dpo["accuracy_before"], dpo["accuracy_after"], rl["accuracy_after"])
    assert row["pairs"] == dpo["pairs_per_round"][0] and row["pairs_filtered_out"] >= 0
    assert (run_dir / "study.png").is_file()
    timing = json.loads((ppo / "study_timing.json").read_text())
    assert timing["attempts"] == 2

    # 3. once more: nothing left to run
    logs = {p: p.read_text() for p in run_dir.glob("seed-0/*/console.log")}
    third = subprocess.run(_study(run_dir), capture_output=True, text=True, timeout=300)
    assert third.returncode == 0 and "2 finished earlier" in third.stdout
    assert {p: p.read_text() for p in run_dir.glob("seed-0/*/console.log")} == logs

    # 4. a different budget in the same folder is refused (it would mix results)
    other = subprocess.run(_study(run_dir) + ["--set", "budget=3840"], capture_output=True, text=True, timeout=120)
    assert other.returncode == 1 and "holds a study with other budget" in other.stderr
