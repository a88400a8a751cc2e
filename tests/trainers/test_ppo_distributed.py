"""PPO over two processes (DeepSpeed ZeRO-2/3 on CPU: ``DS_ACCELERATOR=cpu``, gloo), launched as a
user launches it: ``python -m torch.distributed.run --nproc_per_node 2 -m rlvr_gym.cli train
--set strategy.distributed=zero2``.

With one optimizer update per step (``mini_batch_size = rollout_batch_size``, one epoch) the order
of the rows inside the update does not matter, so two processes holding half the batch each must
train what one process does with the whole batch: the same prompts and samples (prompt ``i`` of a
step draws with ``seed + step * B + i`` wherever it runs; the HF engine seeds each chunk of
``rollout.hf.max_batch_size`` prompts, so chunks of one prompt here), advantages whitened over the whole
batch, the loss a token mean over the whole mini-batch, so the same weights. The single-process
run (`SingleDevice`) is the reference.

About 15-25 s per launch on 2 cores.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.trainers.presets import PPO_WITH_CRITIC

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("deepspeed") is None, reason="deepspeed is not installed (pip install deepspeed==0.19.8)"
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[2]

ONE_UPDATE_PER_STEP = (
    *PPO_WITH_CRITIC,
    "task.source_options.digits=1",
    "ppo.rollout_batch_size=8",
    "ppo.mini_batch_size=8",
    "ppo.micro_batch_size=2",
    "ppo.ppo_epochs=1",
    "sampling.max_new_tokens=6",
    "sampling.temperature=1.0",
    "optim.lr=0.001",
    "optim.warmup_updates=0",
    "eval.size=8",
    "verify.workers=1",
    "num_threads=1",
    "rollout.engine=hf",
    "rollout.hf.max_batch_size=1",
    "log.progress_bar=false",
    "log.tensorboard=false",
)


def _env() -> dict[str, str]:
    env = dict(os.environ, DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _command(processes: int, run_dir: Path, model_dir: Path, overrides: tuple[str, ...]) -> list[str]:
    if processes == 1:
        launch = [sys.executable, "-m", "rlvr_gym.cli"]
    else:
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
        launch = [*torchrun, "-m", "rlvr_gym.cli"]
    command = [*launch, "train", "--run-dir", str(run_dir), "--set", f"model.path={model_dir}"]
    for override in (*ONE_UPDATE_PER_STEP, *overrides):
        command += ["--set", override]
    return command


def _train(processes: int, run_dir: Path, model_dir: Path, *overrides: str) -> list[dict]:
    proc = subprocess.run(
        _command(processes, run_dir, model_dir, overrides), env=_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=400
    )
    assert proc.returncode == 0, f"{processes} process(es) failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return _records(run_dir)


def _records(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def _final_checkpoint(run_dir: Path) -> Path:
    from rlvr_gym.trainers.checkpoint import latest_checkpoint

    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None
    return checkpoint


def _assert_same_training(single_dir: Path, dual_dir: Path, single: list[dict], dual: list[dict]) -> None:
    # one record per step, written once (by the main process)
    assert [r["step"] for r in dual] == [r["step"] for r in single] == list(range(len(single)))
    for a, b in zip(single, dual):
        for key in ("rewards/mean", "verifier/correct", "response/length", "response/eos_rate", "eval/accuracy"):
            assert (key in a) == (key in b), key
            if key in a:
                assert a[key] == pytest.approx(b[key], abs=1e-9), (a["step"], key)
        for key in ("kl/ref", "advantages/std_raw", "value/mean"):
            if key in a:
                assert a[key] == pytest.approx(b[key], abs=1e-4), (a["step"], key)
        if "grad_norm/policy" in a:  # the global gradient: order-free, so equal up to rounding
            assert a["grad_norm/policy"] == pytest.approx(b["grad_norm/policy"], rel=1e-3), a["step"]
    single_ckpt, dual_ckpt = _final_checkpoint(single_dir), _final_checkpoint(dual_dir)
    assert _max_diff(_weights(single_ckpt), _weights(dual_ckpt)) < 1e-5
    assert (dual_ckpt / "trainer_state.pt").is_file() and (dual_ckpt / "trainer_state.rank1.pt").is_file()
    summary = json.loads((dual_dir / "summary.json").read_text())
    assert summary["completed"] and summary["accuracy_after"] == single[-1]["eval/accuracy"]


def test_two_process_zero2_trains_what_one_process_does(tmp_path, tiny_model_dir):
    single = _train(1, tmp_path / "single", tiny_model_dir, "total_steps=3")
    dual = _train(2, tmp_path / "dual", tiny_model_dir, "total_steps=3", "strategy.distributed=zero2")
    _assert_same_training(tmp_path / "single", tmp_path / "dual", single, dual)


def test_two_process_zero3_with_an_ema_reference(tmp_path, tiny_model_dir):
    """ZeRO-3 shards the policy and the reference; the EMA update gathers each pair of parameters."""
    ema = ("total_steps=3", "ppo.ref_update=ema", "ppo.ref_ema_decay=0.5")
    single = _train(1, tmp_path / "single", tiny_model_dir, *ema)
    dual = _train(2, tmp_path / "dual", tiny_model_dir, *ema, "strategy.distributed=zero3")
    _assert_same_training(tmp_path / "single", tmp_path / "dual", single, dual)
    single_ref = _weights(_final_checkpoint(tmp_path / "single") / "ref_model")
    dual_ref = _weights(_final_checkpoint(tmp_path / "dual") / "ref_model")
    assert _max_diff(single_ref, dual_ref) < 1e-5
    start = _weights(tiny_model_dir)
    assert _max_diff(single_ref, start) > 1e-3  # the reference did move


def test_two_process_grpo_trains_what_one_process_does(tmp_path, tiny_model_dir):
    """Groups stay on one process; the KL loss term, truncated IS and the sequence-mean aggregation take their
    denominators (rows) over both processes; the old logprobs come from the update's own forward (on-policy)."""
    grpo = (
        "total_steps=3",
        "ppo.estimator=grpo",
        "ppo.group_size=2",
        "ppo.rollout_batch_size=4",
        "ppo.loss_aggregation=seq_mean_token_mean",
        "ppo.kl_mode=loss",
        "ppo.kl_estimator=k3",
        "ppo.tis=token",
    )
    single = _train(1, tmp_path / "single", tiny_model_dir, *grpo)
    dual = _train(2, tmp_path / "dual", tiny_model_dir, *grpo, "strategy.distributed=zero2")
    _assert_same_training(tmp_path / "single", tmp_path / "dual", single, dual)
    assert not (_final_checkpoint(tmp_path / "dual") / "value_model").exists()
    for a, b in zip(single[1:], dual[1:]):
        assert a["loss/kl"] == pytest.approx(b["loss/kl"], abs=1e-6)


