"""IFEval (Zhou et al. 2023): does a response follow every verifiable instruction of its prompt?

    >>> from rlvr_gym.verifiers.ifeval import IFEvalVerifier
    >>> gt = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "prompt": "..."}
    >>> IFEvalVerifier(alpha=1.0).verify("No commas here.", gt).reason.value
    'correct'

Ground truth is a row of the official ``input_data.jsonl`` (or its JSON text); see
`parse_ground_truth`. The 25 instruction checkers live in `INSTRUCTIONS`
(``instructions.py``), the sentence/word/language helpers in ``nlp.py``.

- `IFEvalVerifier` (registry name ``ifeval``): strict, the response as it is.
- `IFEvalLooseVerifier` (``ifeval_loose``): an instruction also passes when it passes on the
  response without its first and/or last line, or without ``*`` (`loose_variants`).

Both score ``alpha`` only when every instruction is followed (the paper's prompt-level
accuracy); ``details`` carries the per-instruction results for instruction-level accuracy.
"""

from .instructions import INSTRUCTIONS, LANGUAGE_CODES, RELATIONS, Instruction
from .verifier import (
    IFEvalLooseVerifier,
    IFEvalVerifier,
    ParsedInstruction,
    loose_variants,
    parse_ground_truth,
    strict_variants,
)

__all__ = [
    "INSTRUCTIONS",
    "LANGUAGE_CODES",
    "RELATIONS",
    "IFEvalLooseVerifier",
    "IFEvalVerifier",
    "Instruction",
    "ParsedInstruction",
    "loose_variants",
    "parse_ground_truth",
    "strict_variants",
]
