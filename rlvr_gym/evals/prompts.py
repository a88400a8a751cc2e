"""Evaluation prompts in the Tülu 3 development settings.

| eval     | items               | shots | exemplars from | labels            | answer read by |
|----------|---------------------|-------|----------------|-------------------|----------------|
| gsm8k    | GSM8K test (1319)   | 8     | GSM8K train    | Question / Answer | gsm8k verifier (exact final number) |
| math500  | MATH-500            | 4     | MATH train     | Problem / Solution| math verifier ("flex": equivalence) |
| math     | MATH test (5000)    | 4     | MATH train     | Problem / Solution| math verifier |
| ifeval   | IFEval prompts      | 0     | -              | -                 | ifeval, strict and loose |
| any other registered task | its test split | 0 | -   | -                 | the task's verifier, the task's prompt format |

**Exemplar rule.** Exemplars are drawn deterministically, or read from a user's JSONL file of
``{"question": ..., "answer": ...}`` (its first ``shots`` lines, used as they are). Drawn:
the *eligible* train items are those whose raw solution (the task's ground-truth field:
GSM8K ``answer``, MATH ``solution``) is at most ``max_exemplar_chars`` (1200) characters;
the exemplars are ``random.Random(seed).sample(eligible_indices, shots)`` with seed 1234, in
the order ``sample`` returns them. No exemplar text is written into the code.

**Exemplar text.** A GSM8K exemplar's solution loses its ``<<...>>`` calculator notes and its
``#### N`` line, is stripped, and ends with ``"\nSo the answer is N."``; a MATH exemplar's
solution is the original one, stripped (its ``\boxed{}`` shows the answer format).

**Prompt.** Without a chat template (base models)::

    {Q}: {exemplar question}\n{A}: {exemplar answer}\n\n     (once per shot)
    {Q}: {problem}\n{A}:

where ``{Q}/{A}`` are the setting's labels (``Question``/``Answer`` for GSM8K,
``Problem``/``Solution`` for MATH); generation is cut at the setting's stop string (the start
of a next shot, ``"\n\nQuestion:"`` / ``"\n\nProblem:"``). With a chat template the shots become
alternating user (question) / assistant (answer) turns, then the problem as the last user
turn, rendered with ``add_generation_prompt=True``. 0-shot settings use the task's own prompt
format (IFEval: the prompt as it is), as one user turn when there is a chat template.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..envs import Item, format_prompt, get_task, load_items
from ..jsonl import iter_jsonl

__all__ = [
    "EXEMPLAR_SEED",
    "EVAL_SETTINGS",
    "EvalSetting",
    "Exemplar",
    "build_prompt",
    "draw_exemplars",
    "has_chat_template",
    "read_exemplar_file",
    "setting_for",
]


EXEMPLAR_SEED = 1234
"""Seed of the exemplar draw (see the module docstring)."""


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
    max_new_tokens: int = 1024
    """Default generation budget per response."""


_MATH_4_SHOT = EvalSetting(
    "math", shots=4, exemplar_task="math", question_label="Problem", answer_label="Solution", stop=("\n\nProblem:",), max_new_tokens=1024
)

EVAL_SETTINGS: dict[str, EvalSetting] = {
    "gsm8k": EvalSetting("gsm8k", shots=8, exemplar_task="gsm8k", stop=("\n\nQuestion:",), max_new_tokens=512),
    "math500": dataclasses.replace(_MATH_4_SHOT, task="math500"),
    "math": _MATH_4_SHOT,
    "ifeval": EvalSetting("ifeval", max_new_tokens=2048),
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


def read_exemplar_file(path: str | Path, shots: int) -> list[Exemplar]:
    """The first ``shots`` lines of a JSONL file of ``{"question": str, "answer": str}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exemplar file not found: {path}")
    rows = []
    for line_no, row in iter_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not isinstance(row.get("answer"), str):
            raise ValueError(f'{path}: line {line_no} must be {{"question": str, "answer": str}}')
        rows.append(Exemplar(row["question"], row["answer"]))
    if len(rows) < shots:
        raise ValueError(f"{path}: {shots} exemplars needed, found {len(rows)}")
    return rows[:shots]


def draw_exemplars(setting: EvalSetting, seed: int = EXEMPLAR_SEED, exemplar_file: str | Path | None = None) -> list[Exemplar]:
    """``setting.shots`` exemplars: from ``exemplar_file`` (first lines) or drawn from the train split.

    The draw is the module's exemplar rule: ``random.Random(seed).sample`` of the indices of the
    train items whose ground-truth solution has at most ``setting.max_exemplar_chars`` characters.
    """
    if setting.shots == 0:
        return []
    if exemplar_file is not None:
        return read_exemplar_file(exemplar_file, setting.shots)
    if setting.exemplar_task is None:
        raise ValueError(f"{setting.task}: a {setting.shots}-shot setting needs exemplar_task or an exemplar file")
    pool = load_items(get_task(setting.exemplar_task), setting.exemplar_split)
    eligible = [i for i in range(len(pool)) if len(str(pool[i].ground_truth)) <= setting.max_exemplar_chars]
    if len(eligible) < setting.shots:
        raise ValueError(f"{setting.exemplar_task} {setting.exemplar_split}: {setting.shots} exemplars needed, {len(eligible)} eligible")
    chosen = random.Random(seed).sample(eligible, setting.shots)
    return [_exemplar_from_item(setting.exemplar_task, pool[i]) for i in chosen]


def has_chat_template(tokenizer: Any) -> bool:
    """Whether prompts are rendered as chat turns: a tokenizer with a non-empty ``chat_template``."""
    return tokenizer is not None and bool(getattr(tokenizer, "chat_template", None))


def build_prompt(
    setting: EvalSetting, item: Item, exemplars: Sequence[Exemplar], tokenizer: Any = None, prompt_format: str | None = None
) -> str:
    """The prompt for one item: few-shot text, or chat turns when the tokenizer has a template. ``prompt_format``
    (0-shot tasks only: plain, step_by_step, chat) replaces that choice, e.g. the plain prompts a model was
    trained on (`TaskConfig.prompt_format`)."""
    chat = has_chat_template(tokenizer)
    if setting.shots == 0:
        text, _ = format_prompt(get_task(setting.task), item, prompt_format or ("chat" if chat else None), tokenizer)
        return text
    if prompt_format is not None:
        raise ValueError(f"{setting.task}: --prompt-format is for 0-shot tasks; this one is {setting.shots}-shot")
    if len(exemplars) != setting.shots:
        raise ValueError(f"{setting.task}: {setting.shots} exemplars needed, got {len(exemplars)}")
    if chat:
        messages: list[dict[str, str]] = []
        for shot in exemplars:
            messages += [{"role": "user", "content": shot.question}, {"role": "assistant", "content": shot.answer}]
        messages.append({"role": "user", "content": item.prompt})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    q, a = setting.question_label, setting.answer_label
    shots = "".join(f"{q}: {shot.question}\n{a}: {shot.answer}\n\n" for shot in exemplars)
    return f"{shots}{q}: {item.prompt}\n{a}:"
