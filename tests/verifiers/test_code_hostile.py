"""The hostile suite: code that attacks the sandbox scores 0 with the right reason, and the host
is unchanged afterwards (no process left, no file outside the sandbox's temp dir written).

Network checks target only a listener this test runs on 127.0.0.1.
"""

import hashlib
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest

from rlvr_gym.verifiers import Reason, get_verifier
from rlvr_gym.verifiers.sandbox import (
    Isolation,
    SandboxLimits,
    release_spare,
    sandbox_setup,
    spare_uid,
)
from rlvr_gym.verifiers.sandbox_uids import SLOTS, sandbox_uid
from tests.conftest import REPO_ROOT
from tests.verifiers.procs import live_pids

LIMITS = SandboxLimits(wall_s=3.0, cpu_s=2, memory_mb=512, processes=16, output_bytes=100_000)
TRUTH = {"entry_point": "f", "tests": ["assert f(1) == 2", "assert f(5) == 6"]}
PROJECT_FILE = REPO_ROOT / "README.md"
HOST_FILE = str(REPO_ROOT / f".rlvr-hostile-{uuid.uuid4().hex}")
"""A host path the hostile code tries to create (outside its own temp dir)."""
HOST_TMP_FILE = f"/tmp/rlvr-hostile-{uuid.uuid4().hex}"
"""The same name under /tmp: inside the sandbox that is its own private /tmp, never the host's."""


def _fn(body):
    """A response whose function f runs ``body`` (indented) when called."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"```python\ndef f(x):\n{lines}\n```"


def _top(code):
    """A response that runs ``code`` at import, then defines a correct f."""
    return f"```python\n{code.strip()}\ndef f(x):\n    return x + 1\n```"


def _cases(port, victim_pid, shadow_free):
    # Each: (name, response, allowed failures). Resource exhaustion
    return [
        ("infinite loop", _fn("while True:\n    pass"), {"cpu_time", "timeout"}),  # CPU time, or wall time on a busy machine
        ("sleep forever", _fn("import time\ntime.sleep(1000)"), {"timeout"}),
        ("fork bomb", _top("import os\nwhile True:\n    os.fork()"), {"process_limit"}),
        ("10 GB allocation", _fn("return len(bytearray(10 * 1024 ** 3))"), {"memory"}),
        ("deep recursion", _fn("def g(n):\n    return g(n + 1)\nreturn g(0)"), {"recursion"}),
        (
            "deep recursion, raised limit",
            _top("import sys\nsys.setrecursionlimit(10 ** 8)\ndef g(n):\n    return g(n + 1)\ng(0)"),
            {"crashed", "cpu_time", "timeout", "memory", "recursion"},
        ),
        ("flood stdout", _fn("while True:\n    print('x' * 10000)"), {"output_limit"}),
        ("flood stderr", _top("import sys\nwhile True:\n    sys.stderr.write('y' * 10000)"), {"output_limit"}),
        # The host's files
        ("write outside temp dir", _fn(f"open({HOST_FILE!r}, 'w').write('pwned')\nreturn x + 1"), {"exception"}),
        ("write into the project", _fn(f"open({str(PROJECT_FILE)!r}, 'a').write('pwned')\nreturn x + 1"), {"exception"}),
        ("write into the runtime", _fn("import os\nopen(os.__file__, 'a').write('pwned')\nreturn x + 1"), {"exception"}),
        ("read /etc/shadow", _fn("return open('/etc/shadow').read()"), {"exception"}),
        ("read the project", _fn(f"return open({str(PROJECT_FILE)!r}).read()"), {"exception"}),
        # Network: only the listener this test runs on 127.0.0.1
        (
            "socket to a host listener",
            _fn(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn x + 1"),
            {"exception"},
        ),
        # Other processes
        ("kill the verifier", _fn(f"import os, signal\nos.kill({victim_pid}, signal.SIGKILL)\nreturn x + 1"), {"exception"}),
        ("kill the parent", _fn("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn x + 1"), {"exception"}),
        (
            "kill everything",
            _fn("import os, signal\nos.kill(-1, signal.SIGKILL)\nreturn x + 1"),
            {"exception"},
        ),  # ESRCH: nothing it may signal
        # Faking success
        ("os._exit(0) at import", _top("import os\nos._exit(0)"), {"exited"}),
        ("sys.exit(0) at import", _top("import sys\nsys.exit(0)"), {"exited"}),
        ("os._exit(0) in the call", _fn("import os\nos._exit(0)"), {"exited"}),
        ("always-equal object", _fn("class Yes:\n    def __eq__(self, other):\n        return True\nreturn Yes()"), {"unsupported_value"}),
        (
            "int subclass equal to everything",
            _fn("class I(int):\n    def __eq__(self, other):\n        return True\nreturn I(0)"),
            {"unsupported_value"},
        ),
        ("forged replies on the channel", _top("import os, sys\nos.write(int(sys.argv[2]), b'{\"passed\": true}\\n')"), {"protocol"}),
        (
            "patched assert helpers",
            (
                "```python\nimport builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
                "check = lambda candidate: None\ndef f(x):\n    return 0\n```"
            ),
            {"assertion"},
        ),
        (
            "sleeping child outliving its parent",
            _top(
                f"import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n    open({HOST_TMP_FILE!r}, 'w').write('late')\n    os._exit(0)\nos._exit(0)"
            ),
            {"exited"},
        ),
    ]


def _sandbox_processes(but=None):
    """Live processes of any sandbox uid of this process (except uid ``but``)."""
    low, high = sandbox_uid(0), sandbox_uid(SLOTS)
    return live_pids(lambda uid: low <= uid < high and uid != but)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _children(pid):
    """Live child processes of ``pid``."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/status") as stream:
                    status = stream.read()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if fields.get("PPid", "").strip() == str(pid) and not fields.get("State", "").strip().startswith("Z"):
                out.append(int(entry.name))
    return out


