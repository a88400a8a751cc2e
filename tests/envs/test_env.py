"""Gymnasium environments: check_env over every registered env, seeding, options, multi-turn."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlvr_gym
from rlvr_gym.envs import DataNotFound, RLVREnv, get_task, list_tasks, load_items
from tests.conftest import data_dir

DATA_TASKS = {
    "gsm8k": "gsm8k/train.jsonl",
    "math": "math/hendrycks_math/train.jsonl",
    "math500": "math/math500/test.jsonl",
    "ifeval": "ifeval/input_data.jsonl",
}


def _data_available(task_name):
    return task_name not in DATA_TASKS or (data_dir() / DATA_TASKS[task_name]).exists()


@pytest.mark.parametrize("spec", list_tasks(), ids=lambda s: s.gym_id)
def test_check_env_passes_for_every_registered_env(spec):
    if not _data_available(spec.name):
        pytest.skip(f"real data not found for {spec.name}: {data_dir() / DATA_TASKS[spec.name]}")
    env = gymnasium.make(spec.gym_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_builtin_ids():
    ids = {spec.gym_id for spec in list_tasks()}
    assert {
        "rlvr_gym/GSM8K-v0",
        "rlvr_gym/MATH-v0",
        "rlvr_gym/MATH500-v0",
        "rlvr_gym/IFEval-v0",
        "rlvr_gym/Arithmetic-v0",
        "rlvr_gym/Countdown-v0",
    } <= ids


@pytest.mark.parametrize("gym_id", ["rlvr_gym/Arithmetic-v0", "rlvr_gym/Countdown-v0"])
def test_same_seed_same_prompts(gym_id):
    def prompts(seed):
        env = gymnasium.make(gym_id)
        out = [env.reset(seed=seed)[0]] + [env.reset()[0] for _ in range(9)]
        env.close()
        return out

    assert prompts(7) == prompts(7)
    assert prompts(7) != prompts(8)


def test_reset_with_index_and_step_reward():
    env = RLVREnv("arithmetic", alpha=10.0)
    obs, info = env.reset(options={"index": 3})
    item = env.items[3]
    assert info["item_id"] == item.id and info["index"] == 3 and info["task"] == "arithmetic"
    assert obs.startswith(item.prompt) and "####" in obs
    assert info["messages"] == [{"role": "user", "content": obs}]
    obs, reward, terminated, truncated, info = env.step(f"#### {item.ground_truth}")
    assert (obs, reward, terminated, truncated) == ("", 10.0, True, False)
    assert info["reason"] == "correct" and info["extracted"] == item.ground_truth and info["correct"] is True
    with pytest.raises(RuntimeError, match="episode has ended"):
        env.step("again")


def test_wrong_and_empty_responses():
    env = RLVREnv("arithmetic")
    env.reset(options={"index": 0})
    _, reward, _, _, info = env.step("#### 123456789")
    assert reward == 0.0 and info["reason"] == "wrong_answer"
    env.reset(options={"index": 0})
    assert env.step("")[4]["reason"] == "no_answer"


def test_multi_turn_feeds_back_the_reason_and_rewards_the_last_attempt():
    env = RLVREnv("arithmetic", max_attempts=3)
    prompt, _ = env.reset(options={"index": 1})
    answer = env.items[1].ground_truth
    obs, reward, terminated, _, info = env.step("I am not sure.")
    assert (reward, terminated, info["attempt"]) == (0.0, False, 1)
    assert obs.startswith(prompt) and "No final answer could be read" in obs and "2 attempts left" in obs
    obs, reward, terminated, _, _ = env.step("#### -1")
    assert (reward, terminated) == (0.0, False) and "not correct" in obs and "1 attempt left" in obs
    obs, reward, terminated, _, info = env.step(f"#### {answer}")
    assert (obs, reward, terminated, info["attempt"]) == ("", 1.0, True, 3)


def test_multi_turn_ends_after_k_attempts():
    env = RLVREnv("arithmetic", max_attempts=2)
    env.reset(options={"index": 1})
    assert env.step("#### -1")[2] is False
    assert env.step("#### -1")[1:3] == (0.0, True)


def test_difficulty_knob_and_disjoint_splits():
    easy = RLVREnv("arithmetic", source_options={"digits": 1})
    hard = RLVREnv("arithmetic", source_options={"digits": 4})
    a, _ = easy.reset(seed=0)
    b, _ = hard.reset(seed=0)
    def numbers(text: str) -> list[int]:
        return [int(tok) for tok in text.split("?")[0].split() if tok.isdigit()]

    assert all(n < 10 for n in numbers(a)) and all(1000 <= n < 10000 for n in numbers(b))
    train = {item.prompt for item in load_items(get_task("arithmetic"), "train")[:2000]}
    test = {item.prompt for item in load_items(get_task("arithmetic"), "test")[:2000]}
    assert train and test and not train & test


def test_bad_arguments_are_clear_errors():
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        RLVREnv("nope")
    with pytest.raises(KeyError, match="has no split 'validation'"):
        RLVREnv("arithmetic", split="validation")
    with pytest.raises(ValueError, match="max_attempts"):
        RLVREnv("arithmetic", max_attempts=0)
    with pytest.raises(ValueError, match="bad source option"):
        RLVREnv("arithmetic", source_options={"digitz": 3})
    env = RLVREnv("arithmetic")
    with pytest.raises(RuntimeError, match="reset"):
        env.step("x")
    with pytest.raises(ValueError, match=r"options\['index'\]"):
        env.reset(options={"index": 10**9})


def test_missing_data_file_names_the_file_and_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("RLVR_GYM_DATA", str(tmp_path))
    from rlvr_gym.envs.registration import _gsm8k

    with pytest.raises(DataNotFound, match=r"gsm8k/train.jsonl \(a .jsonl or .parquet with fields question, answer"):
        _gsm8k("train").load()


def test_chat_format_needs_a_chat_template():
    with pytest.raises(ValueError, match="chat template"):
        RLVREnv("arithmetic", prompt_format="chat").reset(seed=0)


def test_lazy_top_level_exports():
    assert rlvr_gym.register_task is __import__("rlvr_gym.envs", fromlist=["register_task"]).register_task
    with pytest.raises(AttributeError):
        rlvr_gym.nope  # noqa: B018 - the attribute access is the test


def test_real_data_envs_give_data_items():
    if not _data_available("ifeval"):
        pytest.skip(f"real data not found: {data_dir()}")
    env = gymnasium.make("rlvr_gym/IFEval-v0")
    obs, info = env.reset(options={"index": 0})
    gt = env.unwrapped.items[0].ground_truth
    assert obs == gt["prompt"] and set(gt) == {"instruction_id_list", "kwargs", "prompt"}
    assert all(v is not None for kw in gt["kwargs"] for v in kw.values())
    assert len(env.unwrapped.items) == 541
    assert np.isfinite(env.step("hello")[1])
