"""The vector env: a batch verified through the batch engine, SameStep autoreset."""

import json

import numpy as np
import pytest

from rlvr_gym.envs import RLVRVectorEnv
from tests.conftest import require_data


def test_1024_gsm8k_gold_solutions_score_alpha_each():
    path = require_data("gsm8k/test.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    envs = RLVRVectorEnv("gsm8k", num_envs=1024, split="test", alpha=10.0, workers=2)
    indices = np.arange(1024)
    observations, info = envs.reset(seed=0, options={"indices": indices})
    assert len(observations) == 1024 and observations[5].startswith(rows[5]["question"])
    observations, rewards, terminated, truncated, info = envs.step([rows[i]["answer"] for i in indices])
    envs.close()
    assert rewards.shape == (1024,) and (rewards == 10.0).all()
    assert terminated.all() and not truncated.any()
    assert info["verifier_counts"]["correct"] == 1024
    assert list(info["final_info"]["item_id"][:3]) == ["0", "1", "2"]
    assert len(observations) == 1024  # SameStep autoreset: the next prompts are already here


def test_rewards_line_up_with_actions_and_seeding_is_reproducible():
    envs = RLVRVectorEnv("arithmetic", num_envs=8, workers=0)
    first, _ = envs.reset(seed=3)
    again, _ = envs.reset(seed=3)
    assert first == again
    answers = [envs.items[i].ground_truth for i in envs._indices]
    actions = [f"#### {a}" if k % 2 == 0 else "#### -99999" for k, a in enumerate(answers)]
    _, rewards, _, _, info = envs.step(actions)
    assert list(rewards) == [1.0, 0.0] * 4
    assert list(info["final_info"]["reason"]) == ["correct", "wrong_answer"] * 4
    np.testing.assert_array_equal(info["final_obs"], np.array(first, dtype=object))


def test_bad_batches():
    envs = RLVRVectorEnv("arithmetic", num_envs=2, workers=0)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(["a", "b"])
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="expected 2 actions, got 1"):
        envs.step(["a"])
    with pytest.raises(ValueError, match=r"options\['indices'\] must be 2 ints"):
        envs.reset(options={"indices": [1, 2, 3]})
