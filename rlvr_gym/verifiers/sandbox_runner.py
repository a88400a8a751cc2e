"""The program that runs inside the sandbox, and the value codec both sides share.

This file is run as ``python -S -s -B -c <this file's text> FD_IN FD_OUT UID LIMITS`` inside the
sandbox, so it imports only ``os``, ``sys``, ``marshal``, ``math`` and ``resource`` (no ``json``, whose ``re``
import alone costs about as much as the interpreter's start). It is trusted only until it runs the
response's code; everything it says after that is treated by the parent as untrusted input:

1. set the resource limits (address space, CPU time, processes, file size, open files, no core
   dumps), then, when ``UID >= 0`` (the parent is root), drop to that unprivileged uid;
2. send ``{"ready": true}`` on ``FD_OUT`` (the parent's proof that the sandbox came up);
3. read one job, ``{"mode": "function" | "stdio", "program": str, ...}``, from ``FD_IN``;
4. ``stdio``: put the job's ``stdin`` text on file descriptor 0 and run the program as
   ``__main__``; the parent compares what it prints. ``function``: run the program, then answer
   each call (a tuple of arguments) with ``{"return": value}`` or ``{"raise": {...}}``. The verdict
   is computed by the parent from these values alone, so nothing the code does in here (exit 0,
   patching builtins, writing on ``FD_OUT``) can make a test pass: it can only answer calls.

The parent writes `pack`ed ``marshal`` messages (the trusted direction); the runner answers with
one JSON object per line, which the parent parses with ``json`` and `decode_value`, never with
``marshal`` or ``pickle``. Values cross as plain data only (`dump_value`):
``None``, bool, int, float, str, bytes, complex, list, tuple, dict, set, frozenset, exactly
those types (no subclasses), so an object whose ``__eq__`` always says True cannot cross.
"""

from __future__ import annotations

import marshal
import math
import os
import sys

__all__ = ["MAX_DEPTH", "UnsupportedValue", "decode_value", "dump_value", "pack"]

MAX_DEPTH = 100
"""Containers nested deeper than this do not cross (also stops cycles)."""
_INF = float("inf")


class UnsupportedValue(TypeError):
    """A value that is not plain data (or nests too deeply)."""


