"""Batch verification in worker processes with a hard wall-clock timeout per item.

Each worker is a process of its own that verifies on its main thread, so
verifiers that rely on ``signal`` (math-verify, sympy) behave as they do in a
script. The parent hands each idle worker a small chunk of items and watches
the clock: the worker sends one result per item, so the parent always knows
which item is running and since when. An item past ``timeout_s`` gets a
``timeout`` verdict; its worker is killed and replaced, and the rest of its
chunk goes back to the queue. A worker that dies gives an ``error`` verdict
for the item it held. The result list has one verdict per input, in input order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Iterable, Iterator, Sequence

from .base import Reason, Verdict, Verifier, make_verdict

__all__ = ["BatchResult", "VerifierPool", "verify_batch", "verify_one"]

_DEFAULT_TIMEOUT_S = 10.0
_MAX_CHUNK = 32


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


def _worker_main(conn: Connection) -> None:
    """Worker loop: receive ``(verifier, [(index, response, ground_truth), ...])``, send ``(index, verdict)`` each."""
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        verifier, chunk = message
        for index, response, ground_truth in chunk:
            verdict = verify_one(verifier, response, ground_truth)
            try:
                conn.send((index, verdict))
            except Exception as exc:  # noqa: BLE001 - e.g. unpicklable details; still one verdict per item
                conn.send((index, make_verdict(verifier.alpha, Reason.ERROR, details={"error": f"result not sendable: {exc}"})))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    chunk: list[tuple[int, Any, Any]] = field(default_factory=list)
    """Items sent and not yet answered; the first one is running."""
    started_at: float = 0.0
    """When the first item of ``chunk`` started (parent clock)."""


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

    def __init__(self, workers: int | None = None, timeout_s: float = _DEFAULT_TIMEOUT_S, start_method: str = "forkserver"):
        if workers is None:
            workers = os.cpu_count() or 1
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        if start_method not in mp.get_all_start_methods():
            raise ValueError(f"start_method must be one of {mp.get_all_start_methods()}, got {start_method!r}")
        self.workers = workers
        self.timeout_s = float(timeout_s)
        self._ctx = mp.get_context(start_method)
        self._pool: list[_Worker] = []
        self.restarts = 0
        """Workers killed (timeout) or found dead and replaced, over the pool's life."""

    # -- lifecycle -------------------------------------------------------
    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child,), daemon=True, name="rlvr-gym-verifier")
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

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

        def dispatch(worker: _Worker) -> None:
            chunk = [queue.pop() for _ in range(min(chunk_size, len(queue)))]
            if chunk:
                worker.chunk = chunk
                worker.started_at = time.perf_counter()
                worker.conn.send((verifier, chunk))

        def replace(worker: _Worker) -> _Worker:
            self._kill(worker)
            queue.extend(reversed(worker.chunk[1:]))  # the rest of its chunk goes back, in order
            self.restarts += 1
            fresh = self._spawn()
            self._pool[self._pool.index(worker)] = fresh
            return fresh

        for worker in self._pool:
            dispatch(worker)
        while outstanding:
            busy = [w for w in self._pool if w.chunk]
            deadline = min(w.started_at for w in busy) + self.timeout_s
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=max(0.0, deadline - time.perf_counter()))
            now = time.perf_counter()
            for worker in busy:
                if worker.conn in ready or worker.conn.poll():
                    try:
                        while worker.chunk and worker.conn.poll():
                            index, verdict = worker.conn.recv()
                            assert index == worker.chunk[0][0], "worker answered out of order"
                            results[index] = verdict
                            arrived = time.perf_counter()
                            durations[index] = arrived - worker.started_at
                            outstanding -= 1
                            worker.chunk.pop(0)
                            worker.started_at = arrived
                    except (EOFError, OSError):
                        pass  # died mid-message: handled as dead below
                    if not worker.chunk and worker.process.is_alive():
                        dispatch(worker)
                        continue
                if worker.chunk and not worker.process.is_alive():
                    index = worker.chunk[0][0]
                    code = worker.process.exitcode
                    results[index] = make_verdict(verifier.alpha, Reason.ERROR, details={"error": f"verifier worker died (exit code {code})"})
                    durations[index] = now - worker.started_at
                    outstanding -= 1
                    dispatch(replace(worker))
                elif worker.chunk and now - worker.started_at >= self.timeout_s:
                    index = worker.chunk[0][0]
                    results[index] = make_verdict(verifier.alpha, Reason.TIMEOUT, details={"timeout_s": self.timeout_s})
                    durations[index] = now - worker.started_at
                    outstanding -= 1
                    dispatch(replace(worker))


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
