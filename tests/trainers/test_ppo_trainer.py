"""The PPO loop on the tiny random model with the HF engine: resume equivalence, wiring, checkpoints.

Each run is a few steps of 8 completions of at most 6 tokens (about 0.3 s a step on 2 cores).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.trainers.algorithms.ppo import sequence_scores  # noqa: E402
from rlvr_gym.trainers.config import MissingEOSPenalty, TrainConfig, load_train_config  # noqa: E402
from rlvr_gym.trainers.ppo import PPOTrainer  # noqa: E402
from rlvr_gym.trainers.tracking import read_metrics  # noqa: E402
from rlvr_gym.trainers.train import run_training  # noqa: E402
from tests.trainers.presets import PPO_WITH_CRITIC, silent, without_timings  # noqa: E402


def tiny_config(run_dir: Path, model_dir: Path, *overrides: str) -> TrainConfig:
    return load_train_config(
        None,
        [
            f"run_dir={run_dir}",
            f"model.path={model_dir}",
            *PPO_WITH_CRITIC,
            "total_steps=4",
            "task.source_options.digits=1",
            "ppo.rollout_batch_size=8",
            "ppo.mini_batch_size=4",
            "ppo.micro_batch_size=2",
            "sampling.max_new_tokens=6",
            "sampling.temperature=1.0",
            "rollout.engine=hf",
            "eval.size=8",
            "log.progress_bar=false",
            "log.tensorboard=false",
            "optim.lr=0.001",
            *overrides,
        ],
    )


def test_resumed_run_logs_the_same_metrics(tmp_path, tiny_model_dir):
    # every piece of state in play: EMA reference, adaptive KL, a linear schedule, evals, warm-up
    state_heavy = (
        "ppo.ref_update=ema",
        "ppo.ref_ema_decay=0.5",
        "ppo.kl.kind=adaptive",
        "ppo.kl.target=0.01",
        "ppo.kl.horizon=50",
        "ppo.kl_estimator=k3",
        "optim.scheduler=linear",
        "optim.warmup_updates=3",
        "eval.every=2",
        "checkpoint.save_every=2",
    )
    whole = run_training(tiny_config(tmp_path / "whole", tiny_model_dir, *state_heavy), log=silent)
    assert whole.completed

    first = run_training(tiny_config(tmp_path / "split", tiny_model_dir, *state_heavy), stop_after=2, log=silent)
    assert not first.completed and first.summary["step"] == 2
    resumed = run_training(
        tiny_config(tmp_path / "split", tiny_model_dir, *state_heavy, "checkpoint.resume=latest"), log=silent
    )
    assert resumed.completed and resumed.summary["step"] == 4

    expected, got = without_timings(read_metrics(whole.run_dir)), without_timings(read_metrics(resumed.run_dir))
    assert [r["step"] for r in got] == [0, 1, 2, 3, 4]
    assert [sorted(r) for r in got] == [sorted(r) for r in expected]
    for want, have in zip(expected, got):
        for name, value in want.items():
            assert have[name] == pytest.approx(value, rel=1e-6, abs=1e-6), f"step {want['step']}: {name}"
    assert resumed.summary["accuracy_before"] == whole.summary["accuracy_before"]
    assert resumed.summary["accuracy_after"] == whole.summary["accuracy_after"]


def test_end_to_end_metrics_are_finite_and_the_checkpoint_reloads(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr_gym.cli import main as cli_main
    from rlvr_gym.trainers.value_model import ValueModel

    config = tiny_config(tmp_path / "run", tiny_model_dir, "total_steps=3", "log.tensorboard=true")
    result = run_training(config, log=silent)
    records = read_metrics(result.run_dir)
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    for record in records[1:]:
        assert all(value is not None and math.isfinite(value) for value in record.values()), record
        for name in ("rewards/mean", "kl/ref", "loss/policy", "loss/value", "response/length", "time/generation",
                     "time/verification", "time/forward_backward", "time/weight_sync"):  # fmt: skip
            assert name in record
        # the engine's logprobs match the trainer's: the weights pushed after each step arrived
        assert record["rollout/logprob_gap_max"] < 1e-4
    assert "eval/accuracy" in records[0] and "eval/accuracy" in records[-1]

    checkpoint = Path(result.summary["checkpoint"])
    assert checkpoint.name == "step-000003"
    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    assert tokenizer("12")["input_ids"]
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    moved = [not torch.equal(a, b) for a, b in zip(model.state_dict().values(), start.state_dict().values())]
    assert any(moved), "the saved policy is the starting one: no update reached the checkpoint"
    ValueModel.from_pretrained(checkpoint / "value_model")
    assert list((result.run_dir / "tensorboard").glob("events.out.tfevents.*"))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["completed"] and summary["checkpoint"] == str(checkpoint)

    assert cli_main(["plot", str(result.run_dir)]) == 0
    assert (result.run_dir / "curves.png").stat().st_size > 1000


def _trainer(tmp_path: Path, model_dir: Path, *overrides: str) -> PPOTrainer:
    config = tiny_config(tmp_path / "run", model_dir, "eval.size=0", *overrides)
    (tmp_path / "run").mkdir()
    return PPOTrainer(config, tmp_path / "run", model_dir)


def test_ema_with_decay_zero_makes_the_reference_the_policy(tmp_path, tiny_model_dir):
    with _trainer(tmp_path, tiny_model_dir, "ppo.ref_update=ema", "ppo.ref_ema_decay=0") as trainer:
        trainer.train_step()
        for ref, policy in zip(trainer.ref_model.parameters(), trainer.policy.module.parameters()):
            assert torch.equal(ref, policy)
        # and the engine holds the same weights (the sync after the update)
        engine_state = trainer.engine.model.state_dict()
        for name, tensor in trainer.policy.module.named_parameters():
            assert torch.equal(engine_state[name], tensor), name


def test_frozen_reference_stays_the_start(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with _trainer(tmp_path, tiny_model_dir, "ppo.ref_update=frozen") as trainer:
        trainer.train_step()
        for ref, original in zip(trainer.ref_model.parameters(), start.parameters()):
            assert torch.equal(ref, original)
        changed = [not torch.equal(p, o) for p, o in zip(trainer.policy.module.parameters(), start.parameters())]
        assert any(changed)


def test_missing_eos_penalty_variants():
    scores, finished = [10.0, 0.0, 10.0, 0.0], [True, True, False, False]
    assert sequence_scores(scores, finished, MissingEOSPenalty.NONE, 2.0).tolist() == [10.0, 0.0, 10.0, 0.0]
    assert sequence_scores(scores, finished, MissingEOSPenalty.REPLACE, 2.0).tolist() == [10.0, 0.0, -2.0, -2.0]
    assert sequence_scores(scores, finished, MissingEOSPenalty.SUBTRACT, 2.0).tolist() == [10.0, 0.0, 8.0, -2.0]


def test_missing_eos_penalty_reaches_the_reward(tmp_path, tiny_model_dir):
    # a random model almost never emits EOS within 3 tokens and is never right: its score is the penalty
    with _trainer(
        tmp_path, tiny_model_dir, "sampling.max_new_tokens=3", "ppo.missing_eos=replace", "ppo.missing_eos_penalty=3"
    ) as trainer:
        step = trainer.train_step()
    assert step["verifier/correct"] == 0.0
    assert step["rewards/mean"] == pytest.approx(-3.0 * (1.0 - step["response/eos_rate"]))
