"""Helpers of the maths tests: float64 tensors from nested lists, and closeness to hand-computed values."""

from __future__ import annotations

import torch


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def close(actual: torch.Tensor, expected, tol: float = 1e-9) -> None:
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=tol, rtol=0)
