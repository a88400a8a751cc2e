"""Verifier-labelled pairs: the gsm8k verifier on known responses, then `label_group`'s pairs, outcomes and drop counts."""

from __future__ import annotations

import pytest

from rlvr_gym.envs import Item, PromptFormat, get_task
from rlvr_gym.trainers.dpo_config import PairFilterConfig
from rlvr_gym.trainers.pairs import GroupOutcome, LabelCounts, Response, label_group, pair_record
from rlvr_gym.trainers.preference_data import parse_pair
from rlvr_gym.verifiers import Reason, Verdict, get_verifier

GSM8K = get_verifier("gsm8k", alpha=10.0)
TRUTH = "104"


def group(*responses: str | tuple[str, bool]) -> list[Response]:
    """Responses to "What is 26 + 78?", verified by the real gsm8k verifier; (text, False) did not finish."""
    out = []
    for r in responses:
        text, finished = (r, True) if isinstance(r, str) else r
        out.append(Response(text, GSM8K.verify(text, TRUTH), finished))
    return out


DEFAULT = PairFilterConfig()
NO_FILTERS = PairFilterConfig(drop_same_answer=False, chosen_must_finish=False)

CASES = [
    # responses, filters, pairs per prompt, expected (chosen, rejected) indices, outcome, dropped
    # --- contrast: the i-th correct with the i-th wrong, in sample order
    (group("#### 104", "#### 105"), DEFAULT, 1, [(0, 1)], GroupOutcome.PAIRED, {}),
    (group("#### 99", "#### 104", "#### 103", "26+78 = 104 #### 104"), DEFAULT, 1, [(1, 0)], GroupOutcome.PAIRED, {}),
    (group("#### 99", "#### 104", "#### 103", "26+78 = 104 #### 104"), DEFAULT, 2, [(1, 0), (3, 2)], GroupOutcome.PAIRED, {}),
    # no_answer responses are rejected too ("I do not know" reads no number)
    (group("I do not know", "#### 104"), DEFAULT, 1, [(1, 0)], GroupOutcome.PAIRED, {}),
    # --- no contrast: skipped, counted by outcome
    (group("#### 104", "The answer is 104", "104"), DEFAULT, 1, [], GroupOutcome.NO_WRONG, {}),
    (group("#### 1", "#### 2", "none"), DEFAULT, 1, [], GroupOutcome.NO_CORRECT, {}),
    # --- a truncated correct response is never chosen (chosen_must_finish), unless the filter is off
    (group(("#### 104", False), "#### 7"), DEFAULT, 1, [], GroupOutcome.NO_FINISHED_CORRECT, {}),
    (group(("#### 104", False), "#### 7"), NO_FILTERS, 1, [(0, 1)], GroupOutcome.PAIRED, {}),
    (group(("#### 104", False), "#### 104", "#### 7"), DEFAULT, 1, [(1, 2)], GroupOutcome.PAIRED, {}),
    # --- filters: length ratio (chars), no-answer rejected; dropped candidates counted, the next one used
    (group("#### 104", "#### 5" + " and so on" * 10, "#### 5"), PairFilterConfig(max_length_ratio=3.0), 1, [], GroupOutcome.ALL_FILTERED, {"length_ratio": 1}),
    (group("#### 104", "#### 104.", "#### 5" + " and so on" * 10, "#### 5"), PairFilterConfig(max_length_ratio=3.0), 1, [(1, 3)], GroupOutcome.PAIRED, {"length_ratio": 1}),
    (group("#### 104", "no idea"), PairFilterConfig(drop_no_answer_rejected=True), 1, [], GroupOutcome.ALL_FILTERED, {"no_answer_rejected": 1}),
    (group("#### 104", "no idea"), DEFAULT, 1, [(0, 1)], GroupOutcome.PAIRED, {}),
    # --- a blank response (a model that stops at once) is never paired: the preference record refuses it
    (group("#### 104", "", "#### 5"), DEFAULT, 1, [], GroupOutcome.ALL_FILTERED, {"blank_text": 1}),
    (group("#### 104", "#### 104.", " \n", "#### 5"), DEFAULT, 1, [(1, 3)], GroupOutcome.PAIRED, {"blank_text": 1}),
    # --- a pair over the per-prompt limit is counted, not lost silently
    (group("#### 104", "#### 1", "#### 104 ", "#### 2"), DEFAULT, 1, [(0, 1)], GroupOutcome.PAIRED, {}),
]


@pytest.mark.parametrize("responses, filters, limit, pairs, outcome, dropped", CASES)
def test_label_group(responses, filters, limit, pairs, outcome, dropped):
    label = label_group(responses, filters, limit)
    assert list(label.pairs) == pairs
    assert label.outcome is outcome
    assert dict(label.dropped) == dropped
    for c, r in label.pairs:
        assert responses[c].verdict.correct and not responses[r].verdict.correct


