"""The IFEval verifiers: strict (`IFEvalVerifier`) and loose (`IFEvalLooseVerifier`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Sequence

from ..base import InvalidGroundTruth, Reason, Verdict, make_verdict, never_raises
from .instructions import INSTRUCTIONS

__all__ = [
    "IFEvalLooseVerifier",
    "IFEvalVerifier",
    "ParsedInstruction",
    "loose_variants",
    "parse_ground_truth",
    "strict_variants",
]


@dataclass(frozen=True)
class ParsedInstruction:
    """One instruction of a prompt, with its keyword arguments checked and bound."""

    id: str
    kwargs: Mapping[str, Any]

    def followed_by(self, response: str) -> bool:
        return bool(INSTRUCTIONS[self.id].check(response, **self.kwargs))


def parse_ground_truth(ground_truth: Any) -> tuple[ParsedInstruction, ...]:
    """The instructions of an IFEval ground truth, or `InvalidGroundTruth` saying what is wrong.

    ``ground_truth`` is a row of the official ``input_data.jsonl`` (a mapping, or its JSON
    text): ``{"instruction_id_list": [...], "kwargs": [...], "prompt": ...}``. Other keys
    (``key``) are ignored; ``prompt`` is optional (no checker reads it: ``repeat_prompt``
    takes its text from its own ``prompt_to_repeat`` kwarg, as in the reference).
    In each kwargs mapping, ``None`` values are dropped first (the Hugging Face copy of the
    data lists every kwarg name, with null for those an instruction does not take).
    """
    if isinstance(ground_truth, (str, bytes, bytearray)):
        try:
            ground_truth = json.loads(ground_truth)
        except (ValueError, RecursionError) as exc:
            raise InvalidGroundTruth(f"ground truth is not valid JSON: {exc}") from None
    if not isinstance(ground_truth, Mapping):
        raise InvalidGroundTruth(
            f"ground truth must be a mapping with 'instruction_id_list' and 'kwargs', got {type(ground_truth).__name__}"
        )
    ids = ground_truth.get("instruction_id_list")
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not ids:
        raise InvalidGroundTruth(f"'instruction_id_list' must be a non-empty list of instruction ids, got {ids!r}")
    kwargs_list = ground_truth.get("kwargs")
    if isinstance(kwargs_list, str) or not isinstance(kwargs_list, Sequence):
        raise InvalidGroundTruth(f"'kwargs' must be a list of mappings, got {kwargs_list!r}")
    if len(kwargs_list) != len(ids):
        raise InvalidGroundTruth(
            f"'instruction_id_list' has {len(ids)} entries but 'kwargs' has {len(kwargs_list)}"
        )
    prompt = ground_truth.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidGroundTruth(f"'prompt' must be a string, got {type(prompt).__name__}")

    parsed = []
    for index, (instruction_id, raw_kwargs) in enumerate(zip(ids, kwargs_list)):
        instruction = INSTRUCTIONS.get(instruction_id) if isinstance(instruction_id, str) else None
        if instruction is None:
            raise InvalidGroundTruth(f"instruction {index}: unknown instruction id {instruction_id!r}")
        if raw_kwargs is None:
            raw_kwargs = {}
        if not isinstance(raw_kwargs, Mapping):
            raise InvalidGroundTruth(
                f"instruction {index} ({instruction_id}): kwargs must be a mapping, got {type(raw_kwargs).__name__}"
            )
        try:
            kwargs = instruction.parse_kwargs(raw_kwargs)
        except InvalidGroundTruth as exc:
            raise InvalidGroundTruth(f"instruction {index} ({instruction_id}): {exc}") from None
        parsed.append(ParsedInstruction(instruction_id, kwargs))
    return tuple(parsed)


def strict_variants(response: str) -> tuple[str, ...]:
    """The responses an instruction is checked on in strict mode: the response itself."""
    return (response,) if response.strip() else ()


def loose_variants(response: str) -> tuple[str, ...]:
    """The responses an instruction is checked on in loose mode (the reference's eight).

    The response; it without its first line, its last line, or both (each then stripped);
    and each of those four with every ``*`` removed. Blank ones are left out (the
    reference fails an instruction on a blank variant), and so are repeats.
    """
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    variants = (
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    )
    return tuple(v for v in dict.fromkeys(variants) if v.strip())


@dataclass(frozen=True)
class _IFEvalVerifierBase:
    """Scores ``alpha`` when the response follows every instruction of the prompt.

    ``details["instructions"]`` lists ``{"id", "followed"}`` per instruction, in order;
    ``details["followed"]`` / ``details["total"]`` give the instruction-level counts.
    A blank response is ``no_answer`` (every instruction not followed, as in the reference).
    """

    alpha: float = 1.0
    """Score of a response that follows every instruction."""

    name: ClassVar[str]
    mode: ClassVar[str]
    """``"strict"`` or ``"loose"``, as in the reference's output file names."""
    variants: ClassVar[Callable[[str], tuple[str, ...]]]
    """The responses each instruction is checked on; an instruction is followed when any passes."""

    def __post_init__(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not self.alpha > 0:
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}")

    @never_raises
    def verify(self, response: str, ground_truth: Any) -> Verdict:
        instructions = parse_ground_truth(ground_truth)
        candidates = type(self).variants(response)
        results = [any(instruction.followed_by(c) for c in candidates) for instruction in instructions]
        details = {
            "instructions": [{"id": i.id, "followed": ok} for i, ok in zip(instructions, results)],
            "followed": sum(results),
            "total": len(results),
            "mode": self.mode,
        }
        if not response.strip():
            reason = Reason.NO_ANSWER
        else:
            reason = Reason.CORRECT if all(results) else Reason.WRONG_ANSWER
        return make_verdict(self.alpha, reason, details=details)


@dataclass(frozen=True)
class IFEvalVerifier(_IFEvalVerifierBase):
    """IFEval, strict: each instruction is checked on the response as it is."""

    name: ClassVar[str] = "ifeval"
    mode: ClassVar[str] = "strict"
    variants: ClassVar[Callable[[str], tuple[str, ...]]] = staticmethod(strict_variants)


@dataclass(frozen=True)
class IFEvalLooseVerifier(_IFEvalVerifierBase):
    """IFEval, loose: an instruction passes if it passes on any of `loose_variants`."""

    name: ClassVar[str] = "ifeval_loose"
    mode: ClassVar[str] = "loose"
    variants: ClassVar[Callable[[str], tuple[str, ...]]] = staticmethod(loose_variants)

