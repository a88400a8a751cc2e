"""Where the trained models run and how they are optimized: `StrategyConfig`, `OptimizerConfig` (no torch import)."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

from ...config import check
from ...enums import StrEnum

__all__ = ["DEEPSPEED_INSTALL_HINT", "DType", "Distributed", "OptimizerConfig", "Scheduler", "StrategyConfig", "require_deepspeed"]

DEEPSPEED_INSTALL_HINT = "pip install deepspeed==0.19.8"
"""What to run when DeepSpeed is missing (the version these strategies are tested with)."""

_DEVICE = re.compile(r"^(cpu|cuda|mps|xpu|npu|hpu)(:\d+)?$")


class Scheduler(StrEnum):
    """Learning-rate schedule over optimizer updates, after the linear warm-up."""

    CONSTANT = "constant"
    LINEAR = "linear"
    """Linear decay to 0 at the run's last update."""


class DType(StrEnum):
    """Compute dtype of the trained models' forward passes (weights and optimizer state stay float32)."""

    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    """bf16 autocast around forward passes (mixed precision)."""


class Distributed(StrEnum):
    """How training is spread over devices."""

    NONE = "none"
    """One process, one device: `SingleDevice`."""
    ZERO2 = "zero2"
    """DeepSpeed ZeRO stage 2 (optimizer state and gradients sharded): `DeepSpeedStrategy`."""
    ZERO3 = "zero3"
    """DeepSpeed ZeRO stage 3 (parameters sharded too): `DeepSpeedStrategy`."""


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW and its learning-rate schedule, for the policy and the value model alike (each has its own optimizer)."""

    lr: float = 6e-5
    """Policy learning rate."""
    value_lr: float = 1e-3
    """Value-model learning rate."""
    weight_decay: float = 0.0
    """AdamW's decoupled weight decay."""
    betas: tuple[float, ...] = (0.9, 0.999)
    """AdamW's (beta1, beta2)."""
    eps: float = 1e-8
    """AdamW's epsilon."""
    max_grad_norm: float | None = 1.0
    """Clip each model's gradient to this global norm before a step; null: no clipping."""
    scheduler: Scheduler = Scheduler.CONSTANT
    """constant, or linear (to 0 at the last update), after the warm-up."""
    warmup_updates: int = 20
    """Optimizer updates of linear warm-up from 0."""

    def __post_init__(self) -> None:
        check(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        check(self.value_lr > 0, "value_lr", f"must be > 0, got {self.value_lr}")
        check(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        check(
            len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
            "betas",
            f"must be two numbers in [0, 1), got {list(self.betas)}",
        )
        check(self.eps > 0, "eps", f"must be > 0, got {self.eps}")
        check(
            self.max_grad_norm is None or self.max_grad_norm > 0,
            "max_grad_norm",
            f"must be > 0 (or null), got {self.max_grad_norm}",
        )
        check(self.warmup_updates >= 0, "warmup_updates", f"must be >= 0, got {self.warmup_updates}")
        object.__setattr__(self, "scheduler", Scheduler(self.scheduler))


@dataclass(frozen=True)
class StrategyConfig:
    """Where and how the trained models run."""

    distributed: Distributed = Distributed.NONE
    """none (one process, one device); zero2 / zero3: DeepSpeed ZeRO stage 2 or 3 (needs deepspeed)."""
    device: str = "cpu"
    """Torch device of the policy, value and reference models (cpu, cuda, cuda:1)."""
    dtype: DType = DType.FLOAT32
    """float32, or bfloat16 autocast for the forward passes."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% more compute)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "distributed", Distributed(self.distributed))
        object.__setattr__(self, "dtype", DType(self.dtype))
        check(
            self.distributed is Distributed.NONE or importlib.util.find_spec("deepspeed") is not None,
            "distributed",
            f"{self.distributed} needs DeepSpeed, which is not installed: {DEEPSPEED_INSTALL_HINT} (or set it to none)",
        )
        check(bool(_DEVICE.match(self.device)), "device", f"not a torch device: {self.device!r} (cpu, cuda, cuda:1, ...)")


def require_deepspeed(distributed: Distributed | str) -> None:
    """Raise `ImportError` naming the install command when ``deepspeed`` is not importable."""
    if importlib.util.find_spec("deepspeed") is None:
        raise ImportError(
            f"strategy.distributed={Distributed(distributed).value} needs DeepSpeed, which is not installed: "
            f"{DEEPSPEED_INSTALL_HINT} (or set strategy.distributed=none)"
        )
