"""Evaluation prompts in the Tülu 3 development settings.

| eval     | items               | shots | exemplars from          | answer read by |
|----------|---------------------|-------|-------------------------|----------------|
| gsm8k    | GSM8K test          | 8     | GSM8K train             | gsm8k verifier (exact final number) |
| math500  | MATH-500            | 4     | MATH train              | math verifier ("flex": equivalence) |
| math     | MATH test (5000)    | 4     | MATH train              | math verifier |
| ifeval   | IFEval prompts      | 0     | -                       | ifeval, strict and loose |
| any other registered task | its test split | 0 | -              | the task's verifier, the task's prompt format |

Exemplars are drawn deterministically (``random.Random(seed).sample``) from the train split,
or read from a user's JSONL file of ``{"question": ..., "answer": ...}``; no exemplar text is
written into the code. A GSM8K exemplar's solution loses its ``<<...>>`` calculator notes and
ends "So the answer is N."; a MATH exemplar keeps its solution, whose ``\\boxed{}`` shows the
answer format. Without a chat template the shots are concatenated as
``Question: ...\\nAnswer: ...``; with one, they become alternating user/assistant turns.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..envs import Item, format_prompt, get_task, load_items

__all__ = ["EvalSetting", "EVAL_SETTINGS", "setting_for", "Exemplar", "draw_exemplars", "build_prompt"]


@dataclass(frozen=True)
class EvalSetting:
    """How one benchmark is evaluated."""

    task: str
    """Registered task whose items are evaluated."""
    split: str = "test"
    """Split of ``task`` to evaluate."""
    shots: int = 0
    """Number of few-shot exemplars (0: the task's own prompt format)."""
    exemplar_task: str | None = None
    """Task whose ``exemplar_split`` the exemplars are drawn from."""
    exemplar_split: str = "train"
    """Split the exemplars come from."""
    max_exemplar_chars: int = 1200
    """Exemplars with a longer solution are not drawn (keeps 4-shot MATH prompts bounded)."""
    question_label: str = "Question"
    """Label before each problem in plain few-shot text."""
    answer_label: str = "Answer"
    """Label before each solution in plain few-shot text."""
    stop: tuple[str, ...] = ()
    """Generation stops at these strings (the start of a next shot)."""


EVAL_SETTINGS: dict[str, EvalSetting] = {
    "gsm8k": EvalSetting("gsm8k", shots=8, exemplar_task="gsm8k", stop=("\n\nQuestion:",)),
    "math500": EvalSetting("math500", shots=4, exemplar_task="math", question_label="Problem", answer_label="Solution", stop=("\n\nProblem:",)),
    "math": EvalSetting("math", shots=4, exemplar_task="math", question_label="Problem", answer_label="Solution", stop=("\n\nProblem:",)),
    "ifeval": EvalSetting("ifeval"),
}


def setting_for(name: str) -> EvalSetting:
    """The Tülu 3 setting of a benchmark, else 0-shot on a registered task's test split."""
    if name in EVAL_SETTINGS:
        return EVAL_SETTINGS[name]
    spec = get_task(name)
    return EvalSetting(name, split="test" if "test" in spec.splits else spec.default_split)


@dataclass(frozen=True)
class Exemplar:
    """One worked example: a question and its solution as shown to the model."""

    question: str
    answer: str


_CALCULATOR = re.compile(r"<<[^>]*>>")


def _exemplar_from_item(task: str, item: Item) -> Exemplar:
    if task == "gsm8k":
        body, _, final = str(item.ground_truth).rpartition("####")
        body = _CALCULATOR.sub("", body).strip()
        return Exemplar(item.prompt, f"{body}\nSo the answer is {final.strip()}.")
    return Exemplar(item.prompt, str(item.ground_truth).strip())


def draw_exemplars(setting: EvalSetting, seed: int = 1234, exemplar_file: str | Path | None = None) -> list[Exemplar]:
    """``setting.shots`` exemplars: from ``exemplar_file`` (first lines) or drawn from the train split."""
    if setting.shots == 0:
        return []
    if exemplar_file is not None:
        rows = [json.loads(line) for line in Path(exemplar_file).read_text(encoding="utf-8").splitlines() if line.strip()]
        for i, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not isinstance(row.get("answer"), str):
                raise ValueError(f"{exemplar_file}: line {i} must be {{\"question\": str, \"answer\": str}}")
        if len(rows) < setting.shots:
            raise ValueError(f"{exemplar_file}: {setting.shots} exemplars needed, found {len(rows)}")
        return [Exemplar(row["question"], row["answer"]) for row in rows[: setting.shots]]
    assert setting.exemplar_task is not None
    pool = load_items(get_task(setting.exemplar_task), setting.exemplar_split)
    eligible = [i for i in range(len(pool)) if len(str(pool[i].ground_truth)) <= setting.max_exemplar_chars]
    chosen = random.Random(seed).sample(eligible, setting.shots)
    return [_exemplar_from_item(setting.exemplar_task, pool[i]) for i in chosen]


def build_prompt(setting: EvalSetting, item: Item, exemplars: Sequence[Exemplar], tokenizer: Any = None) -> str:
    """The prompt for one item: few-shot text, or chat turns when the tokenizer has a template."""
    if setting.shots == 0:
        spec = get_task(setting.task)
        has_template = tokenizer is not None and getattr(tokenizer, "chat_template", None)
        text, _ = format_prompt(spec, item, "chat" if has_template else None, tokenizer)
        return text
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        messages: list[dict[str, str]] = []
        for shot in exemplars:
            messages += [{"role": "user", "content": shot.question}, {"role": "assistant", "content": shot.answer}]
        messages.append({"role": "user", "content": item.prompt})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    q, a = setting.question_label, setting.answer_label
    shots = "".join(f"{q}: {shot.question}\n{a}: {shot.answer}\n\n" for shot in exemplars)
    return f"{shots}{q}: {item.prompt}\n{a}:"
