"""`rlvr-gym dpo` on a toy preference set: pair accuracy above 90% and a growing margin, for each loss; exact resume.

The toy set: "What is a + b?" answered "#### <a + b>" (chosen) or "#### <a + b + 1>" (rejected), on the
tiny random-weight model, so before training the pair accuracy is near chance and every point above it is
learned from the preferences.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.trainers.checkpoint import latest_checkpoint, load_trainer_state  # noqa: E402
from rlvr_gym.trainers.dpo_config import load_dpo_config  # noqa: E402
from rlvr_gym.trainers.dpo_run import run_dpo  # noqa: E402
from rlvr_gym.trainers.preference_data import write_preferences  # noqa: E402

TOY = [{"prompt": f"What is {a} + {b}?\n", "chosen": f"#### {a + b}", "rejected": f"#### {a + b + 1}"} for a in range(4) for b in range(8)]

SETTINGS = (
    "eval.size=0",
    "dpo.batch_size=8",
    "dpo.micro_batch_size=4",
    "optim.lr=0.003",
    "log.progress_bar=false",
    "log.tensorboard=false",
)

LOSSES = [
    # loss, beta, label smoothing, epochs (measured: accuracy 1.0, 1.0, 1.0, 0.969 on the 32 pairs)
    ("sigmoid", 0.5, 0.0, 24),
    ("sigmoid", 0.5, 0.1, 24),
    ("dpo_norm", 2.0, 0.0, 40),
    ("ipo", 0.5, 0.0, 40),
]


def _config(tmp_path, model, data, *overrides):
    return load_dpo_config(None, [f"model.path={model}", f"data.path={data}", f"data.eval_path={data}", *SETTINGS, *overrides], "dpo")


@pytest.fixture
def toy_file(tmp_path):
    path = tmp_path / "toy.jsonl"
    write_preferences(path, TOY)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("loss, beta, smoothing, epochs", LOSSES)
def test_dpo_learns_the_toy_preferences(tmp_path, tiny_model_dir, toy_file, loss, beta, smoothing, epochs):
    torch.set_num_threads(1)
    config = _config(
        tmp_path, tiny_model_dir, toy_file, f"run_dir={tmp_path / 'run'}", f"dpo.loss={loss}", f"dpo.beta={beta}",
        f"dpo.label_smoothing={smoothing}", f"dpo.epochs={epochs}",
    )
    result = run_dpo(config, log=lambda _: None)
    summary = result.summary
    before, after = summary["pairs_eval_before"], summary["pairs_eval_after"]
    assert result.completed and summary["step"] == epochs * 4  # 32 pairs in batches of 8
    assert before["pairs_eval/margin"] == pytest.approx(0.0, abs=1e-6)  # the policy starts as its own reference
    assert after["pairs_eval/accuracy"] > 0.9, summary
    assert after["pairs_eval/margin"] > 0.05 * beta, summary
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(epochs * 4 + 1))
    assert records[-1]["pairs_eval/accuracy"] == after["pairs_eval/accuracy"]
    checkpoint = latest_checkpoint(result.run_dir)
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(checkpoint)  # a plain Hugging Face folder
    assert load_trainer_state(checkpoint)["step"] == epochs * 4


def test_resume_continues_exactly(tmp_path, tiny_model_dir, toy_file):
    torch.set_num_threads(1)
    whole = run_dpo(_config(tmp_path, tiny_model_dir, toy_file, f"run_dir={tmp_path / 'a'}", "dpo.epochs=2"), log=lambda _: None)
    half = run_dpo(_config(tmp_path, tiny_model_dir, toy_file, f"run_dir={tmp_path / 'b'}", "dpo.epochs=2"), log=lambda _: None, stop_after=3)
    assert not half.completed and half.summary["step"] == 3
    resumed = run_dpo(
        _config(tmp_path, tiny_model_dir, toy_file, f"run_dir={tmp_path / 'b'}", "dpo.epochs=2", "checkpoint.resume=latest"), log=lambda _: None
    )
    assert resumed.completed

    def metrics(run):
        lines = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in lines]

    assert metrics(resumed) == metrics(whole)
    from rlvr_gym.trainers.plot import plot_run

    assert plot_run(whole.run_dir).stat().st_size > 0  # the DPO panels: loss, margin, pair accuracy, held-out accuracy


def test_resume_refuses_other_pairs(tmp_path, tiny_model_dir, toy_file):
    run_dpo(_config(tmp_path, tiny_model_dir, toy_file, f"run_dir={tmp_path / 'r'}"), log=lambda _: None, stop_after=1)
    other = tmp_path / "other.jsonl"
    write_preferences(other, TOY[:8])
    config = load_dpo_config(None, [f"model.path={tiny_model_dir}", f"data.path={other}", *SETTINGS, f"run_dir={tmp_path / 'r'}", "checkpoint.resume=latest"])
    with pytest.raises(ValueError, match="was trained on other pairs"):
        run_dpo(config, log=lambda _: None)


def test_reference_path_is_used_when_given(tmp_path, tiny_model_dir, toy_file):
    from rlvr_gym.trainers.tiny import TinyModelConfig, build_tiny_model

    other = build_tiny_model(tmp_path / "other", TinyModelConfig(), seed=1)
    result = run_dpo(
        _config(tmp_path, tiny_model_dir, toy_file, f"run_dir={tmp_path / 'r'}", f"model.ref_path={other}", "dpo.epochs=1"), log=lambda _: None
    )
    # a different reference: the implicit rewards no longer start at 0
    assert result.summary["ref"] == str(other.resolve())
    assert abs(result.summary["pairs_eval_before"]["pairs_eval/margin"]) > 1e-4


@pytest.mark.slow
def test_cli_ctrl_c_saves_and_resume_finishes(tmp_path, tiny_model_dir, toy_file):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO_ROOT

    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "rlvr_gym.cli", "dpo", "--data", str(toy_file), "--run-dir", str(run_dir)]
    for override in (f"model.path={tiny_model_dir}", f"data.eval_path={toy_file}", *SETTINGS, "num_threads=1"):
        command += ["--set", override]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    log = (tmp_path / "dpo.log").open("w")
    proc = subprocess.Popen([*command, "--set", "dpo.epochs=1000"], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "metrics.jsonl").is_file() or len((run_dir / "metrics.jsonl").read_text().splitlines()) < 3:
            assert proc.poll() is None, (tmp_path / "dpo.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no step logged within 120 s"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    output = (tmp_path / "dpo.log").read_text()
    assert returncode == 130 and "Traceback" not in output, output[-3000:]
    step = load_trainer_state(latest_checkpoint(run_dir))["step"]
    assert step >= 2 and json.loads((run_dir / "summary.json").read_text())["interrupted"]
    resumed = subprocess.run([*command, "--set", f"dpo.epochs={-(-step // 4) + 1}", "--resume"], capture_output=True, text=True, env=env, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "held-out pairs after: accuracy" in resumed.stdout
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(steps[-1] + 1)) and steps[-1] == (-(-step // 4) + 1) * 4


def test_pairs_over_max_length_are_dropped_and_counted(tmp_path, tiny_model_dir, toy_file):
    # "What is a + b?\n" is 15 bytes, "#### n" + EOS 7 (8 with two digits): 22 tokens unless a + b + 1 >= 10,
    # i.e. (2, 7), (3, 6), (3, 7): three of the 32 pairs
    result = run_dpo(_config(tmp_path, tiny_model_dir, toy_file, f"run_dir={tmp_path / 'r'}", "data.max_length=22", "dpo.epochs=1"), log=lambda _: None)
    assert result.summary["pairs_over_max_length"] == 3 and result.summary["pairs"] == 29
    assert result.summary["step"] == 4  # ceil(29 / 8)
