"""Adapters: TRL's reward-function calling convention (real GRPOTrainer), veRL's compute_score."""

import importlib.util

import pytest

from rlvr_gym.envs import get_task, load_items
from rlvr_gym.envs.adapters import compute_score, make_trl_reward
from rlvr_gym.verifiers import get_verifier


def _arithmetic_batch(n=8):
    items = load_items(get_task("arithmetic"), "test")[:n]
    completions = [f"#### {item.ground_truth}" if i % 3 else "#### 0.5" for i, item in enumerate(items)]
    return items, completions


def test_trl_reward_returns_exactly_the_verifier_scores_inside_grpo_trainer(tmp_path):
    pytest.importorskip("trl", reason="trl is not installed (pip install 'rlvr-gym[train]')")
    pytest.importorskip("torch", reason="torch is not installed")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rlvr_gym.trainers.tiny import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "tiny")
    items, completions = _arithmetic_batch(8)
    reward = make_trl_reward("arithmetic", alpha=10.0, ground_truth_column="answer")
    dataset = Dataset.from_list([{"prompt": item.prompt, "answer": item.ground_truth} for item in items])
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4, max_completion_length=8,
        use_cpu=True, report_to="none", bf16=False, logging_steps=1, max_steps=1,
    )
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=[reward], args=args, train_dataset=dataset)
    inputs = [{"prompt": item.prompt, "answer": item.ground_truth} for item in items]
    prompts = [item.prompt for item in items]
    rewards = trainer._calculate_rewards(inputs, prompts, completions, [[1, 2]] * len(items))  # TRL's own call
    verifier = get_verifier("gsm8k", alpha=10.0)
    expected = [verifier.verify(c, item.ground_truth).score for c, item in zip(completions, items)]
    assert rewards[:, 0].tolist() == expected
    assert expected.count(10.0) == 5 and expected.count(0.0) == 3
    assert trainer.reward_func_names == ["rlvr_gym_gsm8k"]


def test_trl_reward_conversational_completions_and_worker_pool():
    items, completions = _arithmetic_batch(6)
    chat = [[{"role": "assistant", "content": c}] for c in completions]
    direct = make_trl_reward(verifier="gsm8k")
    pooled = make_trl_reward(verifier="gsm8k", workers=2)
    gts = [item.ground_truth for item in items]
    assert direct(prompts=None, completions=chat, ground_truth=gts) == pooled(prompts=None, completions=completions, ground_truth=gts)
    pooled.close()


def test_trl_reward_errors_name_what_is_wrong():
    reward = make_trl_reward(verifier="gsm8k")
    with pytest.raises(KeyError, match="needs a 'ground_truth' column"):
        reward(prompts=["p"], completions=["c"], answer=["1"], trainer_state=None)
    with pytest.raises(ValueError, match="2 completions but 1 ground truths"):
        reward(prompts=["p", "q"], completions=["c", "d"], ground_truth=["1"])
    with pytest.raises(TypeError, match="completion 0: expected a string or a list of chat messages"):
        reward(prompts=["p"], completions=[42], ground_truth=["1"])
    with pytest.raises(ValueError, match="exactly one of task= or verifier="):
        make_trl_reward()


def test_verl_compute_score_loaded_by_path_as_verl_does():
    import rlvr_gym.envs.adapters.verl as module

    spec = importlib.util.spec_from_file_location("custom_module", module.__file__)  # veRL's loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    score = loaded.compute_score
    assert score(data_source="openai/gsm8k", solution_str="so #### 72", ground_truth="72", extra_info={"split": "test"}) == 1.0
    assert score(data_source="openai/gsm8k", solution_str="so #### 71", ground_truth="72", extra_info=None) == 0.0
    assert score("countdown", "<answer>(3 + 5) * 2</answer>", {"numbers": [3, 5, 2], "target": 16}, {"alpha": 10}) == 10.0
    assert compute_score("countdown", "<answer>3 * 3</answer>", {"numbers": [3, 5, 2], "target": 9}, None) == 0.0  # 3 used twice
    with pytest.raises(ValueError, match="no verifier for data_source 'nope'"):
        compute_score("nope", "x", "1", None)