def test_same_answer_and_identical_text_are_dropped():
    # a wrong verdict with the correct answer extracted (an inconsistent verifier, or a format rule) is noise
    correct = Response("#### 104", Verdict(10.0, True, "104", Reason.CORRECT))
    same = Response("104 (unsure)", Verdict(0.0, False, "104", Reason.WRONG_ANSWER))
    assert dict(label_group([correct, same], DEFAULT, 1).dropped) == {"same_answer": 1}
    assert label_group([correct, same], NO_FILTERS, 1).pairs == ((0, 1),)
    twin = Response("#### 104", Verdict(0.0, False, "7", Reason.WRONG_ANSWER))
    assert dict(label_group([correct, twin], NO_FILTERS, 1).dropped) == {"identical_text": 1}


def test_unverifiable_verdicts_are_never_rejected():
    correct = Response("#### 104", Verdict(10.0, True, "104", Reason.CORRECT))
    timeout = Response("#### 3", Verdict(0.0, False, None, Reason.TIMEOUT))
    error = Response("#### 4", Verdict(0.0, False, None, Reason.ERROR))
    assert label_group([correct, timeout, error], DEFAULT, 1).outcome is GroupOutcome.NO_WRONG


def test_counts_over_groups_and_the_limit():
    counts = LabelCounts()
    for responses in (group("#### 104", "#### 1", "#### 104 ", "#### 2"), group("#### 1", "#### 2"), group("#### 104", "x")):
        counts.add(responses, label_group(responses, DEFAULT, 1))
    summary = counts.to_json()
    assert (summary["prompts"], summary["responses"], summary["pairs"], summary["over_limit"]) == (3, 8, 2, 1)
    assert summary["sample_accuracy"] == 3 / 8
    assert summary["groups"] == {"paired": 2, "no_correct": 1, "no_finished_correct": 0, "no_wrong": 0, "all_filtered": 0}
    assert summary["verdicts"] == {"correct": 3, "no_answer": 1, "wrong_answer": 4}
    assert "2 pairs from 3 prompts" in counts.line() and "over the per-prompt limit: 1" in counts.line()


def test_records_are_valid_preference_records_in_both_formats():
    item = Item(id="arithmetic/0", prompt="What is 26 + 78?", ground_truth=TRUTH)
    chosen, rejected = group("#### 104", "#### 105")
    record = pair_record("What is 26 + 78?\n\nGive the final answer after '#### '.", item, chosen, rejected)
    pair = parse_pair(record)
    assert (pair.chosen, pair.rejected) == ("#### 104", "#### 105")
    assert (record["chosen_answer"], record["rejected_answer"], record["rejected_reason"]) == ("104", "105", "wrong_answer")
    messages = [{"role": "user", "content": "What is 26 + 78?"}]
    chat = parse_pair(pair_record(messages, item, chosen, rejected))
    assert chat.conversational and chat.chosen == ({"role": "assistant", "content": "#### 104"},)


# --------------------------------------------------------------------------- through the rollout engine

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_sample_pairs_through_the_engine_labels_every_group(tiny_model_dir):
    from rlvr_gym.envs import load_items
    from rlvr_gym.rollout import HFEngine, HFEngineConfig, SamplingConfig
    from rlvr_gym.trainers.dpo_config import PairsConfig
    from rlvr_gym.trainers.pairs import sample_pairs
    from rlvr_gym.verifiers import VerifierPool

    spec = get_task("arithmetic")
    items = list(load_items(spec, "train", {"digits": 1, "operators": "+"}))[:6]
    engine = HFEngine.from_pretrained(tiny_model_dir, HFEngineConfig())
    config = PairsConfig(samples_per_prompt=4, sampling=SamplingConfig(max_new_tokens=6, temperature=1.0, seed=0))
    with VerifierPool(workers=1, timeout_s=5) as pool:
        records, counts = sample_pairs(engine, spec, items, PromptFormat.STEP_BY_STEP, engine.tokenizer, pool, spec.build_verifier(1.0), config, 0)
        again, _ = sample_pairs(engine, spec, items, PromptFormat.STEP_BY_STEP, engine.tokenizer, pool, spec.build_verifier(1.0), config, 0)
    assert (counts.prompts, counts.responses) == (6, 24)
    assert sum(counts.groups.values()) == 6 and counts.pairs == len(records)
    assert records == again  # seeded: the same pairs every run
    # a random-weight model answers nothing correctly: every group lacks contrast, and says so
    assert counts.groups["no_correct"] == 6 - counts.groups["paired"] - counts.groups["no_finished_correct"]
