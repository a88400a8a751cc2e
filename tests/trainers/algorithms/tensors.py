"""Helpers of the maths tests: float64 tensors from nested lists, and closeness to hand-computed values."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def close(actual: torch.Tensor, expected, tol: float = 1e-9) -> None:
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=tol, rtol=0)


def on_two_processes(fn: Callable[[int, Callable[[torch.Tensor], torch.Tensor]], T]) -> list[T]:
    """``[fn(0, all_reduce_sum), fn(1, all_reduce_sum)]`` run on two threads standing in for processes:
    ``all_reduce_sum`` adds the tensor both threads pass it, as the strategy's collective does."""
    barrier = threading.Barrier(2)
    slots: list = [None, None]
    out: list = [None, None]

    def worker(rank: int) -> None:
        def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
            slots[rank] = x
            barrier.wait()
            total = slots[0] + slots[1]
            barrier.wait()  # both have read before either writes again
            return total

        out[rank] = fn(rank, all_reduce_sum)

    threads = [threading.Thread(target=worker, args=(rank,)) for rank in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out
