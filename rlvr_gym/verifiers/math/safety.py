"""What keeps the symbolic stage bounded: refusals, the timer, and the one rule for exceptions.

*Timeouts.* math-verify 0.9.0 arms ``signal.alarm`` in ``parse``/``verify``
whenever its timeout is > 0; off the main thread ``signal.signal`` raises
``ValueError``, which math-verify re-raises ("doesn't support threaded
environment"), and its ``TimeoutException`` derives from ``BaseException``, so
``except Exception`` does not catch it. This verifier does not call those
wrappers: it calls the parser directly. As a backstop it arms its own
``ITIMER_REAL`` (`timer`) only when it runs on the main thread and no other timer
is pending, and restores the previous handler after. Off the main thread there
is no timer: the input guards (`limits`) are what keep it bounded (the batch
engine runs every item on a worker's main thread and also kills items past its
own limit).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["Refused", "SympyTimeout", "attempt", "timer"]

_T = TypeVar("_T")


class Refused(Exception):
    """An answer that is not compared symbolically (too large, too costly, or not parseable)."""


class SympyTimeout(BaseException):
    """Raised by our own timer (main thread only)."""


def attempt(fn: Callable[..., _T], *args: Any, failed: _T) -> _T:
    """``fn(*args)``, or ``failed`` when it raises an ``Exception``: a sympy step that fails proves nothing.

    Our own timeout, our own `Refused` and ``RecursionError`` pass through (the
    first becomes a ``timeout`` verdict, the second a recorded refusal; the third
    is a bug to report, never a silent verdict).
    """
    try:
        return fn(*args)
    except (SympyTimeout, Refused, RecursionError):
        raise
    except Exception:  # noqa: BLE001 - the one place a failing sympy step is turned into "not proved"
        return failed


@contextmanager
def timer(seconds: float) -> Iterator[None]:
    """Raise `SympyTimeout` after ``seconds``: main thread only, and only when no other timer is pending.

    The previous SIGALRM handler is restored on exit; a late signal arriving while
    disarming is ignored (the handler checks ``armed``), so the restore always runs.
    """
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield
        return
    armed = [True]

    def on_alarm(signum: int, frame: Any) -> None:
        if armed[0]:
            raise SympyTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