def dump_value(value: object, depth: int = 0) -> str:
    """JSON text of ``value`` in the tagged form `decode_value` reads; `UnsupportedValue` otherwise.

    Written by hand so the runner never imports ``json`` (and with it ``re``): strings travel as
    ``{"str": utf-8 hex}``, so nothing in them needs escaping.
    """
    if depth > MAX_DEPTH:
        raise UnsupportedValue(f"value nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        try:
            return str(value)
        except ValueError:  # more digits than int->str allows
            raise UnsupportedValue("an int too large to print") from None
    if kind is float:
        return repr(value) if math.isfinite(value) else f'{{"float": "{value!r}"}}'
    if kind is str:
        return f'{{"str": "{value.encode("utf-8", "surrogatepass").hex()}"}}'
    if kind is bytes:
        return f'{{"bytes": "{value.hex()}"}}'
    if kind is list:
        return "[" + ", ".join(dump_value(v, depth + 1) for v in value) + "]"
    if kind is tuple or kind is set or kind is frozenset:
        items = ", ".join(dump_value(v, depth + 1) for v in value)
        return f'{{"{kind.__name__}": [{items}]}}'
    if kind is dict:
        pairs = ", ".join(f"[{dump_value(k, depth + 1)}, {dump_value(v, depth + 1)}]" for k, v in value.items())
        return f'{{"dict": [{pairs}]}}'
    if kind is complex:
        return f'{{"complex": [{dump_value(value.real, depth + 1)}, {dump_value(value.imag, depth + 1)}]}}'
    raise UnsupportedValue(f"a value of type {kind.__name__} is not plain data")


_FLOATS = {"nan": float("nan"), "inf": _INF, "-inf": -_INF}


def decode_value(data: object, depth: int = 0) -> object:
    """The value `dump_value` wrote, from its parsed JSON; `UnsupportedValue` for anything else."""
    if depth > MAX_DEPTH:
        raise UnsupportedValue(f"value nested deeper than {MAX_DEPTH}")
    kind = type(data)
    if data is None or kind in (bool, int, float):  # strings only ever come tagged
        return data
    if kind is list:
        return [decode_value(v, depth + 1) for v in data]
    if kind is dict and len(data) == 1:
        ((tag, body),) = data.items()
        try:
            if tag == "str" and type(body) is str:
                return bytes.fromhex(body).decode("utf-8", "surrogatepass")
            if tag == "bytes" and type(body) is str:
                return bytes.fromhex(body)
        except ValueError:
            raise UnsupportedValue("malformed string") from None
        if tag == "float" and body in _FLOATS:
            return _FLOATS[body]
        if type(body) is list:
            items = [decode_value(v, depth + 1) for v in body]
            try:
                if tag == "tuple":
                    return tuple(items)
                if tag in ("set", "frozenset"):
                    return (set if tag == "set" else frozenset)(items)
                if tag == "dict" and all(type(pair) is list and len(pair) == 2 for pair in items):
                    return {key: value for key, value in items}
            except TypeError:  # an unhashable element
                raise UnsupportedValue("unhashable set element or dict key") from None
            if tag == "complex" and len(items) == 2 and all(type(x) in (int, float) for x in items):
                return complex(items[0], items[1])
    raise UnsupportedValue("malformed value")


def pack(message: object) -> bytes:
    """A parent-to-runner message: 8-byte length, then ``marshal`` (trusted direction only)."""
    data = marshal.dumps(message)
    return len(data).to_bytes(8, "little") + data


# ---------------------------------------------------------------------------- inside the sandbox
_MAIN_PID = os.getpid()


def _send(fd: int, message: dict) -> None:
    """One line of JSON: keys as they are, values through `dump_value`."""
    if os.getpid() != _MAIN_PID:  # a process the code forked came back into the runner: it says nothing
        os._exit(0)
    data = ("{" + ", ".join(f'"{key}": {dump_value(value)}' for key, value in message.items()) + "}\n").encode()
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


LIMIT_ORDER = ("cpu_s", "memory_mb", "processes", "file_size_mb", "open_files")
"""The order of the limits in the runner's LIMITS argument (comma-separated ints)."""


def _apply_limits(text: str) -> None:
    import resource

    limits = dict(zip(LIMIT_ORDER, map(int, text.split(","))))
    mb = 1 << 20
    for name, soft, hard in (
        ("RLIMIT_CORE", 0, 0),
        ("RLIMIT_CPU", limits["cpu_s"], limits["cpu_s"] + 1),  # SIGXCPU at the soft limit, SIGKILL a second later
        ("RLIMIT_FSIZE", limits["file_size_mb"] * mb, limits["file_size_mb"] * mb),
        ("RLIMIT_NOFILE", limits["open_files"], limits["open_files"]),
        ("RLIMIT_NPROC", limits["processes"], limits["processes"]),
        ("RLIMIT_AS", limits["memory_mb"] * mb, limits["memory_mb"] * mb),
    ):
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _receive(fd: int) -> object:
    """The next `pack`ed message from the parent; exit quietly when it is gone."""
    size = int.from_bytes(_read_exactly(fd, 8), "little")
    return marshal.loads(_read_exactly(fd, size))


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            os._exit(0)  # the parent is gone
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _run_stdio(job: dict, fd_in: int, fd_out: int, code: object) -> None:
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


def _run_function(job: dict, fd_in: int, fd_out: int, code: object) -> None:
    namespace: dict = {"__name__": "solution", "__builtins__": __builtins__}
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
        args = _receive(fd_in)
        try:
            result = function(*args)
        except BaseException as exc:  # noqa: BLE001
            _send(fd_out, {"raise": _error(exc)})
            continue
        try:
            _send(fd_out, {"return": result})
        except (UnsupportedValue, RecursionError, MemoryError) as exc:
            _send(fd_out, {"unsupported": str(exc)[:200]})


def main(argv: list[str]) -> None:
    fd_in, fd_out, uid = int(argv[1]), int(argv[2]), int(argv[3])
    _apply_limits(argv[4])
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.umask(0o077)
    _send(fd_out, {"ready": True})
    job = _receive(fd_in)
    try:
        code = compile(job["program"], "<solution>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        _send(fd_out, {"error": _error(exc)})
        os._exit(0)
    if job["mode"] == "stdio":
        _run_stdio(job, fd_in, fd_out, code)
    else:
        _run_function(job, fd_in, fd_out, code)


if __name__ == "__main__":
    main(sys.argv)
