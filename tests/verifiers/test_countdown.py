"""Countdown verifier: tables of (ground_truth, response, expected_correct), by hand."""

import pytest

from rlvr_gym.envs import CountdownSource
from rlvr_gym.verifiers import Reason
from rlvr_gym.verifiers.countdown import CountdownVerifier, evaluate_expression

V = CountdownVerifier(alpha=10.0)
GT = {"numbers": [3, 5, 2], "target": 16}

CASES = [
    # --- right value with allowed numbers: (3 + 5) * 2 = 16
    (GT, "<answer>(3 + 5) * 2</answer>", True),
    (GT, "<answer>2 * (5 + 3) = 16</answer>", True),  # "= target" suffix dropped
    (GT, "so \\boxed{(3+5)*2}", True),
    (GT, "Work:\n3 + 5 = 8\n(3 + 5) * 2", True),  # last expression line
    (GT, "<answer>(3 + 5) × 2</answer>", True),  # unicode times
    ({"numbers": [4, 2, 10], "target": 8}, "<answer>(10 - 2) / 4 * 4</answer>", False),  # 4 used twice
    ({"numbers": [6, 4], "target": 1}, "<answer>(6 - 4) / 2</answer>", False),  # 2 is not given
    ({"numbers": [6, 4, 2], "target": 1}, "<answer>(6 - 4) / 2</answer>", True),  # subsets allowed
    ({"numbers": [1, 3], "target": 0}, "<answer>1/3 - 1/3</answer>", False),  # 1 and 3 used twice
    ({"numbers": [7, 2], "target": 3}, "<answer>7 / 2</answer>", False),  # 3.5, exact fractions
    # --- wrong value or forbidden syntax
    (GT, "<answer>3 + 5 + 2</answer>", False),
    (GT, "<answer>3 ** 5</answer>", False),
    (GT, "<answer>__import__('os')</answer>", False),
    (GT, "<answer>(3 + 5) * 2 / 0</answer>", False),
    (GT, "<answer>16</answer>", False),  # 16 is not a given number
    # --- only the text after </think> counts
    (GT, "<think><answer>(3 + 5) * 2</answer></think><answer>3 + 5</answer>", False),
]


@pytest.mark.parametrize("ground_truth,response,expected", CASES)
def test_table(ground_truth, response, expected):
    verdict = V.verify(response, ground_truth)
    assert verdict.correct is expected, verdict
    assert verdict.score == (10.0 if expected else 0.0)


@pytest.mark.parametrize("response", ["", "I give up.", "<think>(3 + 5) * 2"])
def test_no_answer(response):
    assert V.verify(response, GT).reason is Reason.NO_ANSWER


@pytest.mark.parametrize(
    "ground_truth", [None, {"numbers": [1]}, {"numbers": [], "target": 1}, {"numbers": [1.5], "target": 2}, "{bad json"]
)
def test_invalid_ground_truth(ground_truth):
    assert V.verify("<answer>1</answer>", ground_truth).reason is Reason.INVALID_GROUND_TRUTH


def test_ground_truth_as_json_string():
    assert V.verify("<answer>(3 + 5) * 2</answer>", '{"numbers": [3, 5, 2], "target": 16}').correct


def test_evaluate_expression_is_exact():
    value, used = evaluate_expression("(1 + 2) / 3 * 9")
    assert value == 9 and used == [1, 2, 3, 9]


def test_every_generated_item_is_solvable_by_its_construction():
    source = CountdownSource(size=50, split="test")
    from rlvr_gym.envs.procedural import _reachable

    for item in source.load():
        numbers = tuple(item.ground_truth["numbers"])
        expression = _reachable(numbers)[item.ground_truth["target"]]
        assert V.verify(f"<answer>{expression}</answer>", item.ground_truth).correct, (item, expression)
