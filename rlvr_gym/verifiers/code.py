"""Code: run the response's Python against the ground truth's tests, in the sandbox.

Ground truth (a dict, or that dict as a JSON string), one of
    ``{"entry_point": "f", "tests": str | [str, ...], "prompt": str (optional)}``: function tests.
    Each test is Python source run (outside the sandbox) with ``candidate`` and ``f`` bound to the
    program's function; a test that defines ``check`` gets ``check(candidate)`` called
    (HumanEval). ``prompt`` is the function's stub and helpers (HumanEval's prompt): the program
    is the prompt followed by the response's code, so a completion of the stub and a whole
    function both work, and the stub's imports and helpers are there.

    ``{"cases": [{"input": str, "output": str}, ...]}``: stdin/stdout tests, each case in a
    fresh sandbox; stdout must equal ``output`` up to trailing whitespace per line and
    trailing empty lines, with exit status 0.

Extraction
    Text after the last ``</think>`` (an unclosed ``<think>``: ``no_answer``); the code is the body
    of the last fenced block (```` ``` ```` with any language tag; an unclosed last fence runs to
    the end), else the whole text. Empty code: ``no_answer``.

Score
    α when every test passes, else 0 with ``wrong_answer`` and ``details["failure"]`` (one of
    `Failure`), ``details["message"]``, ``details["test"]`` (index of the first failing test),
    ``details["passed"]``/``details["total"]`` (the partial pass rate, never in the score).
    If the sandbox itself cannot start, the verdict is ``error`` (never a silent zero).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .base import InvalidGroundTruth, Reason, Verdict, make_verdict, never_raises
from .code_exec import Failure, TestRun, run_function_tests, run_stdio_tests
from .sandbox import SandboxLimits, sandbox_setup
from .text import after_think

__all__ = ["CodeVerifier", "Failure", "FunctionSpec", "StdioSpec", "build_program", "extract_code", "parse_code_ground_truth"]

_FENCE = re.compile(r"^[ \t]*```[^\n`]*\n(.*?)(?:^[ \t]*```|\Z)", re.MULTILINE | re.DOTALL)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FunctionSpec:
    """Function tests: the program must define ``entry_point``; each test exercises it."""

    entry_point: str
    tests: tuple[str, ...]
    prompt: str = ""


@dataclass(frozen=True)
class StdioSpec:
    """Stdin/stdout tests: ``(input, expected output)`` per case."""

    cases: tuple[tuple[str, str], ...]


def parse_code_ground_truth(ground_truth: Any) -> FunctionSpec | StdioSpec:
    """The test spec of a ground truth; `InvalidGroundTruth` naming what is wrong."""
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except json.JSONDecodeError as exc:
            raise InvalidGroundTruth(f"code ground truth string is not JSON: {exc.msg}") from None
    if not isinstance(ground_truth, dict):
        raise InvalidGroundTruth(f"code ground truth must be a dict, got {type(ground_truth).__name__}")
    if "cases" in ground_truth:
        extra = set(ground_truth) - {"cases"}
        cases = ground_truth["cases"]
        if extra or not isinstance(cases, list) or not cases:
            raise InvalidGroundTruth('stdio ground truth must be {"cases": [{"input": str, "output": str}, ...]} (non-empty)')
        parsed = []
        for i, case in enumerate(cases):
            if not isinstance(case, dict) or set(case) != {"input", "output"} or not all(isinstance(case[k], str) for k in case):
                raise InvalidGroundTruth(f"stdio case {i} must be {{\"input\": str, \"output\": str}}, got {str(case)[:200]}")
            parsed.append((case["input"], case["output"]))
        return StdioSpec(tuple(parsed))
    unknown = set(ground_truth) - {"entry_point", "tests", "prompt"}
    if unknown or "entry_point" not in ground_truth or "tests" not in ground_truth:
        raise InvalidGroundTruth(
            'code ground truth must be {"entry_point": str, "tests": str | [str], "prompt"?: str} or {"cases": [...]}, '
            f"got keys {sorted(ground_truth)}"
        )
    entry_point, tests, prompt = ground_truth["entry_point"], ground_truth["tests"], ground_truth.get("prompt", "")
    if not isinstance(entry_point, str) or not _IDENTIFIER.match(entry_point):
        raise InvalidGroundTruth(f"entry_point must be a Python identifier, got {entry_point!r}")
    tests = [tests] if isinstance(tests, str) else tests
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) and t.strip() for t in tests):
        raise InvalidGroundTruth("tests must be a non-empty string or a non-empty list of non-empty strings")
    if not isinstance(prompt, str):
        raise InvalidGroundTruth(f"prompt must be a string, got {type(prompt).__name__}")
    for i, source in enumerate(tests):
        try:
            compile(source, f"<test {i}>", "exec")
        except (SyntaxError, ValueError) as exc:
            raise InvalidGroundTruth(f"test {i} does not compile: {exc}") from None
    return FunctionSpec(entry_point, tuple(tests), prompt)


def extract_code(response: str) -> str | None:
    """The code of a response (see the module docstring); None when there is none."""
    text = after_think(response)
    if text is None:
        return None
    blocks = _FENCE.findall(text)
    code = blocks[-1] if blocks else text
    return code if code.strip() else None


def build_program(code: str, spec: FunctionSpec | StdioSpec) -> str:
    """The program run in the sandbox: the prompt (stub, imports, helpers) then the code.

    When the code defines the entry point itself, it follows the prompt on a new line (its
    definition replaces the stub); otherwise it is appended as it is (a completion of the stub).
    """
    if isinstance(spec, StdioSpec) or not spec.prompt:
        return code
    defines = re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(spec.entry_point)}[ \t]*\(", code, re.MULTILINE)
    return spec.prompt + ("\n" + code if defines else code)


@dataclass(frozen=True)
class CodeVerifier:
    """Python code against tests, run in the sandbox (`rlvr_gym.verifiers.sandbox`)."""

    alpha: float = 1.0
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    """Resource limits of each item (wall-clock, CPU, memory, processes, files, output)."""
    prefetch: bool = True
    """Launch the next item's sandbox while this one runs (one idle fresh sandbox per process)."""
    name: ClassVar[str] = "code"

    def __post_init__(self) -> None:
        if not isinstance(self.limits, SandboxLimits):
            raise TypeError(f"CodeVerifier.limits must be a SandboxLimits, got {type(self.limits).__name__}")

    @never_raises
    def verify(self, response: str, ground_truth: Any) -> Verdict:
        spec = parse_code_ground_truth(ground_truth)
        code = extract_code(response)
        if code is None:
            return make_verdict(self.alpha, Reason.NO_ANSWER)
        setup = sandbox_setup()
        program = build_program(code, spec)
        if isinstance(spec, FunctionSpec):
            run = run_function_tests(setup, self.limits, program, spec.entry_point, spec.tests, spec.prompt, self.prefetch)
        else:
            run = run_stdio_tests(setup, self.limits, program, spec.cases, self.prefetch)
        return self._verdict(code, run, setup.isolation.value)

    def _verdict(self, code: str, run: TestRun, isolation: str) -> Verdict:
        details: dict[str, Any] = {"passed": run.passed, "total": run.total, "isolation": isolation}
        if run.ok:
            return make_verdict(self.alpha, Reason.CORRECT, extracted=code, details=details)
        assert run.failure is not None
        details.update(failure=run.failure.value, message=run.message, test=run.test)
        if run.error is not None:
            details["error"] = run.error
        if run.output:
            details["output_tail"] = run.output
        return make_verdict(self.alpha, Reason.WRONG_ANSWER, extracted=code, details=details)
