"""Deterministic verifiers: ``(response, ground_truth) -> Verdict``.

This layer imports no torch, transformers or vLLM. Verifiers are built through
the registry (``get_verifier("math", alpha=10.0)``) and imported lazily.
"""

from .base import InvalidGroundTruth, Reason, Verdict, Verifier, make_verdict, never_raises
from .batch import BatchResult, VerifierPool, verify_batch, verify_one
from .registry import get_verifier, list_verifiers, register_verifier

__all__ = [
    "BatchResult",
    "InvalidGroundTruth",
    "Reason",
    "Verdict",
    "Verifier",
    "VerifierPool",
    "get_verifier",
    "list_verifiers",
    "make_verdict",
    "never_raises",
    "register_verifier",
    "verify_batch",
    "verify_one",
]
