"""Batch verification in worker processes with a hard wall-clock timeout per item.

Each worker is a process of its own that verifies on its main thread, so
verifiers that rely on ``signal`` (math-verify, sympy) behave as they do in a
script. The parent hands each idle worker a chunk of items. Before each item the
worker writes the item's index and start time into a small shared-memory array,
and it sends results in batches (every ``_FLUSH_S`` seconds and at the end of a
chunk), so a fast verifier pays little for the pipe while the parent always knows
which item is running and since when. An item past ``timeout_s`` gets a ``timeout``
verdict; its worker is killed and replaced, and the chunk's other unanswered items go
back to the queue (verifiers are deterministic, so re-running one is harmless). A
worker that dies gives an ``error`` verdict for the item it was running. The result
list has one verdict per input, in input order.

Workers are forked when this process runs no other thread (they then start at once,
sharing the parent's imported modules and caches); otherwise they come from a fork
server, which is safe beside threads (vLLM, tokenizers, an HTTP server).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Iterable, Iterator, Sequence

from .base import Reason, Verdict, Verifier, make_verdict

__all__ = ["BatchResult", "VerifierPool", "verify_batch", "verify_one"]

_DEFAULT_TIMEOUT_S = 10.0
_MAX_CHUNK = 64
_FLUSH_S = 0.02
"""A worker sends its buffered results at least this often (seconds)."""
_IDLE = -1.0


def verify_one(verifier: Verifier, response: Any, ground_truth: Any) -> Verdict:
    """Call ``verifier.verify``; an escaping exception becomes an ``error`` verdict."""
    try:
        verdict = verifier.verify(response, ground_truth)
    except Exception as exc:  # noqa: BLE001 - a verifier broke its contract; record it, don't crash the batch
        return make_verdict(verifier.alpha, Reason.ERROR, details={"error": f"{type(exc).__name__}: {exc}"[:2000]})
    if not isinstance(verdict, Verdict):
        return make_verdict(
            verifier.alpha,
            Reason.ERROR,
            details={"error": f"{type(verifier).__name__}.verify returned {type(verdict).__name__}, not Verdict"},
        )
    return verdict


def _send_results(conn: Connection, alpha: float, results: list[tuple[int, Verdict, float]]) -> None:
    try:
        conn.send(results)
    except Exception:  # noqa: BLE001 - e.g. unpicklable details: still one verdict per item
        for index, verdict, seconds in results:
            try:
                conn.send([(index, verdict, seconds)])
            except Exception as exc:  # noqa: BLE001
                error = make_verdict(alpha, Reason.ERROR, details={"error": f"result not sendable: {exc}"[:2000]})
                conn.send([(index, error, seconds)])


def _worker_main(conn: Connection, progress: Any) -> None:
    """Worker loop: receive ``(verifier, [(index, response, ground_truth), ...])``; send ``[(index, verdict, seconds)]``.

    ``progress[0]`` is the index of the running item (-1 when idle), ``progress[1]`` its start on
    ``time.monotonic()``, which is the same clock in every process of this machine.
    """
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        verifier, chunk = message
        buffer: list[tuple[int, Verdict, float]] = []
        last_flush = time.monotonic()
        for index, response, ground_truth in chunk:
            started = time.monotonic()
            progress[1] = started
            progress[0] = index
            verdict = verify_one(verifier, response, ground_truth)
            finished = time.monotonic()
            buffer.append((index, verdict, finished - started))
            if finished - last_flush >= _FLUSH_S:
                _send_results(conn, verifier.alpha, buffer)
                buffer, last_flush = [], finished
        progress[0] = _IDLE
        if buffer:
            _send_results(conn, verifier.alpha, buffer)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    progress: Any
    """Shared ``[running index or -1, start time on time.monotonic()]``."""
    chunk: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    """Items sent and not yet answered, by index."""
    sent_at: float = 0.0
    """When the chunk was sent (monotonic clock)."""

    def running(self) -> tuple[int, float] | None:
        """The index and start time of the item this worker is on, if it is one of its chunk."""
        started = self.progress[1]
        index = int(self.progress[0])
        return (index, started) if index in self.chunk else None


@dataclass(frozen=True)
class BatchResult:
    """Verdicts in input order, plus verifier health at a glance."""

    verdicts: list[Verdict]
    counts: dict[str, int]
    """Number of verdicts per reason; every `Reason` is a key."""
    elapsed_s: float
    durations_s: list[float] = field(default_factory=list)
    """Wall-clock seconds from each item's start to its verdict (parent's clock), in input order."""

    def __len__(self) -> int:
        return len(self.verdicts)

    def __iter__(self) -> Iterator[Verdict]:
        return iter(self.verdicts)

    def __getitem__(self, i: int) -> Verdict:
        return self.verdicts[i]

    @property
    def scores(self) -> list[float]:
        return [v.score for v in self.verdicts]

    @property
    def accuracy(self) -> float:
        return self.counts[Reason.CORRECT.value] / len(self.verdicts) if self.verdicts else 0.0

    @property
    def items_per_s(self) -> float:
        return len(self.verdicts) / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def summary(self) -> dict[str, Any]:
        return {
            "items": len(self.verdicts),
            "accuracy": self.accuracy,
            "items_per_s": self.items_per_s,
            "elapsed_s": self.elapsed_s,
            "counts": dict(self.counts),
        }


def _count(verdicts: Sequence[Verdict]) -> dict[str, int]:
    counter = Counter(v.reason.value for v in verdicts)
    return {reason.value: counter.get(reason.value, 0) for reason in Reason}


class VerifierPool:
    """A reusable set of verifier worker processes.

    Use it as a context manager when verifying many batches (a trainer does one
    per step), so workers and their ground-truth caches live across batches::

        with VerifierPool(workers=2, timeout_s=5) as pool:
            result = pool.verify(verifier, [(response, ground_truth), ...])
    """

    def __init__(self, workers: int | None = None, timeout_s: float = _DEFAULT_TIMEOUT_S, start_method: str | None = None):
        if workers is None:
            workers = os.cpu_count() or 1
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        if start_method is None:
            # Forking is only safe when no other thread could hold a lock at the moment of the fork.
            start_method = "fork" if threading.active_count() == 1 and "fork" in mp.get_all_start_methods() else "forkserver"
        if start_method not in mp.get_all_start_methods():
            raise ValueError(f"start_method must be one of {mp.get_all_start_methods()}, got {start_method!r}")
        self.workers = workers
        self.timeout_s = float(timeout_s)
        self.start_method = start_method
        self._ctx = mp.get_context(start_method)
        self._pool: list[_Worker] = []
        self.restarts = 0
        """Workers killed (timeout) or found dead and replaced, over the pool's life."""

    # -- lifecycle -------------------------------------------------------
    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        progress = self._ctx.RawArray("d", [_IDLE, 0.0])
        process = self._ctx.Process(target=_worker_main, args=(child, progress), daemon=True, name="rlvr-gym-verifier")
        process.start()
        child.close()
        return _Worker(process=process, conn=parent, progress=progress)

    def _kill(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join(5)
        worker.conn.close()

    def close(self) -> None:
        for worker in self._pool:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in self._pool:
            worker.process.join(1)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1)
            worker.conn.close()
        self._pool = []

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing left to report to
            pass

    # -- work ------------------------------------------------------------
    def verify(self, verifier: Verifier, items: Iterable[tuple[Any, Any]]) -> BatchResult:
        """Verify ``(response, ground_truth)`` pairs; one verdict per pair, in order."""
        start = time.perf_counter()
        pending = [(i, *_as_pair(item, i)) for i, item in enumerate(items)]
        results: list[Verdict | None] = [None] * len(pending)
        durations = [0.0] * len(pending)
        if pending:
            self._run(verifier, pending, results, durations)
        verdicts: list[Verdict] = [v for v in results if v is not None]
        assert len(verdicts) == len(results), "batch engine lost an item"
        return BatchResult(verdicts=verdicts, counts=_count(verdicts), elapsed_s=time.perf_counter() - start, durations_s=durations)

    def _run(
        self, verifier: Verifier, pending: list[tuple[int, Any, Any]], results: list[Verdict | None], durations: list[float]
    ) -> None:
        while len(self._pool) < self.workers:
            self._pool.append(self._spawn())
        queue = list(reversed(pending))  # pop() from the end keeps input order
        outstanding = len(pending)
        chunk_size = max(1, min(_MAX_CHUNK, len(pending) // (4 * self.workers)))
        timeout_s = self.timeout_s

        def dispatch(worker: _Worker) -> None:
            chunk = [queue.pop() for _ in range(min(chunk_size, len(queue)))]
            if chunk:
                worker.chunk = {index: (response, gt) for index, response, gt in chunk}
                worker.sent_at = time.monotonic()
                worker.conn.send((verifier, chunk))

        def receive(worker: _Worker) -> int:
            done = 0
            try:
                while worker.chunk and worker.conn.poll():
                    for index, verdict, seconds in worker.conn.recv():
                        if worker.chunk.pop(index, None) is not None:
                            results[index], durations[index] = verdict, seconds
                            done += 1
            except (EOFError, OSError):
                pass  # died mid-message: handled as dead by the caller
            return done

        def replace(worker: _Worker, failed: int | None) -> _Worker:
            self._kill(worker)
            worker.chunk.pop(failed, None)
            # The chunk's other unanswered items go back first, in order (some may have finished unsent).
            queue.extend(reversed([(i, *worker.chunk[i]) for i in sorted(worker.chunk)]))
            self.restarts += 1
            fresh = self._spawn()
            self._pool[self._pool.index(worker)] = fresh
            return fresh

        for worker in self._pool:
            dispatch(worker)
        while outstanding:
            busy = [w for w in self._pool if w.chunk]
            now = time.monotonic()
            deadline = min((run[1] if (run := w.running()) else max(w.sent_at, now)) + timeout_s for w in busy)
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=max(0.0, deadline - now)))
            for worker in busy:
                if worker.conn in ready:
                    outstanding -= receive(worker)
                if not worker.chunk:
                    dispatch(worker)
                    continue
                if worker.process.sentinel in ready or not worker.process.is_alive():
                    outstanding -= receive(worker)  # results sent just before it died
                    if not worker.chunk:
                        dispatch(replace(worker, None))
                        continue
                    run = worker.running()
                    code = worker.process.exitcode
                    # Died inside an item: that item is the culprit. Died outside any: the chunk itself is.
                    culprits = [run[0]] if run else sorted(worker.chunk)
                    for index in culprits:
                        died = {"error": f"verifier worker died (exit code {code})"}
                        results[index] = make_verdict(verifier.alpha, Reason.ERROR, details=died)
                        durations[index] = time.monotonic() - (run[1] if run else worker.sent_at)
                        worker.chunk.pop(index)
                        outstanding -= 1
                    dispatch(replace(worker, None))
                    continue
                run = worker.running()
                if run is not None and time.monotonic() - run[1] >= timeout_s:
                    index, started = run
                    results[index] = make_verdict(verifier.alpha, Reason.TIMEOUT, details={"timeout_s": timeout_s})
                    durations[index] = time.monotonic() - started
                    outstanding -= 1
                    dispatch(replace(worker, index))


