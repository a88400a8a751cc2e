"""Reward mixing, DAPO's soft overlong penalty and masking truncated responses, by hand."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rlvr_gym.trainers.algorithms.rewards import mask_truncated, mix_rewards, soft_overlong_penalty  # noqa: E402


def close(actual: torch.Tensor, expected, tol: float = 1e-6) -> None:
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=tol, rtol=0)


# --------------------------------------------------------------------------- reward mixing


def test_mix_rewards_weighted_sum_with_each_verifier_kept_apart():
    # correctness (Tülu's 10 or 0) + half a point for the format:
    #   [10 + 0.5 * 1, 0 + 0.5 * 1, 10 + 0.5 * 0] = [10.5, 0.5, 10]
    mixed = mix_rewards({"correctness": [10, 0, 10], "format": [1.0, 1.0, 0.0]}, {"correctness": 1.0, "format": 0.5})
    close(mixed.total, [10.5, 0.5, 10.0])
    close(mixed.parts["correctness"], [10, 0, 10])  # unweighted, for logging
    close(mixed.parts["format"], [1, 1, 0])
    assert mixed.weights == {"correctness": 1.0, "format": 0.5}
    assert mixed.means() == pytest.approx({"correctness": 20 / 3, "format": 2 / 3})


def test_mix_rewards_takes_tensors_and_a_single_verifier():
    mixed = mix_rewards({"gsm8k": torch.tensor([10.0, 0.0], dtype=torch.float64)}, {"gsm8k": 2.0})
    close(mixed.total, [20.0, 0.0])
    assert mixed.total.dtype == torch.float64
    close(mix_rewards({"a": [1.0], "b": [3.0]}, {"a": 1.0, "b": 0.0}).total, [1.0])  # weight 0: logged, not counted


BAD_MIXES = [
    # what, scores, weights, message
    ("no verifier", {}, {}, "at least one"),
    ("weight missing", {"a": [1.0], "b": [1.0]}, {"a": 1.0}, r"no weight for \['b'\]"),
    ("weight without scores", {"a": [1.0]}, {"a": 1.0, "c": 1.0}, r"no scores for \['c'\]"),
    ("lengths differ", {"a": [1.0, 0.0], "b": [1.0]}, {"a": 1.0, "b": 1.0}, "same responses"),
    ("NaN score", {"a": [1.0, float("nan")]}, {"a": 1.0}, "scores of 'a' must be finite"),
    ("infinite weight", {"a": [1.0]}, {"a": float("inf")}, "weight of 'a'"),
    ("not numbers", {"a": ["yes"]}, {"a": 1.0}, "scores of 'a' are not numbers"),
    ("nested", {"a": [[1.0], [0.0]]}, {"a": 1.0}, "flat sequence"),
]


@pytest.mark.parametrize("what, scores, weights, message", BAD_MIXES, ids=[case[0] for case in BAD_MIXES])
def test_mix_rewards_names_what_is_wrong(what, scores, weights, message):
    with pytest.raises(ValueError, match=message):
        mix_rewards(scores, weights)


# --------------------------------------------------------------------------- soft overlong penalty

OVERLONG_CASES = [
    # max_length, buffer, factor, lengths, expected penalties
    # --- max 20, buffer 4: free up to 16 tokens, then -1/4 per token: 17 -> -0.25, 18 -> -0.5, 20 -> -1
    (20, 4, 1.0, [0, 10, 16, 17, 18, 20], [0, 0, 0, -0.25, -0.5, -1.0]),
    # --- the same with factor 2: twice as steep, down to -2
    (20, 4, 2.0, [16, 17, 20], [0, -0.5, -2.0]),
    # --- TRL's docstring example of get_soft_overlong_punishment: max 100, cache 20, 90 tokens -> -0.5
    (100, 20, 1.0, [80, 90, 100], [0, -0.5, -1.0]),
    # --- the buffer is the whole length: linear from the first token
    (8, 8, 1.0, [0, 2, 8], [0, -0.25, -1.0]),
]


@pytest.mark.parametrize("max_length, buffer, factor, lengths, expected", OVERLONG_CASES)
def test_soft_overlong_penalty(max_length, buffer, factor, lengths, expected):
    close(soft_overlong_penalty(torch.tensor(lengths), max_length, buffer, factor), expected)


@pytest.mark.parametrize(
    "lengths, max_length, buffer, factor, message",
    [
        ([21], 20, 4, 1.0, "lengths must lie in"),  # longer than the generation limit: a wrong max_length
        ([-1], 20, 4, 1.0, "lengths must lie in"),
        ([5], 20, 0, 1.0, "buffer"),
        ([5], 20, 21, 1.0, "buffer"),
        ([5], 20, 4, -1.0, "factor"),
    ],
)
def test_soft_overlong_penalty_checks(lengths, max_length, buffer, factor, message):
    with pytest.raises(ValueError, match=message):
        soft_overlong_penalty(torch.tensor(lengths), max_length, buffer, factor)


# --------------------------------------------------------------------------- truncated responses


def test_mask_truncated_zeroes_the_rows_without_eos():
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    close(mask_truncated(mask, [True, False, True]), [[1, 1, 0], [0, 0, 0], [1, 0, 0]])
    close(mask_truncated(mask, torch.tensor([False, True, True])), [[0, 0, 0], [0, 1, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="one flag per row"):
        mask_truncated(mask, [True, False])
