"""A sandbox for running untrusted Python: one fresh process per item, isolated, limited, then killed.

Layers (see the README's "Code" section for what each guarantees):

- **namespaces** (bubblewrap, ``bwrap``): new mount, PID, network, IPC and UTS namespaces. The
  file system is an empty tmpfs holding read-only binds of ``/usr``, the interpreter's prefix and
  ``/etc/ld.so.cache``, fresh ``/proc`` and ``/dev``, and a private size-limited ``/tmp`` (the only
  writable place, gone when the item ends). The network namespace has only its own loopback.
  Killing bwrap kills its PID namespace's init (``--die-with-parent``), and with it every process
  the code started.
- **uid** (`sandbox_uids`): when this process is root, the code runs as a uid of its own (one per
  verifying process and concurrent sandbox), so the process-count limit counts only its processes and nothing it does
  carries root's rights; after each item, any process left with that uid is killed and the
  survivors counted (there should never be any).
- **limits** (``setrlimit`` in the runner, before the code runs): address space, CPU seconds,
  processes, file size, open files, no core dumps; the parent enforces the wall-clock limit
  and the output limit and kills the whole sandbox when either is passed.

When bwrap is missing or cannot start here, the sandbox falls back to a plain process in its own
session (limits, uid drop when root, process-group kill) and says so once, loudly, naming what
no longer holds. ``RLVR_GYM_SANDBOX=process`` forces that fallback; ``RLVR_GYM_SANDBOX=namespaces``
makes a missing bwrap an error instead of a fallback.
"""

from __future__ import annotations

import atexit
import enum
import functools
import json
import os
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .sandbox_runner import LIMIT_ORDER, decode_value, pack
from .sandbox_uids import SandboxWarning, give_slot, kill_uid, sandbox_uid, take_slot

__all__ = [
    "Event",
    "Isolation",
    "Outcome",
    "SandboxLimits",
    "SandboxProcess",
    "SandboxSetup",
    "SandboxWarning",
    "release_spare",
    "sandbox_setup",
    "start_sandbox",
]

_RUNNER = Path(__file__).with_name("sandbox_runner.py")
"""Run inside the sandbox from its source text; `pack`, `decode_value` and the limit order are shared."""
_MAX_REPLY_BYTES = 16 << 20
_TEARDOWN_S = 2.0
"""How long the parent waits for a killed sandbox's PID namespace to be gone."""
_START_S = 10.0
"""Time allowed for the sandbox to come up (not counted in the item's wall-clock limit)."""


