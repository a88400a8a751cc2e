"""The program that runs inside the sandbox, and the value codec both sides share.

This file is run as ``python -S -s -B -c <this file's text> FD_IN FD_OUT UID LIMITS`` inside the
sandbox, so it imports nothing but the standard library. It is trusted only until it runs the
response's code; everything it says after that is treated by the parent as untrusted input:

1. set the resource limits (address space, CPU time, processes, file size, open files, no core
   dumps), then, when ``UID >= 0`` (the parent is root), drop to that unprivileged uid;
2. send ``{"ready": true}`` on ``FD_OUT`` (the parent's proof that the sandbox came up);
3. read one job, ``{"mode": "function" | "stdio", "program": str, ...}``, from ``FD_IN``;
4. ``stdio``: put the job's ``stdin`` text on file descriptor 0 and run the program as
   ``__main__``; the parent compares what it prints. ``function``: run the program, then answer
   ``{"call": [args]}`` requests with ``{"return": value}`` or ``{"raise": {...}}``. The verdict
   is computed by the parent from these values alone, so nothing the code does in here (exit 0,
   patching builtins, writing on ``FD_OUT``) can make a test pass: it can only answer calls.

Messages are one JSON object per line. Values cross as plain data only (`encode_value`):
``None``, bool, int, float, str, bytes, complex, list, tuple, dict, set, frozenset, exactly
those types (no subclasses), so an object whose ``__eq__`` always says True cannot cross.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

__all__ = ["MAX_DEPTH", "UnsupportedValue", "decode_value", "encode_value"]

MAX_DEPTH = 100
"""Containers nested deeper than this do not cross (also stops cycles)."""


class UnsupportedValue(TypeError):
    """A value that is not plain data (or nests too deeply)."""


def encode_value(value: Any, depth: int = 0) -> Any:
    """A JSON-ready form of ``value``; `UnsupportedValue` for anything but the plain types."""
    if depth > MAX_DEPTH:
        raise UnsupportedValue(f"value nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if kind is list:
        return [encode_value(v, depth + 1) for v in value]
    if kind is tuple or kind is set or kind is frozenset:
        return {kind.__name__: [encode_value(v, depth + 1) for v in value]}
    if kind is dict:
        return {"dict": [[encode_value(k, depth + 1), encode_value(v, depth + 1)] for k, v in value.items()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind is complex:
        return {"complex": [encode_value(value.real, depth + 1), encode_value(value.imag, depth + 1)]}
    raise UnsupportedValue(f"a value of type {kind.__name__} is not plain data")


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def decode_value(data: Any, depth: int = 0) -> Any:
    """The value `encode_value` encoded; `UnsupportedValue` for anything else."""
    if depth > MAX_DEPTH:
        raise UnsupportedValue(f"value nested deeper than {MAX_DEPTH}")
    kind = type(data)
    if data is None or kind in (bool, str, int, float):
        return data
    if kind is list:
        return [decode_value(v, depth + 1) for v in data]
    if kind is dict and len(data) == 1:
        (tag, body), = data.items()
        if tag == "float" and body in _FLOATS:
            return _FLOATS[body]
        if tag == "bytes" and type(body) is str:
            return bytes.fromhex(body)
        if type(body) is list:
            items = [decode_value(v, depth + 1) for v in body]
            if tag == "tuple":
                return tuple(items)
            if tag in ("set", "frozenset"):
                return (set if tag == "set" else frozenset)(items)
            if tag == "complex" and len(items) == 2 and all(type(x) in (int, float) for x in items):
                return complex(items[0], items[1])
            if tag == "dict" and all(type(pair) is list and len(pair) == 2 for pair in items):
                return {key: value for key, value in items}
    raise UnsupportedValue("malformed value")


# ---------------------------------------------------------------------------- inside the sandbox
_MAIN_PID = os.getpid()


def _send(fd: int, message: dict) -> None:
    if os.getpid() != _MAIN_PID:  # a process the code forked came back into the runner: it says nothing
        os._exit(0)
    data = (json.dumps(message, allow_nan=False) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def _error(exc: BaseException) -> dict:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<solution>":
            line = tb.tb_lineno
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and exc.filename == "<solution>":
        line = exc.lineno
    return {"type": type(exc).__name__, "message": str(exc)[:500], "errno": getattr(exc, "errno", None), "line": line}


def _limit(resource: Any, name: str, soft: int, hard: int | None = None) -> None:
    resource.setrlimit(getattr(resource, name), (soft, soft if hard is None else hard))


def _apply_limits(limits: dict) -> None:
    import resource

    mb = 1 << 20
    _limit(resource, "RLIMIT_CORE", 0)
    _limit(resource, "RLIMIT_CPU", limits["cpu_s"], limits["cpu_s"] + 1)  # SIGXCPU at the soft limit
    _limit(resource, "RLIMIT_FSIZE", limits["file_size_mb"] * mb)
    _limit(resource, "RLIMIT_NOFILE", limits["open_files"])
    _limit(resource, "RLIMIT_NPROC", limits["processes"])
    _limit(resource, "RLIMIT_AS", limits["memory_mb"] * mb)


def _read_line(stream: Any) -> Any:
    line = stream.readline()
    if not line:
        os._exit(0)  # the parent is gone
    return json.loads(line)


def _run_stdio(job: dict, fd_in: int, fd_out: int, code: Any) -> None:
    data = job.get("stdin", "").encode()
    path = "/tmp/.stdin" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else ".stdin"
    with open(path, "wb") as stream:
        stream.write(data)
    fd = os.open(path, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    os.close(fd_in)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the program's stdin for its whole life
    status = 0
    try:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})  # noqa: S102 - inside the sandbox
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - the code's own failure, reported to the parent
        _send(fd_out, {"error": _error(exc)})
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if os.getpid() == _MAIN_PID:
        os._exit(status & 0xFF)
    os._exit(0)


def _run_function(job: dict, fd_in: int, fd_out: int, code: Any, requests: Any) -> None:
    namespace: dict[str, Any] = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        exec(code, namespace)  # noqa: S102 - inside the sandbox
    except BaseException as exc:  # noqa: BLE001 - SystemExit included: reported as the code exiting
        _send(fd_out, {"error": _error(exc)})
        os._exit(0)
    function = namespace.get(job["entry_point"])
    if not callable(function):
        _send(fd_out, {"missing": job["entry_point"]})
        os._exit(0)
    _send(fd_out, {"loaded": True})
    while True:
        request = _read_line(requests)
        try:
            args = decode_value(request["call"])
            result = function(*args)
        except BaseException as exc:  # noqa: BLE001
            _send(fd_out, {"raise": _error(exc)})
            continue
        try:
            encoded = encode_value(result)
            _send(fd_out, {"return": encoded})
        except (UnsupportedValue, ValueError, RecursionError) as exc:
            _send(fd_out, {"unsupported": str(exc)[:200]})


def main(argv: list[str]) -> None:
    fd_in, fd_out, uid = int(argv[1]), int(argv[2]), int(argv[3])
    _apply_limits(json.loads(argv[4]))
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.umask(0o077)
    _send(fd_out, {"ready": True})
    requests = os.fdopen(fd_in, "rb", closefd=False)
    job = _read_line(requests)
    try:
        code = compile(job["program"], "<solution>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        _send(fd_out, {"error": _error(exc)})
        os._exit(0)
    if job["mode"] == "stdio":
        _run_stdio(job, fd_in, fd_out, code)
    else:
        _run_function(job, fd_in, fd_out, code, requests)


if __name__ == "__main__":
    main(sys.argv)
