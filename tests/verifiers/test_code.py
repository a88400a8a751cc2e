"""The code verifier: extraction, ground-truth specs, gold and wrong solutions, the value codec."""

import json
import math

import pytest

from rlvr_gym.envs import HumanEvalSource
from rlvr_gym.verifiers import Reason, get_verifier, verify_batch
from rlvr_gym.verifiers.code import (
    FunctionSpec,
    build_program,
    extract_code,
    parse_code_ground_truth,
)
from rlvr_gym.verifiers.sandbox import SandboxLimits
from rlvr_gym.verifiers.sandbox_runner import (
    UnsupportedValue,
    decode_value,
    dump_value,
)
from tests.test_readme import _example

LIMITS = SandboxLimits(wall_s=5.0, cpu_s=5)

# Extraction: the last fenced block (any tag), else the whole text; after </think>
EXTRACTION = [
    ("def f(): pass", "def f(): pass"),
    ("Here:\n```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1\n"),
    ("```\na = 1\n```\ntext\n```py\nb = 2\n```", "b = 2\n"),
    ("<think>```python\nx = 1\n```</think>\n```python\ny = 2\n```", "y = 2\n"),
    ("```python\ndef f():\n    return 1", "def f():\n    return 1"),  # unclosed last fence: to the end
    ("<think>never closed ```python\nx=1\n```", None),
    ("", None),
    ("```python\n\n```", None),
]


@pytest.mark.parametrize("response, expected", EXTRACTION)
def test_extract_code(response, expected):
    assert extract_code(response) == expected


# Ground truths that are not understood: invalid_ground_truth, never a zero for the response
BAD_TRUTHS = [
    ({"entry_point": "f"}, "got keys"),
    ({"entry_point": "not an identifier", "tests": "assert True"}, "identifier"),
    ({"entry_point": "f", "tests": []}, "non-empty"),
    ({"entry_point": "f", "tests": ["assert ("]}, "does not compile"),
    ({"entry_point": "f", "tests": "assert True", "extra": 1}, "got keys"),
    ({"cases": []}, "non-empty"),
    ({"cases": [{"input": "1"}]}, "case 0"),
    ("not json", "not JSON"),
    (42, "must be a dict"),
]


@pytest.mark.parametrize("truth, message", BAD_TRUTHS)
def test_bad_ground_truth(truth, message):
    verdict = get_verifier("code", limits=LIMITS).verify("def f(): pass", truth)
    assert verdict.reason is Reason.INVALID_GROUND_TRUTH and message in verdict.details["error"], verdict


def test_program_is_prompt_then_code():
    spec = FunctionSpec("f", ("assert f() == 1",), prompt='import math\ndef f():\n    """Return one."""\n')
    assert build_program("    return 1\n", spec) == spec.prompt + "    return 1\n"  # completion
    assert build_program("def f():\n    return 1\n", spec) == spec.prompt + "\ndef f():\n    return 1\n"  # whole function
    assert parse_code_ground_truth(json.dumps({"entry_point": "f", "tests": "assert f() == 1"})).tests == ("assert f() == 1",)


# The value codec: plain data round-trips exactly; nothing else crosses
ROUND_TRIP = [None, True, 0, -(10**30), 1.5, "é\n", b"\x00\xff", 1 + 2j, [1, [2]], (1, (2,)), {"a": (1,)}, {1, 2}, frozenset({3}),
              {(1, 2): [None]}, float("inf"), float("-inf")]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_codec_round_trip(value):
    decoded = decode_value(json.loads(dump_value(value)))
    assert decoded == value and type(decoded) is type(value)


def test_codec_rejects_what_is_not_plain_data():
    assert math.isnan(decode_value(json.loads(dump_value(float("nan")))))
    assert decode_value(json.loads(dump_value("\ud800 \"\n"))) == "\ud800 \"\n"  # lone surrogates, quotes survive
    nested = []
    for _ in range(150):
        nested = [nested]
    for value in (object(), type("I", (int,), {})(1), nested, lambda: 1, 10**5000):
        with pytest.raises(UnsupportedValue):
            dump_value(value)
    for data in ({"tuple": 1}, {"a": [1], "b": [2]}, {"bytes": 5}, {"weird": []}, {"str": "zz"}, {"set": [[1]]}, "raw string"):
        with pytest.raises(UnsupportedValue):
            decode_value(data)


