"""Running a program's tests in the sandbox; the verdict is computed here, outside it.

Function tests: the program runs in the sandbox; the test code (trusted: it is the ground
truth) runs here, in the verifying process, with the function under test replaced by a proxy
whose every call crosses to the sandbox as plain data and comes back as plain data. So the
outcome of an ``assert`` is decided by code the response never touched.

Stdio tests: one fresh sandbox per case; the printed output is compared here.
"""

from __future__ import annotations

import builtins
import enum
import time
from dataclasses import dataclass
from typing import Any

from .base import InvalidGroundTruth
from .sandbox import (
    Event,
    Outcome,
    SandboxLimits,
    SandboxProcess,
    SandboxSetup,
    start_sandbox,
)
from .sandbox_runner import UnsupportedValue, dump_value

__all__ = ["Failure", "SandboxUnavailable", "TestRun", "run_function_tests", "run_stdio_tests"]


class Failure(str, enum.Enum):
    """Why a program failed its tests (``details["failure"]`` of a ``wrong_answer``)."""

    ASSERTION = "assertion"
    """A test's assertion did not hold."""
    EXCEPTION = "exception"
    """The program raised (``details["error"]`` has the type, message and line)."""
    WRONG_OUTPUT = "wrong_output"
    """A stdio case printed something else, or the program exited with a non-zero status."""
    SYNTAX_ERROR = "syntax_error"
    """The program does not compile."""
    MISSING_FUNCTION = "missing_function"
    """The program defines no callable with the entry point's name."""
    UNSUPPORTED_VALUE = "unsupported_value"
    """The function returned something that is not plain data (e.g. an object equal to everything)."""
    TIMEOUT = "timeout"
    """The wall-clock limit passed."""
    CPU_TIME = "cpu_time"
    """The CPU-time limit passed (SIGXCPU)."""
    MEMORY = "memory"
    """The address-space limit was hit (MemoryError)."""
    RECURSION = "recursion"
    """RecursionError."""
    PROCESS_LIMIT = "process_limit"
    """A fork or thread start failed with EAGAIN: the process limit."""
    OUTPUT_LIMIT = "output_limit"
    """stdout plus stderr passed the output limit."""
    EXITED = "exited"
    """The program ended (exit, ``os._exit``) before its tests were done."""
    CRASHED = "crashed"
    """The program was killed by a signal."""
    PROTOCOL = "protocol"
    """The program wrote garbage where answers were expected."""


class SandboxUnavailable(RuntimeError):
    """The sandbox did not come up (an infrastructure problem: an ``error`` verdict, never a zero)."""


@dataclass(frozen=True)
class TestRun:
    """What running a program's tests gave."""

    passed: int
    total: int
    failure: Failure | None = None
    test: int | None = None
    """Index of the first failing test (list of tests, stdio cases); None for one test block."""
    message: str = ""
    """What failed, in words."""
    error: dict[str, Any] | None = None
    """The program's exception: type, message, line in the program."""
    output: str = ""
    """The tail of what the program printed."""

    @property
    def ok(self) -> bool:
        return self.failure is None and self.passed == self.total


_SIGNALS = {24: "SIGXCPU", 9: "SIGKILL", 11: "SIGSEGV", 6: "SIGABRT", 25: "SIGXFSZ", 7: "SIGBUS", 8: "SIGFPE"}


def _exit_failure(returncode: int | None, namespaces: bool) -> tuple[Failure, str]:
    """Classify how the sandbox ended: bwrap reports a signal as 128 + n, a plain process as -n."""
    code = returncode if returncode is not None else 0
    signum = -code if code < 0 else (code - 128 if namespaces and code > 128 else 0)
    if signum == 24:
        return Failure.CPU_TIME, "CPU-time limit (SIGXCPU)"
    if signum:
        return Failure.CRASHED, f"killed by {_SIGNALS.get(signum, f'signal {signum}')}"
    return Failure.EXITED, f"the program exited (status {code}) before its tests were done"


def _error_failure(error: dict[str, Any]) -> Failure:
    kind = error.get("type")
    if kind == "SyntaxError" or kind == "IndentationError" or kind == "TabError":
        return Failure.SYNTAX_ERROR
    if kind == "MemoryError":
        return Failure.MEMORY
    if kind == "RecursionError":
        return Failure.RECURSION
    if kind in ("SystemExit", "KeyboardInterrupt"):
        return Failure.EXITED
    if kind == "BlockingIOError" and error.get("errno") == 11:
        return Failure.PROCESS_LIMIT
    return Failure.EXCEPTION


def _describe(error: dict[str, Any]) -> str:
    line = f" (line {error['line']} of the program)" if error.get("line") else ""
    return f"{error.get('type')}: {error.get('message')}{line}"


