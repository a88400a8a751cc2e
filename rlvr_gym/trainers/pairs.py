"""Preference pairs labelled by a verifier: K responses per prompt, chosen = verified correct, rejected = wrong.

`label_group` is the pure part: given one prompt's responses and their verdicts it returns the pairs to keep
and why any candidate was not kept. The candidates are the i-th usable correct response with the i-th
wrong one, in sample order; the first ``pairs_per_prompt`` that pass the filters are kept. A response can be

- *chosen* when its verdict is ``correct`` (and, with ``chosen_must_finish``, it ended by EOS or a stop
  string: a truncated answer is not one the model gives);
- *rejected* when its verdict is ``wrong_answer`` or ``no_answer``. A ``timeout``, ``error``, ``invalid_*``
  verdict says nothing about the response and never makes it rejected.

A group with no usable correct or no wrong response has no contrast and gives no pair (counted by outcome,
`GroupOutcome`); every candidate pair is counted as kept, dropped by a filter (`DropReason`), or over the
per-prompt limit. `sample_pairs` draws the responses through a rollout engine, verifies them in a
`VerifierPool` and writes the records of `rlvr_gym.trainers.preference_data` (plain text, or chat messages
when the task's prompt format is ``chat``), with the labelling facts beside them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..enums import StrEnum
from ..envs import Item, PromptFormat, TaskSpec, format_prompt
from ..rollout import RolloutEngine, SamplingConfig
from ..verifiers import Reason, Verdict, Verifier, VerifierPool
from .dpo_config import PairFilterConfig, PairsConfig

__all__ = ["DropReason", "GroupLabel", "GroupOutcome", "LabelCounts", "Response", "label_group", "pair_record", "sample_pairs"]

REJECTABLE = frozenset({Reason.WRONG_ANSWER, Reason.NO_ANSWER})
"""Verdicts that make a response a rejected candidate: the verifier read it and it is wrong."""


class GroupOutcome(StrEnum):
    """What one prompt's group of K responses gave."""

    PAIRED = "paired"
    """At least one pair kept."""
    NO_CORRECT = "no_correct"
    """No response verified correct: no contrast."""
    NO_FINISHED_CORRECT = "no_finished_correct"
    """Correct responses, but none ended (``chosen_must_finish``)."""
    NO_WRONG = "no_wrong"
    """No wrong response (all correct, or the others unverifiable): no contrast."""
    ALL_FILTERED = "all_filtered"
    """Candidates existed, the filters dropped every one."""


class DropReason(StrEnum):
    """Why a candidate pair was dropped."""

    IDENTICAL = "identical_text"
    """The two responses are the same text (always dropped: no preference)."""
    BLANK = "blank_text"
    """A response is empty or only whitespace (always dropped: a preference record refuses it, as
    `rlvr_gym.trainers.preference_data.parse_pair` does for any user file)."""
    SAME_ANSWER = "same_answer"
    """Both extracted answers are equal (``filters.drop_same_answer``)."""
    LENGTH_RATIO = "length_ratio"
    """The longer response is more than ``filters.max_length_ratio`` times the shorter."""
    NO_ANSWER_REJECTED = "no_answer_rejected"
    """The rejected response has no answer (``filters.drop_no_answer_rejected``)."""


@dataclass(frozen=True)
class Response:
    """One sampled response with its verdict."""

    text: str
    verdict: Verdict
    finished: bool = True
    """Ended by EOS or a stop string (False: cut at ``max_new_tokens``)."""


@dataclass(frozen=True)
class GroupLabel:
    """The labelling of one prompt's group."""

    pairs: tuple[tuple[int, int], ...]
    """``(chosen index, rejected index)`` into the group's responses."""
    outcome: GroupOutcome
    dropped: Mapping[str, int] = field(default_factory=dict)
    """Candidates dropped, by `DropReason` value."""
    over_limit: int = 0
    """Candidates that passed the filters beyond ``pairs_per_prompt``."""


def _drop_reason(chosen: Response, rejected: Response, filters: PairFilterConfig) -> DropReason | None:
    if chosen.text == rejected.text:
        return DropReason.IDENTICAL
    if not chosen.text.strip() or not rejected.text.strip():
        return DropReason.BLANK
    if filters.drop_same_answer and chosen.verdict.extracted is not None and chosen.verdict.extracted == rejected.verdict.extracted:
        return DropReason.SAME_ANSWER
    if filters.max_length_ratio is not None:
        short, long = sorted((len(chosen.text), len(rejected.text)))
        if long > filters.max_length_ratio * max(short, 1):
            return DropReason.LENGTH_RATIO
    if filters.drop_no_answer_rejected and rejected.verdict.reason is Reason.NO_ANSWER:
        return DropReason.NO_ANSWER_REJECTED
    return None