# Function tests: verdict, failure kind, partial pass rate
FUNCTION_CASES = [
    ("def f(x):\n    return x + 1", Reason.CORRECT, None, 3),
    ("def f(x):\n    return x + 1 if x < 5 else 0", Reason.WRONG_ANSWER, "assertion", 2),
    ("def f(x):\n    raise ValueError('no')", Reason.WRONG_ANSWER, "exception", 0),
    ("def g(x):\n    return x + 1", Reason.WRONG_ANSWER, "missing_function", 0),
    ("def f(x) return x", Reason.WRONG_ANSWER, "syntax_error", 0),
    ("def f(x):\n    return str(x + 1)", Reason.WRONG_ANSWER, "assertion", 0),
]


@pytest.mark.parametrize("code, reason, failure, passed", FUNCTION_CASES)
def test_function_tests(code, reason, failure, passed):
    truth = {"entry_point": "f", "tests": ["assert f(1) == 2", "assert f(2) == 3", "assert f(9) == 10"]}
    verdict = get_verifier("code", alpha=10.0, limits=LIMITS).verify(f"```python\n{code}\n```", truth)
    assert verdict.reason is reason, verdict
    assert verdict.score == (10.0 if reason is Reason.CORRECT else 0.0)
    assert verdict.details.get("failure") == failure and verdict.details["passed"] == passed and verdict.details["total"] == 3


def test_expected_exceptions_cross_as_their_builtin_type():
    truth = {"entry_point": "f", "tests": "try:\n    f(-1)\n    raise AssertionError('no error')\nexcept ValueError:\n    pass"}
    code = "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x"
    assert get_verifier("code", limits=LIMITS).verify(code, truth).correct


# Stdio tests: output compared outside the sandbox, trailing whitespace ignored
STDIO_CASES = [
    ("print(sum(map(int, input().split())))", Reason.CORRECT, None),
    ("print(sum(map(int, input().split())), '  ')\nprint()", Reason.CORRECT, None),
    ("print(0)", Reason.WRONG_ANSWER, "wrong_output"),
    ("import sys\nprint(sum(map(int, input().split())))\nsys.exit(2)", Reason.WRONG_ANSWER, "wrong_output"),
    ("raise KeyError('x')", Reason.WRONG_ANSWER, "exception"),
]


@pytest.mark.parametrize("code, reason, failure", STDIO_CASES)
def test_stdio_tests(code, reason, failure):
    truth = {"cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5", "output": "10"}]}
    verdict = get_verifier("code", limits=LIMITS).verify(code, truth)
    assert verdict.reason is reason and verdict.details.get("failure") == failure, verdict


def test_readme_example_runs():
    exec(compile(_example("code"), "README.md", "exec"), {})  # noqa: S102 - the README's own example


def test_no_code_is_no_answer():
    assert get_verifier("code").verify("```python\n```", {"entry_point": "f", "tests": "assert f()"}).reason is Reason.NO_ANSWER


_PERTURB = '''
_rlvr_gold = {ep}
def _rlvr_perturb(v):
    if isinstance(v, bool): return not v
    if isinstance(v, (int, float)): return v + 1
    if isinstance(v, str): return v + "#"
    if isinstance(v, list): return v + [None]
    if isinstance(v, tuple): return v + (None,)
    return 0 if v is None else None
def {ep}(*args):
    return _rlvr_perturb(_rlvr_gold(*args))
'''


@pytest.mark.slow
def test_humaneval_gold_passes_and_a_perturbed_gold_fails_on_every_task():
    items = HumanEvalSource().load()
    assert len(items) == 164
    verifier = get_verifier("code", limits=LIMITS)
    gold = [(f"```python\n{item.metadata['solution']}```", item.ground_truth) for item in items]
    # the gold with every return value perturbed (off by one, one more element, negated bool)
    wrong = [(f"```python\n{item.metadata['solution']}{_PERTURB.format(ep=item.ground_truth['entry_point'])}```", item.ground_truth) for item in items]
    result = verify_batch(verifier, gold + wrong, workers=2, timeout_s=20)
    failed_gold = [(item.id, dict(v.details)) for item, v in zip(items, result.verdicts[:164]) if not v.correct]
    assert not failed_gold, failed_gold[:3]
    passed_wrong = [(item.id, dict(v.details)) for item, v in zip(items, result.verdicts[164:]) if v.reason is not Reason.WRONG_ANSWER]
    assert not passed_wrong, passed_wrong[:3]
    assert all(v.details["failure"] == "assertion" for v in result.verdicts[164:])
