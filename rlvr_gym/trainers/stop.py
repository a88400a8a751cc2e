"""Stopping a run on Ctrl-C or SIGTERM, over one or several processes: `StopVote`.

A terminal's Ctrl-C reaches the whole process group: the trainer, vLLM's engine process and the
verifier workers alike, so a call into one of those helper processes can fail *because* of the
same Ctrl-C that asked the run to stop. And under a launcher every training process must take
the same decision at the same point, or their collective calls stop matching. So:

- the handlers (`StopVote.handlers`) only record the request: the first SIGINT or SIGTERM asks
  for a stop after the current step (SIGTERM, which launchers pass on to their workers and
  schedulers send before preempting, never aborts); a second SIGINT raises `KeyboardInterrupt`;
- calls into helper processes run inside `StopVote.guard`: after a stop request, their failure
  is recorded instead of raised (a failure without one is a real error and propagates);
- `StopVote.requested` and `StopVote.abandon_if_failed` are votes (collective): every process
  learns whether any process was asked to stop, or had a guarded call fail; the step in
  progress is then abandoned everywhere (`StepAbandoned`) before it changed anything.

The training loop only calls these four; how a signal is caught lives here alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import torch
from torch import Tensor

__all__ = ["StepAbandoned", "StopVote", "sigint_ignored"]


class StepAbandoned(Exception):
    """A helper process failed after a stop request, on some process: every process drops the step."""


class StopVote:
    """Stop requests (signals) and failed helper calls of one run, agreed over its processes.

    ``all_reduce_sum`` sums a tensor over the run's processes (the strategy's; the identity for one
    process). ``announce`` is told, on the first request, which signal stopped the run.
    """

    def __init__(self, all_reduce_sum: Callable[[Tensor], Tensor], announce: Callable[[str], None] = print):
        self._all_reduce_sum = all_reduce_sum
        self._announce = announce
        self.signalled = False
        """A stop was asked of this process (by a signal, or agreed by a vote)."""
        self._failed = False

    # -- the votes (collective: call on every process at the same point) ------------------------

    def requested(self) -> bool:
        """Whether a stop was asked of any process; afterwards `signalled` is the same on every process."""
        self.signalled = self._any(self.signalled)
        return self.signalled

    def abandon_if_failed(self, what: str) -> None:
        """Raise `StepAbandoned` on every process when a guarded call of ``what`` failed on any."""
        failed, self._failed = self._any(self._failed), False
        if failed:
            self.signalled = True
            raise StepAbandoned(f"Ctrl-C stopped a helper process during {what}")

    def _any(self, flag: bool) -> bool:
        return bool(self._all_reduce_sum(torch.tensor([float(flag)])).item() > 0)

    # -- calls into helper processes --------------------------------------------------------------

    @contextlib.contextmanager
    def guard(self, restarts: Callable[[], int] | None = None) -> Iterator[None]:
        """Run a call into helper processes; after a stop request, record its failure instead of raising.

        ``restarts``: a counter of helper processes replaced (the verifier pool's): a change during
        the block after a stop request is a failure too (the worker died under the same Ctrl-C and
        its item was scored as an error, which must not be trained on).
        """
        before = restarts() if restarts is not None else 0
        try:
            yield
        except Exception:
            if not self.signalled:
                raise
            self._failed = True
            return
        if self.signalled and restarts is not None and restarts() != before:
            self._failed = True

    # -- the handlers -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def handlers(self) -> Iterator[None]:
        """SIGINT and SIGTERM record a stop request inside the block (main thread only; elsewhere
        signals cannot be caught, and nothing is installed)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.signalled:
            raise KeyboardInterrupt
        if self.signalled:
            return
        self.signalled = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self._announce(name)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT inside the block (main thread only): processes started in it inherit that."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
