"""The critic-free estimators in the training loop (tiny random model, HF engine): what is built and skipped,
what is logged, resume equivalence with every knob on, dynamic sampling and reward mixing.

Each run is a few steps of 4 prompts x 4 samples of at most 6 tokens.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.trainers.algorithms.estimators import group_advantages  # noqa: E402
from rlvr_gym.trainers.config import AdvantageEstimator, TrainConfig, load_train_config  # noqa: E402
from rlvr_gym.trainers.ppo import PPOTrainer  # noqa: E402
from rlvr_gym.trainers.tracking import read_metrics  # noqa: E402
from rlvr_gym.trainers.train import run_training  # noqa: E402
from tests.trainers.presets import silent, without_timings  # noqa: E402


def grpo_config(run_dir: Path, model_dir: Path, *overrides: str) -> TrainConfig:
    return load_train_config(
        None,
        [
            f"run_dir={run_dir}",
            f"model.path={model_dir}",
            "total_steps=3",
            "task.source_options.digits=1",
            "ppo.estimator=grpo",
            "ppo.group_size=4",
            "ppo.rollout_batch_size=4",
            "ppo.mini_batch_size=16",
            "ppo.micro_batch_size=8",
            "ppo.kl.init_kl_coef=0",
            "sampling.max_new_tokens=6",
            "sampling.temperature=0.7",
            "rollout.engine=hf",
            "eval.size=8",
            "log.progress_bar=false",
            "log.tensorboard=false",
            "optim.lr=0.001",
            *overrides,
        ],
    )


def test_grpo_builds_no_value_model_and_with_beta_0_no_reference(tmp_path, tiny_model_dir):
    result = run_training(grpo_config(tmp_path / "run", tiny_model_dir), log=silent)
    assert result.completed
    checkpoint = Path(result.summary["checkpoint"])
    assert not (checkpoint / "value_model").exists() and not (checkpoint / "ref_model").exists()
    records = read_metrics(result.run_dir)
    for record in records[1:]:
        assert all(value is not None and math.isfinite(value) for value in record.values()), record
        assert not any(name.startswith(("value/", "kl/", "loss/value", "grad_norm/value")) for name in record), record
        # one update per step: the update's own forward is the old logprobs, and they match the engine's at
        # the sampling temperature (0.7): the weights pushed after each step arrived
        assert record["rollout/logprob_gap_max"] < 1e-4
        assert record["response/trained_share"] == 1.0


def test_on_policy_skips_the_old_logprob_forward_and_kl_loss_keeps_the_reference(tmp_path, tiny_model_dir):
    (tmp_path / "a").mkdir()
    with PPOTrainer(grpo_config(tmp_path / "a", tiny_model_dir, "eval.size=0"), tmp_path / "a", tiny_model_dir) as trainer:
        assert trainer.value is None and trainer.ref_model is None and trainer.on_policy
    (tmp_path / "b").mkdir()
    overrides = ("eval.size=0", "ppo.kl.init_kl_coef=0.05", "ppo.kl_mode=loss", "ppo.kl_estimator=k3", "ppo.mini_batch_size=8")
    with PPOTrainer(grpo_config(tmp_path / "b", tiny_model_dir, *overrides), tmp_path / "b", tiny_model_dir) as trainer:
        assert trainer.ref_model is not None and not trainer.on_policy  # two updates per step
        metrics = trainer.train_step()
        assert metrics["kl/ref"] == pytest.approx(0.0, abs=1e-6)  # step 1 samples from the reference itself
        assert metrics["loss/kl"] == pytest.approx(0.0, abs=1e-6) and metrics["kl/coef"] == 0.05


def test_the_step_trains_on_group_advantages_of_its_scores(tmp_path, tiny_model_dir):
    """Steps 1-4 by hand for one step: the batch's advantages are GRPO's over each prompt's 4 samples."""
    (tmp_path / "run").mkdir()
    config = grpo_config(tmp_path / "run", tiny_model_dir, "eval.size=0", "task.alpha=1.0")
    with PPOTrainer(config, tmp_path / "run", tiny_model_dir) as trainer:
        collected = trainer.collector.collect(0)
        assert len(collected.items) == 4 and len(collected.completions) == 16
        for g, item in enumerate(collected.items):  # each group: 4 samples of its own prompt
            prompt = trainer.tokenizer(trainer.prompt_text(item), add_special_tokens=False)["input_ids"]
            assert all(list(c.prompt_token_ids) == prompt for c in collected.completions[4 * g : 4 * g + 4])
        expected = group_advantages(collected.scores, AdvantageEstimator.GRPO, group_size=4)
        scores = collected.scores.view(4, 4)
        mean, std = scores.mean(dim=1, keepdim=True), scores.std(dim=1, keepdim=True)
        assert torch.allclose(expected.view(4, 4), (scores - mean) / (std + 1e-6), atol=1e-6)


