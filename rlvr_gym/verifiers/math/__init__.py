r"""MATH verifier: a LaTeX final answer checked against a LaTeX ground truth.

``MathVerifier().verify(response, ground_truth)``

*Ground truth* is either the answer itself (``"\frac{1}{2}"``, ``"$x=5$"``) or a
full solution containing ``\boxed{}``; then its final box group is the answer
(see `rlvr_gym.verifiers.latex` for the extraction policy, the same one used on
responses). It is prepared once per process and cached (`prepare_ground_truth`).

*Response*: only the text after ``</think>`` counts (an unclosed ``<think>``
gives ``no_answer``, see ``require_closed_think``); the answer is the last
``\boxed{}`` group (boxes separated only by punctuation/"and"/"or"; a group of
equivalent boxes is one answer, any other group is a list), else an explicit
"final answer is ..." phrase, else ``no_answer``.

*Equivalence* runs cheapest first, one module per stage, and most items never
reach sympy:

1. normalized string equality (`latex.normalize_answer`);
2. `structure`: lists as multisets, sets, ordered tuples and intervals, unions,
   matrices, assignments; a hedge ("5 or 6") never matches a single answer;
3. `numbers` (exact `Fraction` values) and `interval` (interval arithmetic,
   only to *reject*);
4. `symbolic`: sympy through math-verify's LaTeX parser, with an exact test
   (never a float tolerance).

`compare` runs the cascade, `verifier` holds `MathVerifier`, `limits` names
every bound (answer sizes, parse sizes, cache sizes, the timeout), and `safety`
holds the timer and the one rule for exceptions inside sympy.

*Determinism.* No randomness, no float tolerance in acceptance; the verdict
depends only on ``(response, ground_truth)`` and the options, except that a
``timeout`` depends on the machine.
"""

from .compare import GoldAnswer, answers_equivalent, prepare_ground_truth
from .numbers import parse_number
from .verifier import MathVerifier

__all__ = ["GoldAnswer", "MathVerifier", "answers_equivalent", "parse_number", "prepare_ground_truth"]
