"""Which task items each PPO step draws: a seeded, resumable order over the train split.

The items form an endless stream of epochs, each a fresh permutation seeded by ``(seed, epoch)``.
Step ``k`` takes stream positions ``k * B .. k * B + B - 1``, so the order depends only on the
seed and the step: a resumed run draws exactly what an uninterrupted one would, and a step
abandoned half-way (Ctrl-C) draws the same items when it is run again.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PromptSampler"]


class PromptSampler:
    """Item indices per step: ``B`` per step, reshuffled every epoch (see the module docstring)."""

    def __init__(self, num_items: int, batch_size: int, seed: int):
        if num_items < 1:
            raise ValueError(f"PromptSampler: no items to draw from (num_items={num_items})")
        if batch_size < 1:
            raise ValueError(f"PromptSampler: batch_size must be >= 1, got {batch_size}")
        self.num_items = num_items
        self.batch_size = batch_size
        self.seed = seed
        self._orders: dict[int, np.ndarray] = {}

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            if len(self._orders) > 4:
                self._orders.clear()
            self._orders[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
        return self._orders[epoch]

    def indices(self, step: int) -> list[int]:
        """Item indices of step ``step`` (0-based)."""
        if step < 0:
            raise ValueError(f"PromptSampler: step must be >= 0, got {step}")
        start = step * self.batch_size
        out = []
        for position in range(start, start + self.batch_size):
            epoch, offset = divmod(position, self.num_items)
            out.append(int(self._order(epoch)[offset]))
        return out
