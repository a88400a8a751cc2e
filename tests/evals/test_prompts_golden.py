"""Golden prompts: the exact text built for the first GSM8K / MATH-500 / MATH test item.

The expected strings are rebuilt here from the data files alone, following the documented
exemplar rule (`rlvr_gym.evals.prompts`): eligible = train items whose raw solution has at most
1200 characters; exemplars = ``random.Random(1234).sample(eligible_indices, shots)``; GSM8K
solutions lose ``<<...>>`` notes and end "So the answer is N."; MATH solutions are kept. A
SHA-256 of each expected prompt pins it against both sides drifting together.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import pytest

from rlvr_gym.evals.run import prepare_tasks
from tests.conftest import require_data


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _gsm8k_shots() -> list[tuple[str, str]]:
    train = _jsonl(require_data("gsm8k/train.jsonl"))
    eligible = [i for i, row in enumerate(train) if len(row["answer"]) <= 1200]
    chosen = random.Random(1234).sample(eligible, 8)
    assert chosen == GSM8K_EXEMPLAR_INDICES
    shots = []
    for i in chosen:
        body, final = train[i]["answer"].split("\n#### ")  # every GSM8K record has this marker once
        body = re.sub(r"<<.*?>>", "", body).strip()
        shots.append((train[i]["question"], f"{body}\nSo the answer is {final.strip()}."))
    return shots


def _math_shots() -> list[tuple[str, str]]:
    train = _jsonl(require_data("math/hendrycks_math/train.jsonl"))
    eligible = [i for i, row in enumerate(train) if len(row["solution"]) <= 1200]
    chosen = random.Random(1234).sample(eligible, 4)
    assert chosen == MATH_EXEMPLAR_INDICES
    return [(train[i]["problem"], train[i]["solution"].strip()) for i in chosen]


def _plain(shots: list[tuple[str, str]], problem: str, q: str, a: str) -> str:
    return "".join(f"{q}: {question}\n{a}: {answer}\n\n" for question, answer in shots) + f"{q}: {problem}\n{a}:"


def _chatml(shots: list[tuple[str, str]], problem: str) -> str:
    turns = "".join(f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n{answer}<|im_end|>\n" for question, answer in shots)
    return turns + f"<|im_start|>user\n{problem}<|im_end|>\n<|im_start|>assistant\n"


# Pinned results of the rule on the shipped data (indices into the train files).
GSM8K_EXEMPLAR_INDICES = [6375, 3610, 957, 61, 742, 7463, 6611, 4770]  # 7472 of 7473 eligible
MATH_EXEMPLAR_INDICES = [6888, 3951, 973, 63]  # 6851 of 7500 eligible
GOLDEN_SHA256 = {
    "gsm8k": "0a1e96404b432b51066092d0009e55b469fbd0f4090a6aad7c85a5ba77dcd039",
    "math500": "d1c8a51fecc3b26b6ba9c5e9a671283febf85a96494a15e3573aeb1a95e56388",
    "math": "7b7abe76e07a2cb04b484f5c94e669045b60fc3d9832bb5293835c72342c3a1f",
}


def test_gsm8k_first_test_item_prompt():
    test = _jsonl(require_data("gsm8k/test.jsonl"))
    expected = _plain(_gsm8k_shots(), test[0]["question"], "Question", "Answer")
    task = prepare_tasks(["gsm8k"], limit=1)[0]
    prompt = task.prompts[0]
    assert prompt == expected
    assert prompt.startswith("Question: ") and prompt.endswith("\nAnswer:")
    assert prompt.count("\nAnswer: ") == 8 and prompt.count("So the answer is ") == 8
    assert "<<" not in prompt and "####" not in prompt
    assert prompt.endswith(f"Question: {test[0]['question']}\nAnswer:")
    assert task.setting.stop == ("\n\nQuestion:",)
    assert _sha(prompt) == GOLDEN_SHA256["gsm8k"]


@pytest.mark.parametrize("name,test_file", [("math500", "math/math500/test.jsonl"), ("math", "math/hendrycks_math/test.jsonl")])
def test_math_first_test_item_prompt(name, test_file):
    test = _jsonl(require_data(test_file))
    expected = _plain(_math_shots(), test[0]["problem"], "Problem", "Solution")
    prompt = prepare_tasks([name], limit=1)[0].prompts[0]
    assert prompt == expected
    assert prompt.startswith("Problem: ") and prompt.endswith("\nSolution:")
    assert prompt.count("\\boxed") >= 4 and prompt.count("\nSolution: ") == 4
    assert _sha(prompt) == GOLDEN_SHA256[name]


def test_chat_template_prompts():
    tiny = pytest.importorskip("rlvr_gym.trainers.tiny", reason="rlvr_gym.trainers.tiny (build_tiny_tokenizer) not available")
    pytest.importorskip("transformers")
    tokenizer = tiny.build_tiny_tokenizer()
    gsm8k_test = _jsonl(require_data("gsm8k/test.jsonl"))
    ifeval = _jsonl(require_data("ifeval/input_data.jsonl"))
    gsm8k, if_task = prepare_tasks(["gsm8k", "ifeval"], tokenizer=tokenizer, limit=1)
    assert gsm8k.prompts[0] == _chatml(_gsm8k_shots(), gsm8k_test[0]["question"])
    assert gsm8k.prompts[0].startswith("<|im_start|>user\n") and gsm8k.prompts[0].endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert gsm8k.prompts[0].count("<|im_start|>assistant\n") == 9
    assert "Question:" not in gsm8k.prompts[0]
    assert if_task.prompts[0] == f"<|im_start|>user\n{ifeval[0]['prompt']}<|im_end|>\n<|im_start|>assistant\n"
    assert gsm8k.info["chat_template"] is True


def test_ifeval_zero_shot_plain_is_the_prompt():
    ifeval = _jsonl(require_data("ifeval/input_data.jsonl"))
    task = prepare_tasks(["ifeval"], limit=3)[0]
    assert task.prompts == [row["prompt"] for row in ifeval[:3]]


def test_user_exemplar_file(tmp_path):
    require_data("gsm8k/test.jsonl")
    path = tmp_path / "shots.jsonl"
    path.write_text("".join(json.dumps({"question": f"q{i}?", "answer": f"a{i}."}) + "\n" for i in range(9)))
    prompt = prepare_tasks(["gsm8k"], limit=1, exemplar_files={"gsm8k": str(path)})[0].prompts[0]
    assert prompt.startswith("Question: q0?\nAnswer: a0.\n\nQuestion: q1?\n")
    assert "q8?" not in prompt and "Question: q7?\nAnswer: a7.\n\nQuestion: " in prompt
    path.write_text('{"question": "only one", "answer": "x"}\n')
    with pytest.raises(ValueError, match="8 exemplars needed, found 1"):
        prepare_tasks(["gsm8k"], limit=1, exemplar_files={"gsm8k": str(path)})


def test_prompt_format_shows_a_zero_shot_task_as_the_model_was_trained():
    """``--prompt-format``: the arithmetic task (procedural, no data needed) in each format, chat template or not."""
    tiny = pytest.importorskip("rlvr_gym.trainers.tiny", reason="rlvr_gym.trainers.tiny (build_tiny_tokenizer) not available")
    pytest.importorskip("transformers")
    tokenizer = tiny.build_tiny_tokenizer()
    options = {"arithmetic": {"digits": 2, "operators": "+"}}
    (default,) = prepare_tasks(["arithmetic"], tokenizer=tokenizer, limit=2, task_options=options)
    (plain,) = prepare_tasks(["arithmetic"], tokenizer=tokenizer, limit=2, task_options=options, prompt_format="plain")
    (steps,) = prepare_tasks(["arithmetic"], limit=2, task_options=options, prompt_format="step_by_step")
    question = plain.items[0].prompt
    assert re.fullmatch(r"What is \d+ \+ \d+\?", question)
    assert plain.prompts[0] == question and plain.info["chat_template"] is False and plain.info["prompt_format"] == "plain"
    assert steps.prompts[0] == f"{question}\n\nGive the final answer after '#### '."
    assert default.prompts[0] == f"<|im_start|>user\n{steps.prompts[0]}<|im_end|>\n<|im_start|>assistant\n"


def test_a_few_shot_task_refuses_a_prompt_format():
    require_data("gsm8k/test.jsonl")
    with pytest.raises(ValueError, match="gsm8k: --prompt-format is for 0-shot tasks; this one is 8-shot"):
        prepare_tasks(["gsm8k"], limit=1, prompt_format="plain")