class Isolation(str, enum.Enum):
    """What isolates the code from the host."""

    NAMESPACES = "namespaces"
    """bubblewrap: mount, PID, network, IPC, UTS namespaces (see the module docstring)."""
    PROCESS = "process"
    """Fallback: a plain process in its own session; resource limits and uid drop only."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed item."""

    wall_s: float = 5.0
    """Wall-clock seconds for the whole item (all its tests), from the sandbox coming up; keep it
    below the batch engine's ``timeout_s`` (10 s by default) so the sandbox's own limit fires first."""
    cpu_s: int = 5
    """CPU seconds of each process (``RLIMIT_CPU``)."""
    memory_mb: int = 1024
    """Address space per process (``RLIMIT_AS``), MiB."""
    processes: int = 32
    """Processes and threads the code's uid may have at once (``RLIMIT_NPROC``)."""
    file_size_mb: int = 16
    """Largest file the code may write (``RLIMIT_FSIZE``), MiB."""
    tmp_mb: int = 64
    """Size of the private ``/tmp`` (namespaces only), MiB."""
    open_files: int = 64
    """Open file descriptors per process (``RLIMIT_NOFILE``)."""
    output_bytes: int = 1 << 20
    """Bytes of stdout plus stderr before the item is stopped."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not numeric or not value > 0 or (name != "wall_s" and not isinstance(value, int)):
                raise ValueError(f"SandboxLimits.{name} must be a positive {'number' if name == 'wall_s' else 'int'}, got {value!r}")
        if self.memory_mb < 64:
            raise ValueError(f"SandboxLimits.memory_mb must be >= 64 (the interpreter itself needs it), got {self.memory_mb}")
        if self.processes < 2 or self.open_files < 16:
            raise ValueError("SandboxLimits: processes must be >= 2 and open_files >= 16 for the runner to start")


@dataclass(frozen=True)
class SandboxSetup:
    """What this machine offers, probed once per process."""

    isolation: Isolation
    python: str
    """The interpreter run inside (the base interpreter, not a virtualenv's)."""
    drop_uid: bool
    """Whether the code runs under a uid of its own (this process is root)."""
    bwrap_args: tuple[str, ...] = ()
    missing: tuple[str, ...] = field(default=())
    """Layers that do not hold here, in words."""


def _python() -> tuple[str, str]:
    """The base interpreter and its prefix (a virtualenv's site-packages are never visible inside)."""
    prefix = os.path.realpath(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.join(prefix, "bin", version), os.path.join(prefix, "bin", "python3")):
        if os.access(candidate, os.X_OK):
            return candidate, prefix
    return os.path.realpath(sys.executable), prefix


@functools.lru_cache(maxsize=1)
def _runner_source() -> str:
    return _RUNNER.read_text(encoding="utf-8")


def _bwrap_args(bwrap: str, python_prefix: str, tmp_mb: int | None = None) -> list[str]:
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() == 0:
        # No user namespace: the runner keeps CAP_SETUID/CAP_SETGID only to drop to its own uid.
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--disable-userns"]
    args += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    if os.path.isfile("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    if not python_prefix.startswith("/usr/"):
        parts = Path(python_prefix).parts
        for depth in range(2, len(parts)):
            args += ["--perms", "0755", "--dir", str(Path(*parts[:depth]))]
        args += ["--ro-bind", python_prefix, python_prefix]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777"]
    if tmp_mb is not None:
        args += ["--size", str(tmp_mb << 20)]
    args += ["--tmpfs", "/tmp", "--chdir", "/tmp", "--clearenv"]
    return args


_ENV = {"PYTHONHASHSEED": "0", "PYTHONUTF8": "1", "PATH": "/usr/bin:/bin", "HOME": "/tmp", "LC_ALL": "C.UTF-8"}


def _probe(setup: SandboxSetup) -> str | None:
    """Run a tiny program in the sandbox; None when it works, else what went wrong."""
    process = SandboxProcess(setup, SandboxLimits(wall_s=_START_S), {"mode": "stdio", "program": "print(6 * 7)", "stdin": ""})
    try:
        event = process.start()
        if event.outcome is not Outcome.REPLY:
            return f"{event.outcome.value}: {process.stderr_text()[-500:]}"
        event = process.wait_exit(time.monotonic() + _START_S)
        if event.outcome is not Outcome.EXITED or process.stdout != b"42\n":
            return f"{event.outcome.value}, stdout {process.stdout[:200]!r}, stderr {process.stderr_text()[-500:]!r}"
    finally:
        process.close()
    return None


@functools.lru_cache(maxsize=1)
def sandbox_setup() -> SandboxSetup:
    """Probe this machine once: bubblewrap if it works here, else the fallback (warned once)."""
    python, prefix = _python()
    drop_uid = os.geteuid() == 0
    wanted = os.environ.get("RLVR_GYM_SANDBOX", "")
    if wanted not in ("", Isolation.NAMESPACES.value, Isolation.PROCESS.value):
        raise ValueError(f"RLVR_GYM_SANDBOX must be 'namespaces' or 'process', got {wanted!r}")
    problem = "RLVR_GYM_SANDBOX=process asks for the fallback"
    if wanted != Isolation.PROCESS.value:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            problem = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
        else:
            setup = SandboxSetup(Isolation.NAMESPACES, python, drop_uid, tuple(_bwrap_args(bwrap, prefix)))
            problem = _probe(setup) or ""
            if not problem:
                return setup
            problem = f"bwrap cannot start a sandbox here ({problem})"
        if wanted == Isolation.NAMESPACES.value:
            raise RuntimeError(f"RLVR_GYM_SANDBOX=namespaces, but {problem}")
    missing = [
        "no network isolation: the code can open sockets",
        "no file-system isolation: the code can read every file its uid may read and write where it may",
        "no PID namespace: the code can see and signal processes its uid may signal",
    ]
    if not drop_uid:
        missing.append("not root: the code runs as this user, and the process limit counts all of this user's processes")
    warnings.warn(
        f"rlvr-gym code sandbox: {problem}. FALLING BACK to a plain process. Still holds: a fresh process per item, "
        f"resource limits (time, memory, processes, file size, open files, output), process-group kill"
        f"{', its own unprivileged uid' if drop_uid else ''}. Does NOT hold: " + "; ".join(missing) + ".",
        SandboxWarning,
        stacklevel=2,
    )
    return SandboxSetup(Isolation.PROCESS, python, drop_uid, (), tuple(missing))


class Outcome(str, enum.Enum):
    """What the sandbox did while the parent waited."""

    REPLY = "reply"
    """A message arrived on the reply channel."""
    EXITED = "exited"
    """The sandbox ended (or closed its reply channel)."""
    TIMEOUT = "timeout"
    """The wall-clock limit passed."""
    OUTPUT_LIMIT = "output_limit"
    """stdout plus stderr passed ``output_bytes``."""
    PROTOCOL = "protocol"
    """The reply channel carried something that is not a message."""


@dataclass(frozen=True)
class Event:
    outcome: Outcome
    message: Any = None


class SandboxProcess:
    """One sandboxed runner process. Use ``start()``, then ``send``/``receive``, always ``close()``."""

    def __init__(self, setup: SandboxSetup, limits: SandboxLimits, job: dict[str, Any] | None = None):
        self.setup, self.limits, self.job = setup, limits, job
        self.stdout = b""
        self.stderr = b""
        self.returncode: int | None = None
        self.leftover = 0
        """Processes still alive with the sandbox's uid after the kill (then killed): should be 0."""
        self._process: subprocess.Popen | None = None
        self._reply = b""
        self._to_send = b""
        self._fds: dict[str, int] = {}
        self._selector = selectors.DefaultSelector()
        self._slot: int | None = None
        self._uid = -1
        self.owner = os.getpid()
        """The process that launched it (a forked child must leave its parent's sandboxes alone)."""
        self._workdir: str | None = None
        self._info: int | None = None
        self._init_pidfd: int | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------
    def launch(self) -> None:
        """Start the sandbox (it comes up while the caller does something else)."""
        self.owner = os.getpid()
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        info_r, info_w = os.pipe()
        if self.setup.drop_uid:
            self._slot = take_slot()
            self._uid = sandbox_uid(self._slot)
        limits = ",".join(str(getattr(self.limits, name)) for name in LIMIT_ORDER)
        runner = [self.setup.python, "-S", "-s", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
        runner += ["-c", _runner_source(), str(req_r), str(rep_w), str(self._uid), limits]
        if self.setup.isolation is Isolation.NAMESPACES:
            prefix = _bwrap_args(self.setup.bwrap_args[0], _python()[1], self.limits.tmp_mb)
            env_args = [arg for key, value in _ENV.items() for arg in ("--setenv", key, value)]
            argv, env, cwd = [*prefix, *env_args, "--info-fd", str(info_w), "--", *runner], {}, "/"
        else:
            self._workdir = tempfile.mkdtemp(prefix="rlvr-sandbox-")
            if self._uid >= 0:
                os.chown(self._workdir, self._uid, self._uid)
            argv, env, cwd = runner, dict(_ENV, HOME=self._workdir), self._workdir
        try:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, pass_fds=(req_r, rep_w, info_w),
                env=env, cwd=cwd, start_new_session=True, close_fds=True,
            )
        finally:
            for fd in (req_r, rep_w, out_w, err_w, info_w):
                os.close(fd)
        self._info = info_r
        self._fds = {"req": req_w, "rep": rep_r, "out": out_r, "err": err_r, "pid": os.pidfd_open(self._process.pid)}
        for name in ("rep", "out", "err", "pid"):
            os.set_blocking(self._fds[name], False)
            self._selector.register(self._fds[name], selectors.EVENT_READ, name)
        os.set_blocking(req_w, False)

    def running(self) -> bool:
        return not self._closed and self._process is not None and self._process.poll() is None

    def start(self) -> Event:
        """Launch the sandbox unless it was, wait until it is up, send the job; the first event is
        ``{"ready": True}`` when it came up."""
        if self._process is None:
            self.launch()
        deadline = time.monotonic() + _START_S
        first = self.receive(deadline)
        if first.outcome is Outcome.REPLY and first.message != {"ready": True}:
            return Event(Outcome.PROTOCOL, first.message)
        if first.outcome is Outcome.REPLY:
            self._watch_init()
            self.send(self.job)
        return first

    def _watch_init(self) -> None:
        """Keep a pidfd on the PID namespace's init (bwrap's ``--info-fd`` names it): once it is
        gone, so is every process of the namespace (the kernel kills and reaps them first)."""
        info, self._info = self._info, None
        if info is None:
            return
        try:
            if self.setup.isolation is Isolation.NAMESPACES:
                os.set_blocking(info, False)
                data = os.read(info, 1 << 16)
                child = json.loads(data.decode()).get("child-pid") if data else None
                if isinstance(child, int) and child > 0:
                    self._init_pidfd = os.pidfd_open(child)
        except (OSError, ValueError):
            self._init_pidfd = None  # the sweep by uid still verifies
        finally:
            os.close(info)

    def close(self) -> None:
        """Kill the sandbox and everything in it; collect what is left of its output. Idempotent."""
        if self._closed:
            return
        self._closed = True
        process = self._process
        if process is not None:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            process.wait()
            self.returncode = process.returncode
            if self._init_pidfd is not None:
                poller = select.poll()
                poller.register(self._init_pidfd, select.POLLIN)
                poller.poll(_TEARDOWN_S * 1000)  # readable once the init has exited
                os.close(self._init_pidfd)
                self._init_pidfd = None
            self._drain()
            self._process = None
        for fd in self._fds.values():
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError):
                pass
            os.close(fd)
        self._fds = {}
        self._selector.close()
        if self._info is not None:  # never came up
            os.close(self._info)
            self._info = None
        if self._uid >= 0:
            self.leftover = kill_uid(self._uid)
        if self._slot is not None:
            give_slot(self._slot)
            self._slot = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # -- messages ----------------------------------------------------------------------
    def send(self, message: Any) -> None:
        """Queue a message for the runner (written while the parent waits in `receive`): the job,
        then each call's arguments as a tuple of plain values."""
        self._to_send += pack(message)
        if "req" in self._fds and self._fds["req"] not in self._selector.get_map():
            self._selector.register(self._fds["req"], selectors.EVENT_WRITE, "req")

    def receive(self, deadline: float) -> Event:
        """Wait for the next message, the end of the sandbox, the deadline or too much output."""
        while True:
            if b"\n" in self._reply:
                line, self._reply = self._reply.split(b"\n", 1)
                try:
                    return Event(Outcome.REPLY, _decode_message(line))
                except (ValueError, TypeError, RecursionError):
                    return Event(Outcome.PROTOCOL, line[:200].decode(errors="replace"))
            if len(self._reply) > _MAX_REPLY_BYTES:
                return Event(Outcome.PROTOCOL, f"reply longer than {_MAX_REPLY_BYTES} bytes")
            event = self._pump(deadline, want_reply=True)
            if event is not None:
                return event

    def wait_exit(self, deadline: float) -> Event:
        """Wait until the sandbox ends on its own (stdio programs); its output is then complete."""
        while True:
            if self._process is None or self._process.poll() is not None:
                self._drain()
                return Event(Outcome.EXITED)
            event = self._pump(deadline, want_reply=False)
            if event is not None:
                return event

    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")

    # -- plumbing ----------------------------------------------------------------------
    def _pump(self, deadline: float, want_reply: bool) -> Event | None:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            return Event(Outcome.TIMEOUT)
        for key, _ in self._selector.select(timeout):
            name = key.data
            if name == "req":
                try:
                    written = os.write(key.fd, self._to_send)
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    written = len(self._to_send)
                self._to_send = self._to_send[written:]
                if not self._to_send:
                    self._selector.unregister(key.fd)
            elif name == "pid":
                self._selector.unregister(key.fd)
                self._drain()
                if not want_reply or b"\n" not in self._reply:
                    return Event(Outcome.EXITED)
                return None
            elif self._read(name) is False:
                self._selector.unregister(key.fd)
                if name == "rep" and want_reply:
                    return Event(Outcome.EXITED)
            if len(self.stdout) + len(self.stderr) > self.limits.output_bytes:
                return Event(Outcome.OUTPUT_LIMIT)
            if want_reply and b"\n" in self._reply:
                return None
        return None

    def _read(self, name: str) -> bool | None:
        """Read what is there from one pipe: True if data came, False at end of file, None if none yet."""
        try:
            data = os.read(self._fds[name], 1 << 16)
        except BlockingIOError:
            return None
        if name == "rep":
            self._reply += data
        elif name == "out":
            self.stdout += data
        else:
            self.stderr += data
        return bool(data)

    def _drain(self) -> None:
        """Read what the pipes still hold (bounded by the limits), without waiting."""
        for name in ("rep", "out", "err"):
            while name in self._fds and len(self.stdout) + len(self.stderr) <= self.limits.output_bytes:
                if len(self._reply) > _MAX_REPLY_BYTES or not self._read(name):
                    break

    def messages_left(self) -> list[Any]:
        """Complete messages received but not yet taken (e.g. a stdio program's error report)."""
        lines, self._reply = self._reply.split(b"\n"), b""
        out = []
        for line in lines[:-1]:
            try:
                out.append(_decode_message(line))
            except (ValueError, TypeError, RecursionError):
                continue
        return out


_spare: SandboxProcess | None = None
_spare_lock = threading.Lock()


def start_sandbox(setup: SandboxSetup, limits: SandboxLimits, job: dict[str, Any], prefetch: bool = True) -> tuple[SandboxProcess, Event]:
    """A fresh sandbox running ``job``, and its first event (see `SandboxProcess.start`).

    With ``prefetch``, the next item's sandbox is launched now, so it comes up while this one
    runs: one idle, never-used sandbox per process (same setup and limits, a uid slot of its
    own) waits for the next call. It has run nothing but the runner's own start, so it is as
    fresh as a new one. `release_spare` (also at exit) kills it.
    """
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    process = None
    if spare is not None and spare.owner == os.getpid():
        if spare.setup == setup and spare.limits == limits and spare.running():
            process = spare
        else:
            spare.close()
    if process is None:
        process = SandboxProcess(setup, limits)
        process.launch()
    process.job = job
    event = process.start()
    if prefetch:
        following = SandboxProcess(setup, limits)
        following.launch()
        with _spare_lock:
            previous, _spare = _spare, following
        if previous is not None and previous.owner == os.getpid():
            previous.close()
    return process, event


def release_spare() -> None:
    """Kill this process's idle pre-launched sandbox, if any."""
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare.owner == os.getpid():
        spare.close()


def spare_uid() -> int | None:
    """The uid of this process's idle pre-launched sandbox (None: none, or not root)."""
    spare = _spare
    return spare._uid if spare is not None and spare.owner == os.getpid() and spare._uid >= 0 else None


atexit.register(release_spare)


def _decode_message(line: bytes) -> dict[str, Any]:
    """A runner message: a JSON object whose values are `decode_value`'s tagged plain data."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise TypeError("a message must be a JSON object")
    return {key: decode_value(value) for key, value in data.items()}
