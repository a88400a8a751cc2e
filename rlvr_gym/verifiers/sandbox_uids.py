"""The sandboxes' uids on the host, when the verifier runs as root, and the sweep after each one.

Each concurrent sandbox of a verifying process gets a uid of its own (`sandbox_uid`), which no
user has: the process-count limit then counts that sandbox's processes only, and after the
sandbox is killed `kill_uid` checks that no process of that uid is left (killing and reporting
any), which also covers the fallback without a PID namespace.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

__all__ = ["SLOTS", "UID_BASE", "SandboxWarning", "give_slot", "kill_uid", "pids_of", "sandbox_uid", "take_slot"]


class SandboxWarning(RuntimeWarning):
    """A sandbox layer is unavailable on this machine, or a sandbox left a process behind."""


UID_BASE = 2_000_000_000
"""Root runs each sandbox as ``UID_BASE + SLOTS * pid + slot`` (no such user exists)."""
SLOTS = 64
"""Sandboxes one verifying process may run at once (threads each take a slot)."""
_free_slots = list(range(SLOTS - 1, -1, -1))
_slots_lock = threading.Lock()
_slots_free = threading.Semaphore(SLOTS)


def sandbox_uid(slot: int, pid: int | None = None) -> int:
    """The uid of a sandbox slot of process ``pid`` (default: this one)."""
    return UID_BASE + SLOTS * (os.getpid() if pid is None else pid) + slot


def take_slot() -> int:
    _slots_free.acquire()
    with _slots_lock:
        return _free_slots.pop()


def give_slot(slot: int) -> None:
    with _slots_lock:
        _free_slots.append(slot)
    _slots_free.release()


def kill_uid(uid: int, grace_s: float = 1.0) -> int:
    """Wait up to ``grace_s`` for every process of real uid ``uid`` to end, then kill the rest.

    Returns how many had to be killed here: 0 when the sandbox's own teardown took them all,
    which is the normal case (a PID namespace dies with its init).
    """
    deadline = time.monotonic() + grace_s
    while True:
        alive = pids_of(uid)
        if not alive:
            return 0
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    killed: set[int] = set()
    for _ in range(1000):  # a process may fork while it is being killed; 10 s at most
        if not alive:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
        alive = pids_of(uid)
    warnings.warn(
        f"rlvr-gym code sandbox: {len(killed)} process(es) of uid {uid} outlived their sandbox and were killed",
        SandboxWarning,
        stacklevel=2,
    )
    return len(killed)


def pids_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real uid is ``uid``."""
    wanted = str(uid).encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as stream:
                status = stream.read()
        except OSError:
            continue
        fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
        uid_field, state = fields.get(b"Uid", b"").split(), fields.get(b"State", b"").split()
        if uid_field and uid_field[0] == wanted and state and state[0] != b"Z":
            found.append(int(entry.name))
    return found
