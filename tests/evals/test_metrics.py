"""pass@k against hand-computed values."""

import math

import pytest

from rlvr_gym.evals.metrics import ifeval_accuracies, mean_pass_at_k, pass_at_k

# (n, c, k, expected) worked out by hand: 1 - C(n-c, k) / C(n, k)
CASES = [
    (1, 1, 1, 1.0),  # n = k, all correct
    (1, 0, 1, 0.0),  # n = k, none correct
    (5, 0, 3, 0.0),  # none correct
    (5, 5, 3, 1.0),  # all correct
    (4, 1, 1, 0.25),  # 1 - C(3,1)/C(4,1) = 1 - 3/4
    (4, 1, 4, 1.0),  # n = k with one correct: certain
    (4, 2, 2, 5 / 6),  # 1 - C(2,2)/C(4,2) = 1 - 1/6
    (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (10, 3, 5, 11 / 12),  # 1 - C(7,5)/C(10,5) = 1 - 21/252
    (3, 1, 3, 1.0),  # n - c = 2 < k = 3
]


@pytest.mark.parametrize("n,c,k,expected", CASES)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_pass_at_1_is_the_fraction_correct():
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)


def test_mean_over_problems():
    # problem A: 2 of 4 correct; problem B: 0 of 4. pass@1 = (1/2 + 0) / 2; pass@2 = (5/6 + 0) / 2
    result = mean_pass_at_k([[True, False, True, False], [False] * 4], ks=[1, 2, 4])
    assert result == pytest.approx({1: 0.25, 2: 5 / 12, 4: 0.5})


@pytest.mark.parametrize("args", [(3, 4, 1), (3, 1, 0), (3, 1, 4), (-1, 0, 1)])
def test_bad_arguments(args):
    with pytest.raises(ValueError):
        pass_at_k(*args)


def test_mean_needs_equal_sample_counts():
    with pytest.raises(ValueError, match="same number of samples"):
        mean_pass_at_k([[True], [True, False]], ks=[1])


def test_ifeval_accuracies_by_hand():
    strict = [
        {"instructions": [{"id": "a", "followed": True}, {"id": "b", "followed": False}]},
        {"instructions": [{"id": "a", "followed": True}]},
    ]
    loose = [
        {"instructions": [{"id": "a", "followed": True}, {"id": "b", "followed": True}]},
        {"instructions": [{"id": "a", "followed": False}]},
    ]
    acc = ifeval_accuracies(strict, loose)
    assert acc["prompt_level_strict"] == 0.5 and acc["inst_level_strict"] == pytest.approx(2 / 3)
    assert acc["prompt_level_loose"] == 0.5 and acc["inst_level_loose"] == pytest.approx(2 / 3)
    assert acc["per_instruction_strict"] == {"a": 1.0, "b": 0.0}
    assert acc["prompt_count_strict"] == [1, 2] and acc["inst_count_loose"] == [2, 3]


# --- which items a procedural task evaluates


def test_a_procedural_task_evaluates_distinct_held_out_problems():
    from rlvr_gym.envs import get_task, load_items
    from rlvr_gym.evals.harness import load_eval_items
    from rlvr_gym.evals.prompts import setting_for

    options = {"digits": 2, "operators": "+"}
    items = load_eval_items("arithmetic", setting_for("arithmetic"), limit=500, source_options=options)
    prompts = [item.prompt for item in items]
    assert len(prompts) == 500 == len(set(prompts))  # the first 607 test items hold these 500 problems
    raw = load_items(get_task("arithmetic"), "test", options)
    assert len({raw[i].prompt for i in range(607)}) == 500 and len({raw[i].prompt for i in range(606)}) == 499
    train = load_items(get_task("arithmetic"), "train", options)
    assert not set(prompts) & {train[i].prompt for i in range(len(train))}  # held out: no training problem
