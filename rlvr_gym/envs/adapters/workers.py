"""Verification from many threads at once: the reward server's handlers, OpenRLHF's reward threads.

`VerifierPool` runs one batch at a time. OpenRLHF sends hundreds of concurrent one-sample
requests, so one pool behind one lock makes every request wait for the one before it.
`SharedVerifier` holds ``workers`` single-process pools instead: a request takes an idle one
(waiting only when all are busy), and a large request also takes whichever others are idle
and splits its items across them. Each pool keeps its per-item timeout and worker restarts.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...verifiers import BatchResult, Reason, Verifier, VerifierPool, verify_batch

__all__ = ["SharedVerifier"]

_MIN_SHARD = 8
"""A request is split across several workers only when each gets at least this many items."""


def merge_results(parts: Sequence[BatchResult], elapsed_s: float) -> BatchResult:
    """One `BatchResult` from consecutive parts, verdicts in order."""
    verdicts = [v for part in parts for v in part.verdicts]
    durations = [d for part in parts for d in part.durations_s]
    counts = {reason.value: sum(part.counts[reason.value] for part in parts) for reason in Reason}
    return BatchResult(verdicts=verdicts, counts=counts, elapsed_s=elapsed_s, durations_s=durations)


class SharedVerifier:
    """One verifier, callable from any number of threads, over ``workers`` processes.

    ``workers=0`` verifies in the calling process, one request at a time, without timeouts.
    Workers come from a fork server: the callers are threads, and forking beside threads is unsafe.
    """

    def __init__(self, verifier: Verifier, workers: int, timeout_s: float):
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
            raise ValueError(f"workers must be an int >= 0, got {workers!r}")
        self.verifier = verifier
        self.workers = workers
        self.timeout_s = float(timeout_s)
        self._idle: queue.SimpleQueue[VerifierPool] = queue.SimpleQueue()
        self._inline_lock = threading.Lock()
        self._closed = False
        for _ in range(workers):
            self._idle.put(VerifierPool(workers=1, timeout_s=timeout_s, start_method="forkserver"))
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rlvr-gym-shard") if workers else None

    def verify(self, pairs: Sequence[tuple[str, Any]]) -> BatchResult:
        """Verify ``(response, ground_truth)`` pairs; one verdict per pair, in order."""
        if self._closed:
            raise RuntimeError("SharedVerifier is closed")
        if not pairs:
            return merge_results([], 0.0)
        if self._threads is None:
            with self._inline_lock:
                return verify_batch(self.verifier, pairs, workers=0)
        start = time.perf_counter()
        held = [self._idle.get()]  # waits only while every worker is busy
        try:
            wanted = min(self.workers, max(1, len(pairs) // _MIN_SHARD))
            while len(held) < wanted:
                try:
                    held.append(self._idle.get_nowait())
                except queue.Empty:
                    break
            if len(held) == 1:
                return held[0].verify(self.verifier, pairs)
            size = math.ceil(len(pairs) / len(held))
            shards = [pairs[i : i + size] for i in range(0, len(pairs), size)]
            futures = [self._threads.submit(pool.verify, self.verifier, shard) for pool, shard in zip(held, shards)]
            return merge_results([f.result() for f in futures], time.perf_counter() - start)
        finally:
            for pool in held:
                self._idle.put(pool)

    def close(self) -> None:
        """Stop the worker processes, waiting for requests in flight to hand theirs back."""
        if self._closed:
            return
        self._closed = True
        for _ in range(self.workers):
            try:
                pool = self._idle.get(timeout=self.timeout_s + 5.0)
            except queue.Empty:
                break  # a request is stuck past its own timeout: its pool closes when collected
            pool.close()
        if self._threads is not None:
            self._threads.shutdown(wait=False)
