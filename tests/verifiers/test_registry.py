"""Registry, layering and the Verdict contract."""

import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest

from rlvr_gym.verifiers import Reason, Verdict, Verifier, get_verifier, list_verifiers, make_verdict, register_verifier


@dataclass(frozen=True)
class ExactMatch:
    alpha: float = 1.0
    name: ClassVar[str] = "exact_match_probe"

    def verify(self, response, ground_truth):
        return make_verdict(
            self.alpha, Reason.CORRECT if response.strip() == ground_truth else Reason.WRONG_ANSWER, extracted=response.strip()
        )


def test_register_and_build_a_user_verifier():
    register_verifier("exact_match_probe", ExactMatch)
    verifier = get_verifier("exact_match_probe", alpha=10)
    assert isinstance(verifier, Verifier)
    assert verifier.verify(" Paris ", "Paris") == Verdict(10.0, True, "Paris", Reason.CORRECT, {})
    assert "exact_match_probe" in list_verifiers()
    with pytest.raises(ValueError, match="already registered"):
        register_verifier("exact_match_probe", ExactMatch)
    register_verifier("exact_match_probe", ExactMatch, overwrite=True)


@pytest.mark.parametrize("alpha", [0, -1, "10", True, float("nan")])
def test_alpha_must_be_positive(alpha):
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        get_verifier("gsm8k", alpha=alpha)


def test_unknown_verifier_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown verifier 'gsm9k'; registered: .*gsm8k"):
        get_verifier("gsm9k")


def test_verdict_contract():
    with pytest.raises(ValueError, match="contradicts"):
        Verdict(1.0, True, None, Reason.WRONG_ANSWER)
    with pytest.raises(ValueError, match="must score 0.0"):
        Verdict(1.0, False, None, Reason.WRONG_ANSWER)
    assert Verdict(0.0, False, None, "no_answer").reason is Reason.NO_ANSWER
    assert make_verdict(10.0, Reason.TIMEOUT).to_dict() == {
        "score": 0.0,
        "correct": False,
        "extracted": None,
        "reason": "timeout",
        "details": {},
    }


@pytest.mark.parametrize("name", ["gsm8k", "math", "ifeval", "ifeval_loose", "countdown"])
def test_builtin_verifiers_are_hashable_picklable_and_deterministic(name):
    import pickle

    verifier = get_verifier(name, alpha=10.0)
    assert pickle.loads(pickle.dumps(verifier)) == verifier and hash(verifier) == hash(get_verifier(name, alpha=10.0))


def test_the_verifier_layer_imports_without_torch_transformers_or_vllm():
    code = (
        "import sys; import rlvr_gym.verifiers as v; "
        "[v.get_verifier(n).verify('x', g) for n, g in [('gsm8k', '1'), ('math', '1'), ('countdown', {'numbers': [1], 'target': 1})]]; "
        "heavy = sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules); print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