class _Stop(BaseException):
    """Ends a test run from inside trusted test code; a BaseException so ``except Exception`` can't swallow it."""

    def __init__(self, failure: Failure, message: str, error: dict[str, Any] | None = None):
        super().__init__(message)
        self.failure, self.message, self.error = failure, message, error


class _BadTest(InvalidGroundTruth):
    """The ground truth's tests pass something that cannot cross to the sandbox."""


_EXIT_GRACE_S = 1.0
"""After the reply channel closes, how long the sandbox may take to end before it is killed."""
_FATAL = {Failure.MEMORY, Failure.RECURSION, Failure.EXITED, Failure.PROCESS_LIMIT}


class _Candidate:
    """The function under test, as seen by the test code: each call runs in the sandbox."""

    def __init__(self, process: SandboxProcess, deadline: float, namespaces: bool):
        self.process, self.deadline, self.namespaces = process, deadline, namespaces
        self.raised: dict[int, dict[str, Any]] = {}
        """id of each exception raised on the program's behalf -> its report."""

    def stop_for(self, event: Event) -> _Stop:
        if event.outcome is Outcome.TIMEOUT:
            return _Stop(Failure.TIMEOUT, "wall-clock limit")
        if event.outcome is Outcome.OUTPUT_LIMIT:
            return _Stop(Failure.OUTPUT_LIMIT, f"printed more than {self.process.limits.output_bytes} bytes")
        if event.outcome is Outcome.PROTOCOL:
            return _Stop(Failure.PROTOCOL, f"not an answer: {str(event.message)[:200]}")
        self.process.wait_exit(time.monotonic() + _EXIT_GRACE_S)  # its reply channel closed: let it finish dying
        self.process.close()
        return _Stop(*_exit_failure(self.process.returncode, self.namespaces))

    def __call__(self, *args: Any) -> Any:
        try:
            dump_value(args)  # only plain data crosses
        except UnsupportedValue as exc:
            raise _BadTest(f"a test passes an argument that is not plain data ({exc})") from None
        self.process.send(args)
        event = self.process.receive(self.deadline)
        if event.outcome is not Outcome.REPLY:
            raise self.stop_for(event)
        message = event.message
        if not isinstance(message, dict) or len(message) != 1:
            raise _Stop(Failure.PROTOCOL, f"not an answer: {str(message)[:200]}")
        if "return" in message:
            return message["return"]  # decoded as plain data by the sandbox's reader
        if "unsupported" in message:
            raise _Stop(Failure.UNSUPPORTED_VALUE, str(message["unsupported"])[:200])
        if "raise" in message and isinstance(message["raise"], dict):
            error = message["raise"]
            failure = _error_failure(error)
            if failure in _FATAL:
                raise _Stop(failure, _describe(error), error)
            kind = getattr(builtins, str(error.get("type")), None)
            exc_type = kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError
            exc = exc_type(str(error.get("message")))
            self.raised[id(exc)] = error
            raise exc
        raise _Stop(Failure.PROTOCOL, f"not an answer: {str(message)[:200]}")


def _start(setup: SandboxSetup, limits: SandboxLimits, job: dict[str, Any], prefetch: bool) -> SandboxProcess:
    process, event = start_sandbox(setup, limits, job, prefetch)
    if event.outcome is not Outcome.REPLY:
        process.close()
        raise SandboxUnavailable(f"the sandbox did not come up ({event.outcome.value}): {process.stderr_text()[-500:]}")
    return process


def _output_tail(process: SandboxProcess) -> str:
    return (process.stdout[-500:] + process.stderr[-500:]).decode("utf-8", errors="replace")


def _test_failure(exc: Exception, candidate: _Candidate, test_file: str) -> tuple[Failure, str, dict[str, Any] | None]:
    if id(exc) in candidate.raised:
        error = candidate.raised[id(exc)]
        return Failure.EXCEPTION, _describe(error), error
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == test_file:
            line = tb.tb_lineno
        tb = tb.tb_next
    where = f" at line {line} of the test" if line else ""
    if isinstance(exc, AssertionError):
        return Failure.ASSERTION, f"assertion failed{where}" + (f": {exc}" if str(exc) else ""), None
    return Failure.EXCEPTION, f"the test raised {type(exc).__name__}: {str(exc)[:300]}{where} on the program's answer", None


