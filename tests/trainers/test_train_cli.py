"""`rlvr-gym train` as a real subprocess: Ctrl-C saves a checkpoint and exits 130; `--resume` continues it.

The SIGINT goes to the run's whole process group (the trainer and its verifier workers), as a
terminal's Ctrl-C does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY_RUN = (
    "task.source_options.digits=1",
    "ppo.rollout_batch_size=8",
    "ppo.mini_batch_size=4",
    "ppo.micro_batch_size=2",
    "sampling.max_new_tokens=6",
    "rollout.engine=hf",
    "eval.size=8",
    "log.tensorboard=false",
    "checkpoint.save_every=1000",
)


def _train_command(run_dir: Path, model_dir: Path, *overrides: str) -> list[str]:
    command = [sys.executable, "-m", "rlvr_gym.cli", "train", "--run-dir", str(run_dir), "--set", f"model.path={model_dir}"]
    for override in (*TINY_RUN, *overrides):
        command += ["--set", override]
    return command


def _logged_steps(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if line.strip()]


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from rlvr_gym.trainers.checkpoint import latest_checkpoint, load_trainer_state

    run_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    log = (tmp_path / "console.log").open("w")
    # its own session, so that the SIGINT below goes to its whole process group, as a terminal's Ctrl-C does
    proc = subprocess.Popen(
        _train_command(run_dir, tiny_model_dir, "total_steps=10000"),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(step >= 1 for step in _logged_steps(run_dir)):
            assert proc.poll() is None, (tmp_path / "console.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no step logged within 120 s"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    output = (tmp_path / "console.log").read_text()
    assert returncode == 130, output[-3000:]  # documented: a clean save after Ctrl-C exits with 130
    assert "Traceback" not in output, output[-3000:]

    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None, output[-3000:]
    step = load_trainer_state(checkpoint)["step"]
    assert step >= 1 and max(_logged_steps(run_dir)) == step
    AutoModelForCausalLM.from_pretrained(checkpoint)  # a plain Hugging Face folder
    assert not list((run_dir / "checkpoints").glob("*.tmp"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] and not summary["completed"]

    resumed = subprocess.run(
        _train_command(run_dir, tiny_model_dir, f"total_steps={step + 2}") + ["--resume"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _logged_steps(run_dir) == list(range(step + 3))  # step 0 is the evaluation before RL
    assert load_trainer_state(latest_checkpoint(run_dir))["step"] == step + 2
    assert "held-out accuracy" in resumed.stdout
    # RUN_DIR/train.log: both calls' lines, the signal, one line per step; the console kept only its own lines
    run_log = (run_dir / "train.log").read_text()
    assert run_log.count("rollout engine: hf") == 2 and "resuming from " in run_log
    assert "Ctrl-C: finishing step" in run_log and "held-out accuracy before RL" in run_log
    assert f"step {step + 2}/{step + 2} rewards/mean=" in run_log and "summary.json: " in run_log
    assert "step 1/10000" in run_log and "step 1/10000" not in output
