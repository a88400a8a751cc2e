"""Procedural tasks: items generated from a seed, no data file needed.

Item ``i`` of a source depends only on ``(seed, i)``, so every process and run
sees the same items in the same order.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import permutations, product
from typing import Callable, overload

from .data import Item

__all__ = ["ArithmeticSource", "CountdownSource", "LazyItems", "in_split"]

HELD_OUT_EVERY = 5
"""One problem in this many (by a stable hash of its text) belongs to the test split, the rest to train."""


def in_split(problem: str, split: str) -> bool:
    """Whether ``problem`` belongs to ``split``; train and test never share a problem."""
    return (zlib.crc32(problem.encode()) % HELD_OUT_EVERY == 0) == (split == "test")


def _check_split(owner: str, split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"{owner}.split must be 'train' or 'test', got {split!r}")


class LazyItems(Sequence[Item]):
    """A read-only sequence whose item ``i`` is generated on first access (and cached)."""

    def __init__(self, size: int, make: Callable[[int], Item]):
        self._size = size
        self._make = lru_cache(maxsize=65_536)(make)

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Item: ...
    @overload
    def __getitem__(self, index: slice) -> list[Item]: ...
    def __getitem__(self, index: int | slice) -> Item | list[Item]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(f"item index {index} out of range for {self._size} items")
        return self._make(index)

_OPERATORS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


@dataclass(frozen=True)
class ArithmeticSource:
    """``a op b`` with ``digits``-digit operands; the ground truth is the exact integer result."""

    digits: int = 2
    """Difficulty knob: number of digits of each operand (1-9)."""
    operators: str = "+-*"
    """Operators to draw from, a subset of ``+-*``."""
    size: int = 10_000
    """Number of items."""
    seed: int = 0
    """Base seed; item ``i`` uses ``Random(f"{seed}:{i}")``."""
    split: str = "train"
    """``"train"`` or ``"test"``: disjoint sets of problems (see `in_split`)."""

    def __post_init__(self) -> None:
        _check_split("ArithmeticSource", self.split)
        if not 1 <= self.digits <= 9:
            raise ValueError(f"ArithmeticSource.digits must be in 1..9, got {self.digits}")
        if not self.operators or set(self.operators) - set(_OPERATORS):
            raise ValueError(f"ArithmeticSource.operators must be a non-empty subset of '+-*', got {self.operators!r}")
        if self.size < 1:
            raise ValueError(f"ArithmeticSource.size must be >= 1, got {self.size}")

    def item(self, index: int) -> Item:
        rng = random.Random(f"{self.seed}:{self.split}:{index}")
        low, high = 10 ** (self.digits - 1) if self.digits > 1 else 0, 10**self.digits - 1
        while True:
            a, b = rng.randint(low, high), rng.randint(low, high)
            op = rng.choice(self.operators)
            prompt = f"What is {a} {op} {b}?"
            if in_split(prompt, self.split):
                break
        return Item(id=f"arithmetic-d{self.digits}-{self.split}/{index}", prompt=prompt, ground_truth=str(_OPERATORS[op](a, b)))

    def load(self) -> LazyItems:
        return LazyItems(self.size, self.item)


@lru_cache(maxsize=4096)
def _reachable(numbers: tuple[int, ...]) -> dict[Fraction, str]:
    """All values reachable using every number once, with one expression each (small inputs only)."""
    if len(numbers) == 1:
        return {Fraction(numbers[0]): str(numbers[0])}
    found: dict[Fraction, str] = {}
    for order in set(permutations(numbers)):
        for split in range(1, len(order)):
            for (lv, le), (rv, re_) in product(_reachable(order[:split]).items(), _reachable(order[split:]).items()):
                candidates = {lv + rv: f"({le} + {re_})", lv - rv: f"({le} - {re_})", lv * rv: f"{le} * {re_}"}
                if rv != 0:
                    candidates.setdefault(lv / rv, f"{le} / ({re_})")
                for value, expression in candidates.items():
                    found.setdefault(value, expression)
    return found


@dataclass(frozen=True)
class CountdownSource:
    """Countdown: combine ``count`` numbers with ``+ - * /`` to reach a target that is reachable by construction."""

    count: int = 3
    """How many numbers are given (2-4)."""
    max_number: int = 20
    """Numbers are drawn from 1..max_number."""
    size: int = 10_000
    """Number of items."""
    seed: int = 0
    """Base seed; item ``i`` uses ``Random(f"countdown:{seed}:{i}")``."""
    split: str = "train"
    """``"train"`` or ``"test"``: disjoint sets of problems (see `in_split`)."""

    def __post_init__(self) -> None:
        _check_split("CountdownSource", self.split)
        if not 2 <= self.count <= 4:
            raise ValueError(f"CountdownSource.count must be in 2..4, got {self.count}")
        if self.max_number < 2:
            raise ValueError(f"CountdownSource.max_number must be >= 2, got {self.max_number}")
        if self.size < 1:
            raise ValueError(f"CountdownSource.size must be >= 1, got {self.size}")

    def item(self, index: int) -> Item:
        rng = random.Random(f"countdown:{self.seed}:{self.split}:{index}")
        while True:
            numbers = tuple(rng.randint(1, self.max_number) for _ in range(self.count))
            targets = sorted(int(v) for v in _reachable(numbers) if v.denominator == 1 and v > 0)
            target = rng.choice(targets)
            listed = ", ".join(map(str, numbers))
            prompt = f"Using the numbers {listed} each at most once, with + - * / and parentheses, write an expression equal to {target}."
            if in_split(prompt, self.split):
                break
        ground_truth = {"numbers": list(numbers), "target": target}
        return Item(id=f"countdown-{self.count}-{self.split}/{index}", prompt=prompt, ground_truth=ground_truth)

    def load(self) -> LazyItems:
        return LazyItems(self.size, self.item)