def run_function_tests(
    setup: SandboxSetup, limits: SandboxLimits, program: str, entry_point: str, tests: tuple[str, ...], prompt: str = "",
    prefetch: bool = True,
) -> TestRun:
    """Run ``program`` in the sandbox and each test here against its ``entry_point``.

    A test is Python source; it sees ``candidate`` and the entry point's name bound to the
    program's function, and the ``prompt``'s helpers. A test that defines ``check`` gets
    ``check(candidate)`` called after it runs (HumanEval's convention).
    """
    process = _start(setup, limits, {"mode": "function", "program": program, "entry_point": entry_point}, prefetch)
    namespaces = setup.isolation.value == "namespaces"
    try:
        deadline = time.monotonic() + limits.wall_s
        candidate = _Candidate(process, deadline, namespaces)
        event = process.receive(deadline)
        if event.outcome is not Outcome.REPLY:
            stop = candidate.stop_for(event)
            return TestRun(0, len(tests), stop.failure, None, stop.message, stop.error, _output_tail(process))
        message = event.message if isinstance(event.message, dict) else {}
        if "error" in message:
            error = message["error"] if isinstance(message["error"], dict) else {}
            return TestRun(0, len(tests), _error_failure(error), None, _describe(error), error, _output_tail(process))
        if "missing" in message:
            return TestRun(0, len(tests), Failure.MISSING_FUNCTION, None, f"no function named {entry_point!r}", None, _output_tail(process))
        if message != {"loaded": True}:
            return TestRun(0, len(tests), Failure.PROTOCOL, None, f"not an answer: {str(message)[:200]}", None, _output_tail(process))
        helpers: dict[str, Any] = {"__name__": "__rlvr_test__"}
        if prompt:
            exec(compile(prompt, "<prompt>", "exec"), helpers)  # noqa: S102 - trusted: the ground truth's own helpers
        passed, first = 0, None
        for index, source in enumerate(tests):
            namespace = dict(helpers, candidate=candidate)
            namespace[entry_point] = candidate
            test_file = f"<test {index}>"
            try:
                exec(compile(source, test_file, "exec"), namespace)  # noqa: S102 - trusted: the ground truth's tests
                check = namespace.get("check")
                if callable(check) and check is not helpers.get("check"):
                    check(candidate)
            except _Stop as stop:
                return TestRun(passed, len(tests), stop.failure, index, stop.message, stop.error, _output_tail(process))
            except InvalidGroundTruth:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed test, whatever the test raised
                if first is None:
                    failure, text, error = _test_failure(exc, candidate, test_file)
                    first = TestRun(0, len(tests), failure, index, text, error)
                continue
            passed += 1
        if first is not None:
            return TestRun(passed, len(tests), first.failure, first.test, first.message, first.error, _output_tail(process))
        return TestRun(passed, len(tests), output=_output_tail(process))
    finally:
        process.close()


def _normalize(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def run_stdio_tests(
    setup: SandboxSetup, limits: SandboxLimits, program: str, cases: tuple[tuple[str, str], ...], prefetch: bool = True
) -> TestRun:
    """Run ``program`` once per ``(stdin, expected stdout)`` case, each in a fresh sandbox.

    A case passes when the program exits with status 0 and its stdout equals the expected text,
    line by line, ignoring trailing whitespace on each line and trailing empty lines.
    The wall-clock limit is for all cases together.
    """
    namespaces = setup.isolation.value == "namespaces"
    deadline = None
    for index, (stdin, expected) in enumerate(cases):
        process = _start(setup, limits, {"mode": "stdio", "program": program, "stdin": stdin}, prefetch)
        try:
            deadline = deadline or time.monotonic() + limits.wall_s
            event = process.wait_exit(deadline)
            if event.outcome is Outcome.TIMEOUT:
                return TestRun(index, len(cases), Failure.TIMEOUT, index, "wall-clock limit", None, _output_tail(process))
            if event.outcome is Outcome.OUTPUT_LIMIT:
                return TestRun(index, len(cases), Failure.OUTPUT_LIMIT, index, f"printed more than {limits.output_bytes} bytes")
            process.close()
            reports = [m["error"] for m in process.messages_left() if isinstance(m, dict) and isinstance(m.get("error"), dict)]
            if reports:
                error = reports[0]
                return TestRun(index, len(cases), _error_failure(error), index, _describe(error), error, _output_tail(process))
            if process.returncode != 0:
                failure, text = _exit_failure(process.returncode, namespaces)
                failure = Failure.WRONG_OUTPUT if failure is Failure.EXITED else failure
                message = text.replace(" before its tests were done", "")
                return TestRun(index, len(cases), failure, index, message, None, _output_tail(process))
            got = process.stdout.decode("utf-8", errors="replace")
            if _normalize(got) != _normalize(expected):
                message = f"case {index}: expected {expected[:200]!r}, got {got[:200]!r}"
                return TestRun(index, len(cases), Failure.WRONG_OUTPUT, index, message, None, _output_tail(process))
        finally:
            process.close()
    return TestRun(len(cases), len(cases))
