"""Critic-free estimators against numbers worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from rlvr_gym.trainers.algorithms.estimators import (  # noqa: E402
    GRPO_EPS,
    as_groups,
    dr_grpo_advantages,
    group_advantages,
    groups_with_signal,
    grpo_advantages,
    reinforce_pp_advantages,
    rloo_advantages,
    to_token_advantages,
)
from rlvr_gym.trainers.config import AdvantageEstimator  # noqa: E402
from tests.trainers.algorithms.tensors import close, on_two_processes, t  # noqa: E402

E = GRPO_EPS
S3 = math.sqrt(3)

# One group per case: rewards, then the exact advantages of each estimator.
#   grpo      (r - mean) / (unbiased std + eps)
#   grpo_pop  (r - mean) / (population std + eps)   (open-instruct's np.std)
#   dr_grpo   r - mean
#   rloo      r - mean of the other n - 1
GROUP_CASES = [
    # --- the group of 4: two right (10), two wrong (0)
    # mean 5, deviations +-5; squared deviations sum 100: unbiased var 100/3, std 10/sqrt(3); population std 5
    # rloo: 10 - (0 + 0 + 10)/3 = 20/3;  0 - (10 + 0 + 10)/3 = -20/3
    (
        "two_of_four",
        [10, 0, 0, 10],
        {
            "grpo": [5 / (10 / S3 + E), -5 / (10 / S3 + E), -5 / (10 / S3 + E), 5 / (10 / S3 + E)],  # ~ +-sqrt(3)/2
            "grpo_pop": [5 / (5 + E), -5 / (5 + E), -5 / (5 + E), 5 / (5 + E)],  # ~ +-1
            "dr_grpo": [5, -5, -5, 5],
            "rloo": [20 / 3, -20 / 3, -20 / 3, 20 / 3],
        },
    ),
    # --- one right of four (a hard prompt): the rare success gets the large advantage
    # mean 0.25; deviations 0.75, -0.25 x3; squares 0.5625 + 3 * 0.0625 = 0.75
    # unbiased var 0.75/3 = 0.25, std 0.5; population var 0.75/4 = 0.1875, std sqrt(3)/4
    # rloo: 1 - 0 = 1;  0 - 1/3 = -1/3
    (
        "one_of_four",
        [1, 0, 0, 0],
        {
            "grpo": [0.75 / (0.5 + E)] + [-0.25 / (0.5 + E)] * 3,  # ~ 1.5, -0.5
            "grpo_pop": [0.75 / (S3 / 4 + E)] + [-0.25 / (S3 / 4 + E)] * 3,  # ~ sqrt(3), -1/sqrt(3)
            "dr_grpo": [0.75, -0.25, -0.25, -0.25],
            "rloo": [1, -1 / 3, -1 / 3, -1 / 3],
        },
    ),
    # --- all the same: no signal, every estimator gives 0 (std 0, so GRPO divides 0 by eps)
    ("all_equal", [3, 3, 3, 3], {"grpo": [0] * 4, "grpo_pop": [0] * 4, "dr_grpo": [0] * 4, "rloo": [0] * 4}),
    # --- the smallest group, n = 2: mean 0.5, unbiased var 0.5 (std 1/sqrt(2)), population std 0.5
    # rloo: 1 - 0 = 1, 0 - 1 = -1 (the other sample is the whole baseline)
    (
        "pair",
        [1, 0],
        {
            "grpo": [0.5 / (1 / math.sqrt(2) + E), -0.5 / (1 / math.sqrt(2) + E)],  # ~ +-1/sqrt(2)
            "grpo_pop": [0.5 / (0.5 + E), -0.5 / (0.5 + E)],
            "dr_grpo": [0.5, -0.5],
            "rloo": [1, -1],
        },
    ),
    # --- graded rewards, n = 3: mean 5, deviations -3, -1, 4; squares 9 + 1 + 16 = 26
    # unbiased var 13; population var 26/3; rloo = 3/2 * deviation: 2 - 13/2 = -4.5, 4 - 11/2 = -1.5, 9 - 3 = 6
    (
        "graded_three",
        [2, 4, 9],
        {
            "grpo": [d / (math.sqrt(13) + E) for d in (-3, -1, 4)],
            "grpo_pop": [d / (math.sqrt(26 / 3) + E) for d in (-3, -1, 4)],
            "dr_grpo": [-3, -1, 4],
            "rloo": [-4.5, -1.5, 6],
        },
    ),
]

ESTIMATORS = {
    "grpo": lambda r, n: grpo_advantages(r, n),
    "grpo_pop": lambda r, n: grpo_advantages(r, n, unbiased=False),
    "dr_grpo": lambda r, n: dr_grpo_advantages(r, n),
    "rloo": lambda r, n: rloo_advantages(r, n),
}


@pytest.mark.parametrize("name, rewards, expected", GROUP_CASES, ids=[case[0] for case in GROUP_CASES])
@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_group_estimators_by_hand(name, rewards, expected, estimator):
    advantages = ESTIMATORS[estimator](t(rewards), len(rewards))
    close(advantages, expected[estimator], tol=1e-12)


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_groups_of_a_batch_do_not_mix_and_shapes_are_kept(estimator):
    # two prompts x four samples: flat (B,) with group_size 4, or (P, n) = (2, 4); each group as alone above
    first, second = GROUP_CASES[0], GROUP_CASES[1]
    flat = ESTIMATORS[estimator](t(first[1] + second[1]), 4)
    close(flat, first[2][estimator] + second[2][estimator], tol=1e-12)
    grid = ESTIMATORS[estimator](t([first[1], second[1]]), None)
    assert grid.shape == (2, 4)
    close(grid, [first[2][estimator], second[2][estimator]], tol=1e-12)


def test_rloo_is_dr_grpo_scaled_by_n_over_n_minus_1():
    rewards = t([0.3, 1.7, -2.0, 5.5, 0.0])
    close(rloo_advantages(rewards, 5), dr_grpo_advantages(rewards, 5) * 5 / 4, tol=1e-12)


# --------------------------------------------------------------------------- dispatch and errors


def test_group_advantages_dispatches_by_enum_or_string():
    rewards = t([10, 0, 0, 10])
    close(group_advantages(rewards, AdvantageEstimator.DR_GRPO, 4), [5, -5, -5, 5])
    close(group_advantages(rewards, "rloo", 4), [20 / 3, -20 / 3, -20 / 3, 20 / 3])
    a = 5 / (10 / S3 + E)
    close(group_advantages(rewards, "grpo", 4), [a, -a, -a, a], tol=1e-12)


@pytest.mark.parametrize(
    "estimator, message",
    [
        ("gae", "value model"),  # GAE needs the critic: algorithms.ppo.gae
        ("reinforce_pp", "reinforce_pp_advantages"),  # per token, with the KL in the reward
    ],
)
def test_group_advantages_refuses_the_per_token_estimators(estimator, message):
    with pytest.raises(ValueError, match=message):
        group_advantages(t([1, 0]), estimator, 2)


BAD_SCORES = [
    # what, scores, group_size, message
    ("integers", torch.tensor([1, 0, 1, 0]), 2, "floating-point"),
    ("flat without group size", t([1, 0, 1, 0]), None, "group_size"),
    ("size does not divide", t([1, 0, 1, 0]), 3, "divide"),
    ("group of one", t([1, 0, 1, 0]), 1, "group_size must be >= 2"),
    ("grid of single samples", t([[1], [0]]), None, "at least two samples"),
    ("grid with other group size", t([[1, 0], [0, 1]]), 4, "does not match"),
    ("NaN score", t([1, float("nan"), 0, 1]), 2, "finite"),
    ("infinite score", t([[1, float("inf")]]), None, "finite"),
    ("three dimensions", t([[[1, 0]]]), None, r"\(B,\) or \(P, n\)"),
    ("empty", t([]), 2, "one group"),
]


@pytest.mark.parametrize("what, scores, group_size, message", BAD_SCORES, ids=[case[0] for case in BAD_SCORES])
def test_bad_scores_are_named(what, scores, group_size, message):
    with pytest.raises(ValueError, match=message):
        as_groups(scores, group_size)


def test_to_token_advantages_spreads_over_response_tokens():
    mask = t([[1, 1, 0], [0, 1, 1]])  # row 1: a one-token prompt before the response
    close(to_token_advantages(t([2.0, -1.0]), mask), [[2, 2, 0], [0, -1, -1]])
    with pytest.raises(ValueError, match="B = 2"):
        to_token_advantages(t([2.0, -1.0, 3.0]), mask)


# --------------------------------------------------------------------------- REINFORCE++


def test_reinforce_pp_without_kl_whitens_returns_over_tokens():
    # the group [10, 0, 0, 10], responses of 2, 1, 1, 2 tokens; no KL, gamma 1: every token's return is r
    mask = t([[1, 1], [1, 0], [1, 0], [1, 1]])
    advantages, returns = reinforce_pp_advantages(t([10, 0, 0, 10]), torch.zeros(4, 2, dtype=torch.float64), 0.1, mask)
    close(returns, [[10, 10], [0, 0], [0, 0], [10, 10]])
    # tokens 10, 10, 0, 0, 10, 10: mean 40/6 = 20/3; deviations 10/3 (x4), -20/3 (x2)
    # biased var (4 * 100/9 + 2 * 400/9) / 6 = 200/9, std 10*sqrt(2)/3
    #   10 -> (10/3) / (10 sqrt(2) / 3) = 1/sqrt(2);  0 -> (-20/3) / (10 sqrt(2) / 3) = -sqrt(2)
    a, b = 1 / math.sqrt(2), -math.sqrt(2)
    close(advantages, [[a, a], [b, 0], [b, 0], [a, a]], tol=1e-12)


def test_reinforce_pp_with_kl_in_the_reward_and_discount():
    seq_reward = t([1.0, 0.0])
    kl = t([[0.5, -0.2, 0.3], [1.0, 0.4, 9.9]])  # the 9.9 sits on padding
    mask = t([[1, 1, 1], [1, 1, 0]])
    advantages, returns = reinforce_pp_advantages(seq_reward, kl, kl_coef=0.1, mask=mask, gamma=0.5)
    # rewards: row 0: -0.1 * [0.5, -0.2, 0.3] = [-0.05, 0.02, -0.03], +1 on the last token -> [-0.05, 0.02, 0.97]
    #          row 1: -0.1 * [1.0, 0.4] = [-0.1, -0.04], +0 on its last token; padding 0
    # returns (gamma 0.5): row 0: G2 = 0.97; G1 = 0.02 + 0.5 * 0.97 = 0.505; G0 = -0.05 + 0.5 * 0.505 = 0.2025
    #                      row 1: G1 = -0.04; G0 = -0.1 + 0.5 * -0.04 = -0.12
    close(returns, [[0.2025, 0.505, 0.97], [-0.12, -0.04, 0.0]], tol=1e-12)
    # 5 tokens: sum 1.5175, mean 0.3035; deviations -0.101, 0.2015, 0.6665, -0.4235, -0.3435
    # squares 0.010201 + 0.04060225 + 0.44422225 + 0.17935225 + 0.11799225 = 0.79237; biased var 0.79237 / 5
    std = math.sqrt(0.79237 / 5)
    close(advantages, [[-0.101 / std, 0.2015 / std, 0.6665 / std], [-0.4235 / std, -0.3435 / std, 0.0]], tol=1e-12)


def test_reinforce_pp_ignores_a_masked_prompt_before_the_response():
    # the first test's batch, each row shifted right behind one prompt column: the same advantages, shifted
    mask = t([[0, 1, 1], [0, 1, 0], [0, 1, 0], [0, 1, 1]])
    kl = t([[5.0, 0, 0]] * 4)  # KL on the prompt column must not count
    advantages, returns = reinforce_pp_advantages(t([10, 0, 0, 10]), kl, 0.1, mask)
    a, b = 1 / math.sqrt(2), -math.sqrt(2)
    close(advantages, [[0, a, a], [0, b, 0], [0, b, 0], [0, a, a]], tol=1e-12)
    close(returns[:, 0], [0, 0, 0, 0])


def test_reinforce_pp_with_the_batch_split_over_two_processes():
    """Rows 0-1 on one "process" (a thread), rows 2-3 on the other: the same advantages as the whole batch."""
    mask = t([[1, 1], [1, 0], [1, 0], [1, 1]])
    rewards = t([10, 0, 0, 10])
    kl = torch.zeros(4, 2, dtype=torch.float64)

    def share(rank, all_reduce_sum):
        rows = slice(2 * rank, 2 * rank + 2)
        return reinforce_pp_advantages(rewards[rows], kl[rows], 0.1, mask[rows], all_reduce_sum=all_reduce_sum)[0]

    out = on_two_processes(share)
    a, b = 1 / math.sqrt(2), -math.sqrt(2)
    close(torch.cat(out), [[a, a], [b, 0], [b, 0], [a, a]], tol=1e-12)


def test_reinforce_pp_errors():
    with pytest.raises(ValueError, match="no response token"):
        reinforce_pp_advantages(t([1.0]), t([[0.0]]), 0.1, t([[0.0]]))
    with pytest.raises(ValueError, match="gamma"):
        reinforce_pp_advantages(t([1.0, 0.0]), t([[0.0], [0.0]]), 0.1, t([[1.0], [1.0]]), gamma=1.5)


# --------------------------------------------------------------------------- dynamic sampling

SIGNAL_CASES = [
    # what, scores (groups of 4, flat), kept groups, dropped share
    ("mixed batch", [1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.3], [True, False, False, True], 0.5),
    ("all informative", [10, 0, 0, 10, 0, 0, 0, 10], [True, True], 0.0),
    ("none informative", [10, 10, 10, 10, 0, 0, 0, 0], [False, False], 1.0),
    # equal floats: np.std([0.1] * 4) is 1.4e-17, not 0, so a std test would keep this group; max == min drops it
    ("equal non-integers", [0.1, 0.1, 0.1, 0.1], [False], 1.0),
]


@pytest.mark.parametrize("what, scores, keep, dropped", SIGNAL_CASES, ids=[case[0] for case in SIGNAL_CASES])
def test_groups_with_signal(what, scores, keep, dropped):
    result = groups_with_signal(t(scores), group_size=4)
    assert result.keep.tolist() == keep
    assert result.rows.tolist() == [k for k in keep for _ in range(4)]
    assert result.dropped_share == dropped


def test_groups_with_signal_on_a_grid_of_threes():
    result = groups_with_signal(t([[0.0, -1.0, 0.0], [2.0, 2.0, 2.0]]))
    assert result.keep.tolist() == [True, False]
    assert result.rows.tolist() == [True, True, True, False, False, False]
    assert result.dropped_share == 0.5


# --- estimate_advantages: the loop's one dispatch, by hand on a batch of two groups of two
# scores [10, 0 | 0, 0], masks: rows of 2, 1, 2, 2 response tokens; k1 KL per token 0.1 everywhere, coef 0.5
#   KL in the reward: each row loses 0.5 * 0.1 * tokens: [0.1, 0.05, 0.1, 0.1]
#   sequence rewards [9.9, -0.05 | -0.1, -0.1]
#   dr_grpo: group 1 mean 4.925 -> [4.975, -4.975]; group 2 mean -0.1 -> [0, 0]
#   rloo (n = 2: r - the other one): [9.95, -9.95 | 0, 0]
ESTIMATE_MASK = [[1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0]]


@pytest.mark.parametrize(
    "estimator, expected",
    [
        (AdvantageEstimator.DR_GRPO, [4.975, -4.975, 0.0, 0.0]),
        (AdvantageEstimator.RLOO, [9.95, -9.95, 0.0, 0.0]),
    ],
)
def test_estimate_advantages_puts_the_summed_kl_in_the_sequence_reward(estimator, expected):
    from rlvr_gym.trainers.algorithms.estimators import estimate_advantages

    mask = t(ESTIMATE_MASK)
    kl = torch.full((4, 3), 0.1) * mask
    out = estimate_advantages(estimator, t([10, 0, 0, 0]), kl, 0.5, mask, group_size=2)
    close(out.advantages, t(expected)[:, None] * mask)  # the sequence advantage on each response token
    close(out.returns, out.advantages)
    # the per-token reward: -0.05 per token, plus the score on the last token
    close(out.rewards, t([[-0.05, 9.95, 0], [-0.05, 0, 0], [-0.05, -0.05, 0], [-0.05, -0.05, 0]]))


def test_estimate_advantages_without_kl_is_the_group_estimator_and_gae_needs_values():
    from rlvr_gym.trainers.algorithms.estimators import estimate_advantages

    mask = t(ESTIMATE_MASK)
    out = estimate_advantages(AdvantageEstimator.GRPO, t([10, 0, 0, 10]), torch.zeros(4, 3), 0.0, mask, group_size=2)
    # groups [10, 0] and [0, 10]: mean 5, unbiased std 5 * sqrt(2): advantages +-1/sqrt(2)
    a = 5 / (5 * math.sqrt(2) + GRPO_EPS)
    close(out.advantages, t([a, -a, -a, a])[:, None] * mask)
    with pytest.raises(ValueError, match="gae needs the value model"):
        estimate_advantages(AdvantageEstimator.GAE, t([1, 0, 0, 1]), torch.zeros(4, 3), 0.0, mask)