def _as_pair(item: Any, position: int) -> tuple[Any, Any]:
    if isinstance(item, dict):
        try:
            return item["response"], item["ground_truth"]
        except KeyError as exc:
            raise ValueError(f"item {position}: a dict item needs keys 'response' and 'ground_truth', missing {exc}") from None
    try:
        response, ground_truth = item
    except (TypeError, ValueError):
        raise ValueError(f"item {position}: expected a (response, ground_truth) pair, got {type(item).__name__}") from None
    return response, ground_truth


def verify_batch(
    verifier: Verifier,
    items: Iterable[tuple[Any, Any]],
    workers: int | None = None,
    timeout_s: float = _DEFAULT_TIMEOUT_S,
) -> BatchResult:
    """Verify ``(response, ground_truth)`` pairs (or dicts with those keys) in parallel.

    ``workers`` processes (default: the CPU count) each verify on their own main
    thread. ``workers=0`` verifies in this process, serially, with no timeout.
    Never raises for a bad response, never hangs past ``timeout_s`` per item,
    never loses or reorders an item.
    """
    if workers == 0:
        start = time.perf_counter()
        verdicts, durations = [], []
        for i, item in enumerate(items):
            pair = _as_pair(item, i)
            item_start = time.perf_counter()
            verdicts.append(verify_one(verifier, *pair))
            durations.append(time.perf_counter() - item_start)
        return BatchResult(verdicts=verdicts, counts=_count(verdicts), elapsed_s=time.perf_counter() - start, durations_s=durations)
    with VerifierPool(workers=workers, timeout_s=timeout_s) as pool:
        return pool.verify(verifier, items)
