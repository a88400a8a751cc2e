"""Preference JSONL: every bad record is an error naming its line; tokenizing plain text and chat pairs as TRL does."""

from __future__ import annotations

import json
import re

import pytest

from rlvr_gym.trainers.preference_data import PreferencePair, parse_pair, read_preferences, write_preferences

GOOD = {"prompt": "What is 2 + 3?", "chosen": "#### 5", "rejected": "#### 6"}
USER = [{"role": "user", "content": "What is 2 + 3?"}]
CHAT = {"prompt": USER, "chosen": [{"role": "assistant", "content": "#### 5"}], "rejected": [{"role": "assistant", "content": "#### 6"}]}

BAD_RECORDS = [
    # --- structure
    ('["prompt", "chosen", "rejected"]', "expected a JSON object, got list"),
    ('{"prompt": "p", "chosen": "a"', "not valid JSON"),
    # --- missing fields, named
    (json.dumps({"prompt": "p", "chosen": "a"}), r"missing field\(s\) rejected"),
    (json.dumps({"chosen": "a", "rejected": "b"}), r"missing field\(s\) prompt"),
    (json.dumps({"text": "a"}), r"missing field\(s\) prompt, chosen, rejected"),
    # --- empty values
    (json.dumps({"prompt": "p", "chosen": "", "rejected": "b"}), "chosen is empty"),
    (json.dumps({"prompt": "p", "chosen": "a", "rejected": "  \n"}), "rejected is empty"),
    (json.dumps({"prompt": "", "chosen": "a", "rejected": "b"}), "prompt is empty"),
    (json.dumps({**CHAT, "chosen": []}), "chosen is empty"),
    (json.dumps({**CHAT, "chosen": [{"role": "assistant", "content": ""}]}), r"chosen is empty \(no message has content\)"),
    # --- identical pair
    (json.dumps({"prompt": "p", "chosen": "#### 5", "rejected": "#### 5"}), "chosen and rejected are identical"),
    (json.dumps({**CHAT, "rejected": CHAT["chosen"]}), "chosen and rejected are identical"),
    # --- malformed messages and mixed kinds
    (json.dumps({**CHAT, "prompt": [{"role": "user"}]}), r"prompt\[0\] is not a message"),
    (json.dumps({**CHAT, "chosen": [{"role": "user", "content": "x"}]}), r"chosen\[0\] has role 'user'"),
    (json.dumps({**CHAT, "prompt": "What is 2 + 3?"}), "must all be strings or all be lists of chat messages"),
    (json.dumps({"prompt": "p", "chosen": 5, "rejected": "b"}), "must all be strings"),
]


@pytest.mark.parametrize("line, message", BAD_RECORDS)
def test_a_bad_record_is_an_error_naming_its_line(tmp_path, line, message):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(ValueError) as info:
        read_preferences(path)
    text = str(info.value)
    assert text.startswith(f"{path}: 1 bad preference record(s): line 3: "), text
    assert re.search(message, text.split("line 3: ", 1)[1]), text


def test_every_bad_line_is_counted_and_ten_are_shown(tmp_path):
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps({"prompt": "p", "chosen": "a"})] * 12 + [json.dumps(GOOD)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as info:
        read_preferences(path)
    text = str(info.value)
    assert "12 bad preference record(s)" in text
    assert "line 10: " in text and "line 11: " not in text and text.endswith("; ...")


def test_empty_file_and_mixed_kinds_are_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no preference records"):
        read_preferences(empty)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(GOOD) + "\n" + json.dumps(CHAT) + "\n")
    with pytest.raises(ValueError, match=r"mixes plain-text records \(line 1\) and chat records \(line 2\)"):
        read_preferences(mixed)


def test_good_records_keep_their_lines_and_extra_keys_are_allowed(tmp_path):
    path = tmp_path / "pairs.jsonl"
    write_preferences(path, [GOOD, {**GOOD, "chosen": "#### 5.0", "id": "x", "ground_truth": "5"}])
    pairs = read_preferences(path)
    assert [p.line for p in pairs] == [1, 2]
    assert pairs[1] == PreferencePair("What is 2 + 3?", "#### 5.0", "#### 6", 2)
    chat = parse_pair(CHAT, 7)
    assert chat.conversational and chat.prompt == tuple(USER) and chat.line == 7


def test_write_refuses_a_bad_record_and_leaves_no_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    with pytest.raises(ValueError, match="chosen and rejected are identical"):
        write_preferences(path, [GOOD, {**GOOD, "rejected": GOOD["chosen"]}])
    assert not path.exists()


# --------------------------------------------------------------------------- tokenizing (the tiny byte-level tokenizer)

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tokenizer():
    from rlvr_gym.trainers.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer()


def _bytes(tokenizer, text):
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_plain_pair_is_prompt_then_response_then_eos(tokenizer):
    from rlvr_gym.trainers.preference_data import tokenize_pair

    pair = tokenize_pair(parse_pair(GOOD, 1), tokenizer)
    eos = tokenizer.eos_token_id
    assert pair.prompt_ids == _bytes(tokenizer, GOOD["prompt"])  # byte-level: one token per byte, no merges across the boundary
    assert pair.chosen_ids == _bytes(tokenizer, "#### 5") + (eos,)
    assert pair.rejected_ids == _bytes(tokenizer, "#### 6") + (eos,)
    # a response that already ends with the EOS token's text gets no second one
    again = tokenize_pair(parse_pair({**GOOD, "chosen": "#### 5" + tokenizer.eos_token}, 1), tokenizer)
    assert again.chosen_ids == pair.chosen_ids


def test_chat_pair_uses_the_chat_template(tokenizer):
    from rlvr_gym.trainers.preference_data import tokenize_pair

    pair = tokenize_pair(parse_pair(CHAT, 1), tokenizer)
    prompt_text = "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    assert pair.prompt_ids == _bytes(tokenizer, prompt_text)
    assert pair.chosen_ids == _bytes(tokenizer, "#### 5<|im_end|>\n")  # the template's turn end, no extra EOS
    assert pair.rejected_ids == _bytes(tokenizer, "#### 6<|im_end|>\n")


def test_chat_pair_without_a_chat_template_names_its_line(tokenizer):
    from rlvr_gym.trainers.preference_data import tokenize_pair

    plain = build_plain_tokenizer(tokenizer)
    with pytest.raises(ValueError, match="line 4: chat-message pairs need a tokenizer with a chat template"):
        tokenize_pair(parse_pair(CHAT, 4), plain)


def build_plain_tokenizer(tokenizer):
    import copy

    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    return plain
