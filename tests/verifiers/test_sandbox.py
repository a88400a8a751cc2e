"""The sandbox's setup: limits validated, the fallback warned once and still limiting, determinism."""

import json
import os
import subprocess
import sys
import time

import pytest

from rlvr_gym.verifiers import get_verifier
from rlvr_gym.verifiers.sandbox import SandboxLimits
from tests.conftest import REPO_ROOT
from tests.verifiers.procs import live_pids

# Limits that cannot work are refused with the field named
BAD_LIMITS = [
    ({"wall_s": 0}, "wall_s"),
    ({"cpu_s": 1.5}, "cpu_s"),
    ({"memory_mb": 16}, "memory_mb"),
    ({"processes": 1}, "processes"),
    ({"output_bytes": True}, "output_bytes"),
]


@pytest.mark.parametrize("kwargs, field", BAD_LIMITS)
def test_bad_limits_are_refused(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SandboxLimits(**kwargs)


_SCRIPT = """
import json, warnings
warnings.simplefilter("always")
from rlvr_gym.verifiers import get_verifier
from rlvr_gym.verifiers.sandbox import SandboxLimits
v = get_verifier("code", limits=SandboxLimits(wall_s=3, cpu_s=2))
truth = {"entry_point": "f", "tests": ["assert f(1) == 2"]}
daemon = "import os, time\\nr, w = os.pipe()\\nif os.fork() == 0:\\n    os.setsid()\\n    os.write(w, b'x')\\n    time.sleep(60)\\nos.read(r, 1)\\ndef f(x):\\n    return x + 1"
out = [v.verify(code, truth).to_dict() for code in ("def f(x):\\n    return x + 1", "def f(x):\\n    return x", daemon)]
print(json.dumps(out))
"""


def _run(env):
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
    )


def test_fallback_is_warned_once_and_still_verifies():
    result = _run({"RLVR_GYM_SANDBOX": "process"})
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)
    assert [v["reason"] for v in verdicts] == ["correct", "wrong_answer", "correct"]
    assert all(v["details"]["isolation"] == "process" for v in verdicts)
    assert result.stderr.count("FALLING BACK") == 1, result.stderr
    assert "Does NOT hold: no network isolation" in result.stderr
    if os.geteuid() == 0:
        # root: the daemon ran under the sandbox's own uid and was killed by the uid sweep (and said so)
        assert "outlived their sandbox and were killed" in result.stderr


def test_missing_bwrap_is_an_error_when_namespaces_are_required():
    result = _run({"RLVR_GYM_SANDBOX": "namespaces", "PATH": "/nonexistent"})
    verdicts = json.loads(result.stdout)
    # an `error` verdict (counted, never a silent zero) saying why
    assert [v["reason"] for v in verdicts] == ["error"] * 3
    assert "RLVR_GYM_SANDBOX=namespaces, but bubblewrap (bwrap) is not installed" in verdicts[0]["details"]["error"]


def test_concurrent_sandboxes_in_one_process_do_not_share_a_process_budget():
    # threads (as in `rlvr-gym serve` without workers) each get a sandbox uid of their own, so one
    # program's fork bomb neither starves nor kills another's sandbox
    from concurrent.futures import ThreadPoolExecutor

    verifier = get_verifier("code", limits=SandboxLimits(wall_s=10, cpu_s=10, processes=8))
    truth = {"entry_point": "f", "tests": ["assert f(1) == 2"]}
    bomb = "import os\nwhile True:\n    os.fork()\ndef f(x):\n    return x + 1"
    workers = "import subprocess, sys\ndef f(x):\n    return x + 1 + sum(subprocess.run([sys.executable, '-c', 'pass']).returncode for _ in range(5))"
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda code: verifier.verify(code, truth), [bomb, workers] * 4))
    assert [v.details.get("failure") for v in verdicts[0::2]] == ["process_limit"] * 4
    assert all(v.correct for v in verdicts[1::2]), [dict(v.details) for v in verdicts[1::2]]


def _processes_with_uid_at_least(low):
    return live_pids(lambda uid: uid >= low)


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's own uid (to look for its processes) needs root")
def test_a_worker_killed_by_the_batch_timeout_takes_its_sandbox_with_it():
    from rlvr_gym.verifiers import Reason, VerifierPool
    from rlvr_gym.verifiers.sandbox import (
        Isolation,
        release_spare,
        sandbox_setup,
    )
    from rlvr_gym.verifiers.sandbox_uids import UID_BASE

    if sandbox_setup().isolation is not Isolation.NAMESPACES:
        pytest.skip("needs the namespace sandbox (--die-with-parent)")
    release_spare()  # this test process's own idle sandbox from earlier tests
    verifier = get_verifier("code", limits=SandboxLimits(wall_s=60, cpu_s=60))
    sleeper = "import os, time\nos.fork()\ntime.sleep(600)\ndef f(x):\n    return x"
    with VerifierPool(workers=1, timeout_s=2) as pool:
        verdict = pool.verify(verifier, [(sleeper, {"entry_point": "f", "tests": ["assert f(1) == 1"]})])[0]
    assert verdict.reason is Reason.TIMEOUT
    deadline = time.monotonic() + 3
    while _processes_with_uid_at_least(UID_BASE) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with_uid_at_least(UID_BASE) == []


def test_same_program_same_verdict_in_every_process():
    # set order of strings depends on the hash seed; the sandbox fixes it (PYTHONHASHSEED=0)
    code = "def f(words):\n    return list(set(words))"
    truth = {"entry_point": "f", "tests": ["assert f(['a', 'b', 'c', 'd']) == ['a', 'b', 'c', 'd']"]}
    verifier = get_verifier("code", limits=SandboxLimits(wall_s=5, cpu_s=5))
    first = verifier.verify(code, truth)
    assert all(verifier.verify(code, truth).reason is first.reason for _ in range(3))
