"""benchmarks/bench_vs_trl.py pairs our GRPO config with TRL 1.16's GRPOConfig: both describe the same job.

The benchmark itself is timed and is not run here; these checks catch a renamed config key or a
changed TRL default before a long benchmark run would.
"""

import importlib.util
import json
import sys

import pytest

from tests.conftest import REPO_ROOT

pytest.importorskip("trl")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_vs_trl", REPO_ROOT / "benchmarks" / "bench_vs_trl.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture
def job(bench, tmp_path):
    def make(size="tiny", micro=64, lr=6e-5):
        model = tmp_path / "model"
        model.mkdir(exist_ok=True)
        (model / "config.json").write_text(json.dumps({}))  # the config check only looks for the file
        return bench.Job(bench.SIZES[size], model, steps=3, threads=2, seed=0, lr=lr, micro_batch_size=micro)

    return make


def test_our_config_is_trls_job(bench, job):
    from rlvr_gym.trainers.config import load_train_config

    config = load_train_config(None, bench.our_overrides(job("smollm2", micro=16, lr=6e-5)))
    ppo = config.ppo
    # 8 prompts x 8 samples, one update over the 64 completions (TRL: generation batch = one optimizer step)
    assert (ppo.estimator.value, ppo.group_size, ppo.rollout_batch_size) == ("grpo", 8, 8)
    assert (ppo.completions_per_step, ppo.mini_batch_size, ppo.micro_batch_size, ppo.ppo_epochs) == (64, 64, 16, 1)
    # TRL: beta * k3 in the loss, epsilon 0.2, loss_type dapo = token mean over the batch, no EOS penalty
    assert (ppo.kl_mode.value, ppo.kl_estimator.value, ppo.kl.kind.value, ppo.kl.init_kl_coef) == ("loss", "k3", "fixed", 0.05)
    assert (ppo.loss_aggregation.value, ppo.clip_coef, ppo.clip_coef_high, ppo.missing_eos.value) == ("token_mean", 0.2, None, "none")
    # sampling, learning rate (written as a YAML float: 6e-05 alone would be a string), schedule
    assert (config.sampling.temperature, config.sampling.top_p, config.sampling.top_k, config.sampling.max_new_tokens) == (1.0, 1.0, 0, 64)
    assert (config.optim.lr, config.optim.scheduler.value, config.optim.warmup_updates, config.optim.max_grad_norm) == (
        6e-5,
        "constant",
        0,
        1.0,
    )
    assert (config.task.prompt_format.value, config.rollout.engine.value, config.strategy.dtype.value) == ("chat", "hf", "float32")


def test_trl_config_is_our_job(bench, job, tmp_path):
    args = bench.trl_config(job("tiny", micro=16), tmp_path / "trl")
    # 64 completions per optimizer step in 4 micro-batches of 16, generated once per step
    assert (args.generation_batch_size, args.steps_per_generation, args.gradient_accumulation_steps) == (64, 4, 4)
    assert (args.per_device_train_batch_size, args.num_generations, args.num_iterations) == (16, 8, 1)
    assert (args.beta, args.epsilon, args.epsilon_high, args.loss_type, args.scale_rewards) == (0.05, 0.2, None, "dapo", "group")
    assert (args.temperature, args.top_p, args.top_k, args.max_completion_length) == (1.0, 1.0, 0, 12)
    assert (args.learning_rate, args.lr_scheduler_type.value, args.warmup_steps, args.max_grad_norm) == (6e-5, "constant", 0, 1.0)
    assert (args.bf16, args.gradient_checkpointing, args.use_vllm, args.shuffle_dataset, args.device.type) == (
        False,
        False,
        False,
        False,
        "cpu",
    )