def label_group(responses: Sequence[Response], filters: PairFilterConfig, pairs_per_prompt: int) -> GroupLabel:
    """The pairs of one prompt's responses (see the module docstring)."""
    correct = [i for i, r in enumerate(responses) if r.verdict.correct]
    usable = [i for i in correct if responses[i].finished or not filters.chosen_must_finish]
    wrong = [i for i, r in enumerate(responses) if r.verdict.reason in REJECTABLE]
    if not correct:
        return GroupLabel((), GroupOutcome.NO_CORRECT)
    if not wrong:
        return GroupLabel((), GroupOutcome.NO_WRONG)
    if not usable:
        return GroupLabel((), GroupOutcome.NO_FINISHED_CORRECT)
    kept: list[tuple[int, int]] = []
    dropped: Counter[str] = Counter()
    over = 0
    for c, w in zip(usable, wrong):
        reason = _drop_reason(responses[c], responses[w], filters)
        if reason is not None:
            dropped[reason.value] += 1
        elif len(kept) < pairs_per_prompt:
            kept.append((c, w))
        else:
            over += 1
    outcome = GroupOutcome.PAIRED if kept else GroupOutcome.ALL_FILTERED
    return GroupLabel(tuple(kept), outcome, dict(dropped), over)


@dataclass
class LabelCounts:
    """Counts over all groups of a labelling run (``pairs_summary.json``)."""

    prompts: int = 0
    responses: int = 0
    correct: int = 0
    pairs: int = 0
    over_limit: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)

    def add(self, responses: Sequence[Response], label: GroupLabel) -> None:
        self.prompts += 1
        self.responses += len(responses)
        self.correct += sum(r.verdict.correct for r in responses)
        self.pairs += len(label.pairs)
        self.over_limit += label.over_limit
        self.groups[label.outcome.value] += 1
        self.dropped.update(label.dropped)
        self.verdicts.update(r.verdict.reason.value for r in responses)

    def to_json(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "responses": self.responses,
            "sample_accuracy": self.correct / max(self.responses, 1),
            "pairs": self.pairs,
            "groups": {o.value: self.groups.get(o.value, 0) for o in GroupOutcome},
            "dropped": {d.value: self.dropped.get(d.value, 0) for d in DropReason},
            "over_limit": self.over_limit,
            "verdicts": dict(sorted(self.verdicts.items())),
        }

    def line(self) -> str:
        """One human-readable line."""
        groups = ", ".join(f"{k} {v}" for k, v in self.to_json()["groups"].items() if v)
        dropped = ", ".join(f"{k} {v}" for k, v in self.to_json()["dropped"].items() if v)
        return (
            f"{self.pairs} pairs from {self.prompts} prompts x {self.responses // max(self.prompts, 1)} samples "
            f"(sample accuracy {self.correct / max(self.responses, 1):.3f}); groups: {groups}"
            + (f"; dropped: {dropped}" if dropped else "")
            + (f"; over the per-prompt limit: {self.over_limit}" if self.over_limit else "")
        )


def pair_record(
    prompt: str | list[Mapping[str, str]], item: Item, chosen: Response, rejected: Response
) -> dict[str, Any]:
    """The JSONL record of one pair: TRL's three fields (chat messages when ``prompt`` is a message list), then the facts."""
    if isinstance(prompt, str):
        texts: tuple[Any, Any] = (chosen.text, rejected.text)
    else:
        texts = ([{"role": "assistant", "content": chosen.text}], [{"role": "assistant", "content": rejected.text}])
    return {
        "prompt": prompt,
        "chosen": texts[0],
        "rejected": texts[1],
        "id": item.id,
        "ground_truth": item.ground_truth,
        "chosen_answer": chosen.verdict.extracted,
        "rejected_answer": rejected.verdict.extracted,
        "rejected_reason": rejected.verdict.reason.value,
    }


def sample_pairs(
    engine: RolloutEngine,
    spec: TaskSpec,
    items: Sequence[Item],
    prompt_format: PromptFormat,
    tokenizer: Any,
    pool: VerifierPool,
    verifier: Verifier,
    config: PairsConfig,
    seed: int | None,
) -> tuple[list[dict[str, Any]], LabelCounts]:
    """K responses per item through ``engine`` (one call, ``n = K``: each prompt prefilled once; item-major),
    verified in ``pool``, labelled into records."""
    k = config.samples_per_prompt
    shown = [format_prompt(spec, item, prompt_format, tokenizer) for item in items]
    sampling: SamplingConfig = dataclasses.replace(config.sampling, seed=seed, n=k)
    completions = engine.generate([text for text, _ in shown], sampling)
    if len(completions) != len(items) * k:
        raise RuntimeError(f"sample_pairs: the engine returned {len(completions)} completions for {len(items)} prompts x {k}")
    result = pool.verify(verifier, [(c.text, items[i // k].ground_truth) for i, c in enumerate(completions)])
    records: list[dict[str, Any]] = []
    counts = LabelCounts()
    for n, item in enumerate(items):
        group = [Response(c.text, v, c.finished) for c, v in zip(completions[n * k : (n + 1) * k], result.verdicts[n * k : (n + 1) * k])]
        label = label_group(group, config.filters, config.pairs_per_prompt)
        counts.add(group, label)
        text, messages = shown[n]
        prompt: str | list[Mapping[str, str]] = messages if prompt_format is PromptFormat.CHAT else text
        records.extend(pair_record(prompt, item, group[c], group[w]) for c, w in label.pairs)
    return records, counts