def test_resume_with_every_knob_on_logs_the_same_metrics(tmp_path, tiny_model_dir):
    knobs = (
        "total_steps=4",
        "ppo.estimator=rloo",
        "ppo.kl.init_kl_coef=0.05",
        "ppo.kl_mode=loss",
        "ppo.kl_estimator=k3",
        "ppo.loss_aggregation=seq_mean_token_sum_norm",
        "ppo.clip_coef_high=0.28",
        "ppo.dual_clip=3.0",
        "ppo.tis=token",
        "ppo.overlong=soft_penalty",
        "ppo.overlong_buffer=2",
        "ppo.dynamic_sampling=true",
        "ppo.mini_batch_size=8",
        "task.rewards={correct: 1.0, format: 0.5}",
        "eval.every=2",
        "checkpoint.save_every=2",
    )
    whole = run_training(grpo_config(tmp_path / "whole", tiny_model_dir, *knobs), log=silent)
    first = run_training(grpo_config(tmp_path / "split", tiny_model_dir, *knobs), stop_after=2, log=silent)
    assert whole.completed and not first.completed
    resumed = run_training(grpo_config(tmp_path / "split", tiny_model_dir, *knobs, "checkpoint.resume=latest"), log=silent)
    expected, got = without_timings(read_metrics(whole.run_dir)), without_timings(read_metrics(resumed.run_dir))
    assert [r["step"] for r in got] == [0, 1, 2, 3, 4]
    assert [sorted(r) for r in got] == [sorted(r) for r in expected]
    for want, have in zip(expected, got):
        for name, value in want.items():
            assert have[name] == pytest.approx(value, rel=1e-6, abs=1e-6), f"step {want['step']}: {name}"
    for record in expected[1:]:
        for name in ("rewards/correct", "rewards/format", "tis/weight_mean", "policy/dual_clipfrac", "loss/kl"):
            assert name in record, name


def test_mixed_reward_is_the_weighted_sum_of_its_parts(tmp_path, tiny_model_dir):
    overrides = ("ppo.missing_eos=none", "task.rewards={correct: 1.0, format: 0.5}", "total_steps=2", "eval.size=0")
    records = read_metrics(run_training(grpo_config(tmp_path / "run", tiny_model_dir, *overrides), log=silent).run_dir)
    for record in records:
        assert record["rewards/mean"] == pytest.approx(record["rewards/correct"] + 0.5 * record["rewards/format"], abs=1e-6)
        assert record["rewards/format"] >= record["rewards/correct"]  # a correct answer was read, so it has the format


def test_dynamic_sampling_keeps_groups_with_signal_first(tmp_path, tiny_model_dir):
    (tmp_path / "run").mkdir()
    overrides = ("eval.size=0", "ppo.dynamic_sampling=true", "ppo.dynamic_sampling_max_rounds=4")
    with PPOTrainer(grpo_config(tmp_path / "run", tiny_model_dir, *overrides), tmp_path / "run", tiny_model_dir) as trainer:
        collected = trainer.collector.collect(0)
        groups = collected.scores.view(-1, 4)
        with_signal = (groups.amax(dim=1) > groups.amin(dim=1)).tolist()
        assert len(with_signal) == 4  # always the configured share of groups
        # groups with signal come first; any without fill the shortfall after the last round
        assert with_signal == sorted(with_signal, reverse=True)
        assert collected.groups_drawn == 4 * collected.rounds
        assert sum(with_signal) == min(4, collected.groups_drawn - collected.groups_dropped)
        if not all(with_signal):
            assert collected.rounds == 4
