"""GSM8K verifier: tables of (ground_truth, response, expected_correct), worked out by hand."""

import pytest

from rlvr_gym.verifiers import Reason, get_verifier
from rlvr_gym.verifiers.gsm8k import GSM8KVerifier, extract_answer, parse_ground_truth

VERIFIER = GSM8KVerifier(alpha=10.0)

CASES = [
    # --- number formats: commas, $, trailing period, trailing zeros, leading zeros, sign
    ("1000", "So she pays $1,000.", True),
    ("1000", "The total is 1,000.00 dollars", True),
    ("18", "She makes 18.00 every day.", True),
    ("18", "Answer: 018", True),
    ("18", "It is 18.5", False),
    ("-5", "The change is -5.", True),
    ("5", "The change is -5.", False),
    ("-5", "The change is −5.", True),  # unicode minus
    ("0", "The difference is -0", True),
    ("0.75", "The fraction is 3/4", True),
    ("3", "That is 10-3 = 7 apples left, so 7 minus 4 is 3", True),
    ("15", "between 10-15 apples", True),  # "-" glued to a digit is not a sign
    ("1234567", "1,234,567", True),
    ("2345", "1,2345", True),  # malformed thousands: read as 1 and 2345
    # --- markers: #### beats \boxed beats "the answer is" beats the last number
    ("72", "Natalia sold 48/2 = 24 clips in May.\n#### 72", True),
    ("72", "#### 72\nThen I double-check with 5 more steps: 3 + 2 = 5", True),
    ("72", "The answer is 72. Check: 70 + 2 = 72 and 2 * 3 = 6", True),
    ("72", "I think \\boxed{72}. But 100 is also nice.", True),
    ("72", "\\boxed{x} and the answer is 72, not 13", True),  # a box without a number falls through
    ("12", "#### 12 \n\\boxed{13}", True),
    ("13", "the answer is 12 so \\boxed{13}", True),
    ("7", "The answer is: 7 apples. Then 9 more people came.", True),
    ("9", "The answer is: 7 apples. Then 9 more people came.", False),
    ("9", "First 7 apples. Then 9.", True),  # last number
    # --- </think>: only the text after the last closing tag is judged
    ("7", "<think>maybe 42? the answer is 42</think>So 3 + 4 = 7", True),
    ("42", "<think>maybe 42? the answer is 42</think>So 3 + 4 = 7", False),
    ("42", "I thought about it. the answer is 42", True),  # no think block: the whole text is judged
    # --- ground truth as a full GSM8K solution or a number
    ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72", True),
    (72, "#### 72", True),
    (2.5, "2.50", True),
]


@pytest.mark.parametrize("ground_truth,response,expected", CASES)
def test_table(ground_truth, response, expected):
    verdict = VERIFIER.verify(response, ground_truth)
    assert verdict.correct is expected, verdict
    assert verdict.score == (10.0 if expected else 0.0)
    assert verdict.reason is (Reason.CORRECT if expected else Reason.WRONG_ANSWER)


NO_ANSWER = ["", "   ", "I do not know.", "\\boxed{}", "<think>12</think>", "$.", "<think>the answer is 12"]


@pytest.mark.parametrize("response", NO_ANSWER)
def test_no_answer(response):
    verdict = VERIFIER.verify(response, "12")
    assert verdict.reason is Reason.NO_ANSWER and verdict.extracted is None and verdict.score == 0.0


INVALID_GROUND_TRUTH = [None, "", "no number here", "#### ", "1 and 2", ["72"], True]


@pytest.mark.parametrize("ground_truth", INVALID_GROUND_TRUTH)
def test_invalid_ground_truth(ground_truth):
    verdict = VERIFIER.verify("#### 72", ground_truth)
    assert verdict.reason is Reason.INVALID_GROUND_TRUTH and verdict.score == 0.0
    assert "gsm8k ground truth" in verdict.details["error"]


def test_invalid_response_type():
    assert VERIFIER.verify(72, "72").reason is Reason.INVALID_RESPONSE


def test_extraction_is_canonical():
    assert extract_answer("It costs $1,200.50.") == "1200.5"
    assert extract_answer("a 1/3 share") == "1/3"
    assert parse_ground_truth("... #### 1,000") == "1000"


def test_huge_numbers_compare_exactly():
    big = "9" * 10_000
    assert VERIFIER.verify(f"#### {big}", big).correct
    assert not VERIFIER.verify(f"#### {big}8", big).correct


def test_registry_builds_it_with_alpha():
    verifier = get_verifier("gsm8k", alpha=10)
    assert verifier == GSM8KVerifier(alpha=10.0) and hash(verifier) == hash(GSM8KVerifier(alpha=10.0))
    assert verifier.verify("#### 3", "3").score == 10.0
