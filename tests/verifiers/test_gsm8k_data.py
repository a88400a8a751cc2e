"""GSM8K regression on the real test split (../shared/data/gsm8k/test.jsonl)."""

import json
from fractions import Fraction

from rlvr_gym.verifiers import verify_batch
from rlvr_gym.verifiers.gsm8k import GSM8KVerifier
from tests.conftest import require_data


def _load():
    path = require_data("gsm8k/test.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_gold_solution_verifies_against_its_own_answer():
    rows = _load()
    assert len(rows) == 1319
    answers = [row["answer"].rsplit("####", 1)[1].strip() for row in rows]
    result = verify_batch(GSM8KVerifier(), [(row["answer"], answer) for row, answer in zip(rows, answers)], workers=0)
    assert result.counts["correct"] == 1319, [v for v in result if not v.correct][:5]


def test_against_the_next_answer_correct_only_when_numerically_equal():
    rows = _load()
    answers = [row["answer"].rsplit("####", 1)[1].strip() for row in rows]
    nxt = answers[1:] + answers[:1]
    result = verify_batch(GSM8KVerifier(), [(row["answer"], answer) for row, answer in zip(rows, nxt)], workers=0)
    # External reference: Python's exact Fraction of the comma-free answers.
    expected = [Fraction(a.replace(",", "")) == Fraction(b.replace(",", "")) for a, b in zip(answers, nxt)]
    assert [v.correct for v in result] == expected
    assert 0 < sum(expected) < 100  # some neighbours do share an answer; most don't