def _worker_pid(launcher_pid: int, rank: int) -> int | None:
    """The launcher's child process with ``RANK=rank`` in its environment."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == launcher_pid and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the worker processes through /proc")
@pytest.mark.parametrize("how", ["sigint-to-rank-1", "sigterm-to-launcher"])
def test_a_stop_signal_stops_both_processes_at_the_same_step_and_resume_continues(how, tmp_path, tiny_model_dir):
    """SIGINT to rank 1 alone: rank 0 learns of it from the vote after the step. SIGTERM to the
    launcher (what a scheduler sends, and what torchrun passes on to its workers when it gets Ctrl-C):
    every worker gets SIGTERM, which requests a stop and never aborts."""
    from rlvr_gym.trainers.checkpoint import load_trainer_state

    run_dir = tmp_path / "run"
    log_path = tmp_path / "train.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            _command(2, run_dir, tiny_model_dir, ("total_steps=1000", "strategy.distributed=zero2")),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=REPO_ROOT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 240
            while not any(r["step"] >= 1 for r in _records(run_dir)):
                assert proc.poll() is None, log_path.read_text()[-4000:]
                assert time.monotonic() < deadline, "no step logged within 240 s"
                time.sleep(0.2)
            if how == "sigint-to-rank-1":
                rank1 = _worker_pid(proc.pid, 1)
                assert rank1 is not None, "rank 1 not found among the launcher's children"
                os.kill(rank1, signal.SIGINT)  # only rank 1 sees it: rank 0 must learn it from the step's vote
            else:
                os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=240)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    output = log_path.read_text()
    checkpoint = _final_checkpoint(run_dir)
    step = load_trainer_state(checkpoint, rank=0)["step"]
    assert load_trainer_state(checkpoint, rank=1)["step"] == step >= 1, output[-4000:]
    assert 1 <= step < 1000 and max(r["step"] for r in _records(run_dir)) == step
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] and not summary["completed"] and summary["step"] == step
    assert "KeyboardInterrupt" not in output, output[-4000:]  # no process aborted mid-step
    if how != "sigint-to-rank-1":
        return

    resumed = subprocess.run(
        _command(2, run_dir, tiny_model_dir, (f"total_steps={step + 2}", "strategy.distributed=zero2")) + ["--resume"],
        env=_env(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert [r["step"] for r in _records(run_dir)] == list(range(step + 3))  # step 0 is the evaluation before RL
    assert load_trainer_state(_final_checkpoint(run_dir), rank=1)["step"] == step + 2
