"""Live processes by uid, read from /proc: what the sandbox tests look for after each case."""

from __future__ import annotations

import os
from collections.abc import Callable


def live_pids(uid_ok: Callable[[int], bool]) -> list[int]:
    """Pids of the live (not zombie) processes whose real uid satisfies ``uid_ok``."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as stream:
                fields = dict(line.split(":", 1) for line in stream.read().splitlines() if ":" in line)
        except OSError:
            continue
        if uid_ok(int(fields["Uid"].split()[0])) and not fields["State"].strip().startswith("Z"):
            out.append(int(entry.name))
    return out