@pytest.mark.slow
def test_hostile_suite_scores_zero_with_the_right_reason_and_leaves_the_host_unchanged(tmp_path):
    setup = sandbox_setup()
    if setup.isolation is not Isolation.NAMESPACES:
        assert not os.environ.get("CI"), f"CI must have the namespace sandbox (make install installs bubblewrap): {setup.missing}"
        pytest.skip(f"the sandbox has no namespaces here ({'; '.join(setup.missing)}); `make install` installs bubblewrap")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    nobody = subprocess.Popen(["sleep", "120"], user=65534, group=65534, extra_groups=[]) if os.geteuid() == 0 else None
    victim = subprocess.Popen(["sleep", "120"])
    project_before = _digest(PROJECT_FILE)
    children_before = set(_children(os.getpid()))
    verifier = get_verifier("code", alpha=10.0, limits=LIMITS)
    try:
        results = []
        for name, response, allowed in _cases(port, victim.pid, True):
            started = time.monotonic()
            verdict = verifier.verify(response, TRUTH)
            results.append(
                (name, verdict.reason, verdict.details.get("failure"), verdict.details.get("message"), time.monotonic() - started)
            )
            assert verdict.score == 0.0 and verdict.reason is Reason.WRONG_ANSWER, (name, verdict)
            assert verdict.details["failure"] in allowed, (name, dict(verdict.details))
            assert time.monotonic() - started < LIMITS.wall_s + 2.0, (name, time.monotonic() - started)
            assert _sandbox_processes(but=spare_uid()) == [], name  # the pre-launched idle sandbox aside
        for row in results:
            print(*row)
        release_spare()
        assert _sandbox_processes() == []
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected
        time.sleep(0.2)
        assert victim.poll() is None, "the verifying machine's process was killed"
        assert nobody is None or nobody.poll() is None, "another user's process was killed"
        assert not os.path.exists(HOST_FILE) and not os.path.exists(HOST_TMP_FILE)
        assert _digest(PROJECT_FILE) == project_before
        assert set(_children(os.getpid())) - {victim.pid} - ({nobody.pid} if nobody else set()) <= children_before
    finally:
        listener.close()
        for process in (victim, nobody):
            if process is not None:
                process.send_signal(signal.SIGKILL)
                process.wait()


@pytest.mark.slow
def test_a_correct_solution_still_passes_after_the_suite():
    verifier = get_verifier("code", limits=LIMITS)
    verdict = verifier.verify(_fn("return x + 1"), TRUTH)
    assert verdict.correct, verdict
    assert verdict.details["passed"] == verdict.details["total"] == 2
