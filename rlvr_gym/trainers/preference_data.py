"""Preference pairs on disk: JSONL with ``prompt``, ``chosen``, ``rejected``, the format TRL's ``DPOTrainer`` reads.

Two kinds of record, as in TRL 1.16 (``trl/data_utils.py`` ``is_conversational``; ``DPOTrainer._prepare_dataset``):

- plain text: ``{"prompt": "2+3=", "chosen": "5", "rejected": "6"}``; the model sees the prompt followed by
  the response, and EOS is appended to each response (unless it already ends with the EOS token's text);
- chat messages: ``{"prompt": [{"role": "user", "content": ...}], "chosen": [{"role": "assistant", "content":
  ...}], "rejected": [...]}``; the tokenizer's chat template renders the prompt with the generation prompt,
  and the prompt followed by each response (which then ends as the template ends an assistant turn).

Other keys of a record (``id``, ``ground_truth``, labelling details) are kept but not used. Every record is
checked when the file is read: a missing field, an empty prompt or response, a malformed message, a mix of
the two kinds, or a chosen response identical to the rejected one is an error naming the line; all bad lines
are reported together (the count, then the first ten), and nothing is skipped. Records without a ``prompt``
(TRL's implicit prompt, the shared start of two conversations) are not accepted.

Tokenising follows TRL: the response starts where the tokens of the prompt alone and of prompt + response
first differ (a merge across the boundary moves it earlier), so prompt + response is exactly the token
sequence the model is trained on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Message",
    "PreferencePair",
    "TokenizedPair",
    "parse_pair",
    "read_preferences",
    "tokenize_pair",
    "write_preferences",
]

Message = Mapping[str, str]
"""A chat message: ``{"role": ..., "content": ...}``."""

FIELDS = ("prompt", "chosen", "rejected")
_SHOWN_ERRORS = 10


@dataclass(frozen=True)
class PreferencePair:
    """One checked record: plain text (three strings) or chat messages (three tuples of messages)."""

    prompt: str | tuple[Message, ...]
    chosen: str | tuple[Message, ...]
    rejected: str | tuple[Message, ...]
    line: int
    """The record's line in its file (1-based); 0 for pairs built in memory."""

    @property
    def conversational(self) -> bool:
        return not isinstance(self.prompt, str)


@dataclass(frozen=True)
class TokenizedPair:
    """A pair as token ids: the shared prompt, and each response (with its end: EOS, or the chat template's turn end)."""

    prompt_ids: tuple[int, ...]
    chosen_ids: tuple[int, ...]
    rejected_ids: tuple[int, ...]
    line: int


def _messages(value: Any, name: str, roles: Sequence[str] | None) -> tuple[Message, ...]:
    if not value:
        raise ValueError(f"{name} is empty")
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str) or not isinstance(message.get("content"), str):
            raise ValueError(f"{name}[{i}] is not a message {{'role': str, 'content': str}}")
        if roles is not None and message["role"] not in roles:
            raise ValueError(f"{name}[{i}] has role {message['role']!r}; a response's messages are {' or '.join(roles)}")
        out.append({"role": message["role"], "content": message["content"]})
    if not any(m["content"].strip() for m in out):
        raise ValueError(f"{name} is empty (no message has content)")
    return tuple(out)


def parse_pair(record: Any, line: int = 0) -> PreferencePair:
    """Check one record and return it as a `PreferencePair`; ValueError says what is wrong (not where)."""
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    missing = [key for key in FIELDS if key not in record]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)} (a record needs prompt, chosen and rejected)")
    values = [record[key] for key in FIELDS]
    if all(isinstance(v, str) for v in values):
        for key, value in zip(FIELDS, values):
            if not value.strip():
                raise ValueError(f"{key} is empty")
        prompt, chosen, rejected = values
    elif all(isinstance(v, list) for v in values):
        prompt = _messages(values[0], "prompt", None)
        chosen = _messages(values[1], "chosen", ("assistant",))
        rejected = _messages(values[2], "rejected", ("assistant",))
    else:
        kinds = ", ".join(f"{key}: {type(v).__name__}" for key, v in zip(FIELDS, values))
        raise ValueError(f"prompt, chosen and rejected must all be strings or all be lists of chat messages ({kinds})")
    if chosen == rejected:
        raise ValueError("chosen and rejected are identical (no preference to learn)")
    return PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected, line=line)


def read_preferences(path: str | Path) -> list[PreferencePair]:
    """Every record of a preference JSONL, checked; ValueError lists the bad lines (all counted, ten shown)."""
    pairs: list[PreferencePair] = []
    errors: list[str] = []
    path = Path(path)
    with open(path, encoding="utf-8") as stream:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            try:
                pairs.append(parse_pair(record, line_no))
            except ValueError as exc:
                errors.append(f"line {line_no}: {exc}")
    if errors:
        shown = "; ".join(errors[:_SHOWN_ERRORS]) + ("; ..." if len(errors) > _SHOWN_ERRORS else "")
        raise ValueError(f"{path}: {len(errors)} bad preference record(s): {shown}")
    if not pairs:
        raise ValueError(f"{path}: no preference records")
    kinds = {pair.conversational for pair in pairs}
    if len(kinds) > 1:
        first_chat = next(pair.line for pair in pairs if pair.conversational)
        first_text = next(pair.line for pair in pairs if not pair.conversational)
        raise ValueError(f"{path}: mixes plain-text records (line {first_text}) and chat records (line {first_chat})")
    return pairs


def write_preferences(path: str | Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write records (each parsed by `parse_pair` first) to ``path`` through a temporary file; returns the count."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8") as stream:
        for record in records:
            parse_pair(record)
            stream.write(json.dumps(dict(record), ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _ids(tokenizer: Any, text: str) -> list[int]:
    return [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]


def tokenize_pair(pair: PreferencePair, tokenizer: Any) -> TokenizedPair:
    """Token ids of a pair (see the module docstring); chat records need a tokenizer with a chat template."""
    if pair.conversational:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"line {pair.line}: chat-message pairs need a tokenizer with a chat template (this one has none)")
        prompt = list(pair.prompt)  # type: ignore[arg-type]
        prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        full = [tokenizer.apply_chat_template(prompt + list(r), tokenize=False) for r in (pair.chosen, pair.rejected)]  # type: ignore[arg-type]
        prompt_ids, chosen_full, rejected_full = _ids(tokenizer, prompt_text), _ids(tokenizer, full[0]), _ids(tokenizer, full[1])
        ends: list[int] = []
    else:
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("plain-text pairs need a tokenizer with an EOS token (appended to each response)")
        prompt_ids = _ids(tokenizer, pair.prompt)  # type: ignore[arg-type]
        chosen_full = _ids(tokenizer, pair.prompt + pair.chosen)  # type: ignore[operator]
        rejected_full = _ids(tokenizer, pair.prompt + pair.rejected)  # type: ignore[operator]
        ends = [int(eos)]
    start = min(_common_prefix(prompt_ids, chosen_full), _common_prefix(prompt_ids, rejected_full))
    chosen = chosen_full[start:] + (ends if chosen_full[-1:] != ends else [])
    rejected = rejected_full[start:] + (ends if rejected_full[-1:] != ends else [])
    if not start:
        raise ValueError(f"line {pair.line}: the prompt tokenizes to nothing shared with its responses")
    if chosen == rejected:
        raise ValueError(f"line {pair.line}: chosen and rejected tokenize to the same ids")
    return TokenizedPair(tuple(prompt_ids[:start]), tuple(chosen), tuple(rejected), pair.line)

