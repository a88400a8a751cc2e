"""The seam between the PPO loop and how models are placed and optimized.

The loop never calls ``optimizer.step()`` or ``loss.backward()`` itself: it asks a `Strategy` to
`Strategy.prepare` each trained model (policy, value model) into a `Trainable`, then calls
``trainable.backward(loss)`` per micro-batch and ``trainable.step()`` per mini-batch, and
``strategy.save_pretrained`` / ``trainable.state_dict()`` to checkpoint. Frozen models (the
reference) go through `Strategy.prepare_frozen`.

`SingleDevice`: one process, one device, AdamW and a LambdaLR schedule, optional bf16 autocast
and gradient checkpointing. `rlvr_gym.trainers.deepspeed_strategy.DeepSpeedStrategy`: DeepSpeed
ZeRO-2/3 over the processes of a launch (``deepspeed --num_gpus N``); ``prepare`` calls
``deepspeed.initialize`` (the engine does backward/step, clipping and the schedule),
``prepare_frozen`` shards the reference under ZeRO-3, ``save_pretrained`` gathers partitioned
parameters on rank 0, and ``state_dict`` is each rank's own optimizer partition (see that module).
`StrategyConfig.distributed` selects one (see `make_strategy`).
"""

from __future__ import annotations

import contextlib
import enum
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

import torch
from torch import Tensor

from .ppo_math import ema_update

__all__ = [
    "DType",
    "Distributed",
    "OptimizerConfig",
    "Scheduler",
    "SingleDevice",
    "Strategy",
    "StrategyConfig",
    "Trainable",
    "lr_lambda",
    "make_strategy",
]


class Scheduler(str, enum.Enum):
    """Learning-rate schedule over optimizer updates, after the linear warm-up."""

    CONSTANT = "constant"
    LINEAR = "linear"
    """Linear decay to 0 at the run's last update."""

    def __str__(self) -> str:
        return self.value


class DType(str, enum.Enum):
    """Compute dtype of the trained models' forward passes (weights and optimizer state stay float32)."""

    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    """bf16 autocast around forward passes (mixed precision)."""

    def __str__(self) -> str:
        return self.value


class Distributed(str, enum.Enum):
    """How training is spread over devices."""

    NONE = "none"
    """One process, one device: `SingleDevice`."""
    ZERO2 = "zero2"
    """DeepSpeed ZeRO stage 2 (optimizer state and gradients sharded): `DeepSpeedStrategy`."""
    ZERO3 = "zero3"
    """DeepSpeed ZeRO stage 3 (parameters sharded too): `DeepSpeedStrategy`."""

    def __str__(self) -> str:
        return self.value


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
    """AdamW's ``(beta1, beta2)``."""
    eps: float = 1e-8
    """AdamW's epsilon."""
    max_grad_norm: float | None = 1.0
    """Clip each model's gradient to this global norm before a step; None: no clipping."""
    scheduler: Scheduler = Scheduler.CONSTANT
    """``constant`` or ``linear`` (to 0 at the last update), after the warm-up."""
    warmup_updates: int = 20
    """Optimizer updates of linear warm-up from 0."""

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not self.value_lr > 0:
            raise ValueError(f"value_lr must be > 0, got {self.value_lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {list(self.betas)}")
        if not self.eps > 0:
            raise ValueError(f"eps must be > 0, got {self.eps}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0 (or null), got {self.max_grad_norm}")
        if self.warmup_updates < 0:
            raise ValueError(f"warmup_updates must be >= 0, got {self.warmup_updates}")
        object.__setattr__(self, "scheduler", Scheduler(self.scheduler))


@dataclass(frozen=True)
class StrategyConfig:
    """Where and how the trained models run."""

    distributed: Distributed = Distributed.NONE
    """``none`` (`SingleDevice`); ``zero2``/``zero3``: DeepSpeed ZeRO (`DeepSpeedStrategy`; needs ``deepspeed``)."""
    device: str = "cpu"
    """Torch device of the policy, value and reference models (``cpu``, ``cuda``, ``cuda:1``)."""
    dtype: DType = DType.FLOAT32
    """``float32``, or ``bfloat16`` autocast for the forward passes."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% more compute)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "distributed", Distributed(self.distributed))
        object.__setattr__(self, "dtype", DType(self.dtype))
        if self.distributed is not Distributed.NONE and importlib.util.find_spec("deepspeed") is None:
            raise ValueError(
                f"distributed={self.distributed.value} needs DeepSpeed, which is not installed: "
                "pip install deepspeed==0.19.8 (or set strategy.distributed=none)"
            )
        try:
            torch.device(self.device)
        except RuntimeError:
            raise ValueError(f"device: not a torch device: {self.device!r}") from None


def lr_lambda(config: OptimizerConfig, total_updates: int):
    """The multiplier of the base learning rate at update ``n`` (0-based): warm-up, then constant or linear to 0."""

    def factor(n: int) -> float:
        if n < config.warmup_updates:
            return (n + 1) / config.warmup_updates
        if config.scheduler is Scheduler.CONSTANT:
            return 1.0
        decay_updates = max(1, total_updates - config.warmup_updates)
        return max(0.0, 1.0 - (n - config.warmup_updates) / decay_updates)

    return factor


class Trainable(Protocol):
    """A model being trained, with its optimizer and schedule behind it."""

    module: torch.nn.Module

    def backward(self, loss: Tensor) -> None:
        """Accumulate the gradient of ``loss`` (already scaled for accumulation by the caller)."""
        ...

    def step(self) -> float:
        """Clip, step the optimizer and the schedule, zero the gradients; returns the pre-clip gradient norm."""
        ...

    @property
    def lr(self) -> float:
        """The learning rate the next `step` uses."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Optimizer and schedule state, for the trainer checkpoint."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        ...


class Strategy(Protocol):
    """Places models, runs their optimizers, saves them (see the module docstring)."""

    config: StrategyConfig

    @property
    def device(self) -> torch.device:
        """Where inputs of the trained models must be."""
        ...

    @property
    def is_main(self) -> bool:
        """Whether this process writes files (rank 0)."""
        ...

    @property
    def rank(self) -> int:
        """This process's index among ``world_size``."""
        ...

    @property
    def world_size(self) -> int:
        """Processes training together, each on its own share of every batch."""
        ...

    def prepare(self, module: torch.nn.Module, lr: float, optim: OptimizerConfig, total_updates: int) -> Trainable:
        """Wrap a model to train with AdamW at ``lr`` and ``optim``'s schedule over ``total_updates`` updates."""
        ...

    def prepare_frozen(self, module: torch.nn.Module) -> torch.nn.Module:
        """Place a model that is only run forward (the reference), gradients off."""
        ...

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Context for forward passes (mixed precision when configured)."""
        ...

    def save_pretrained(self, module: torch.nn.Module, path: Path) -> None:
        """Write ``module`` as a Hugging Face folder (``save_pretrained``) from the main process."""
        ...

    def unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The model inside what `prepare` / `prepare_frozen` returned."""
        ...

    def full_named_parameters(self, module: torch.nn.Module) -> Iterator[tuple[str, Tensor]]:
        """The model's full parameters under its own (Hugging Face) names: what a rollout engine loads."""
        ...

    def barrier(self) -> None:
        """Wait for every process (nothing to wait for with one)."""
        ...

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """``tensor`` summed over every process (collective); ``tensor`` itself is left as it was."""
        ...

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every process's ``obj`` (picklable), in rank order (collective)."""
        ...

    def ema_update(self, target: torch.nn.Module, source: torch.nn.Module, decay: float) -> None:
        """``target = decay * target + (1 - decay) * source``, parameter by parameter (collective)."""
        ...


class _AdamWTrainable:
    """`Trainable` of `SingleDevice`: plain AdamW + LambdaLR, gradient clipping by global norm."""

    def __init__(self, module: torch.nn.Module, lr: float, optim: OptimizerConfig, total_updates: int):
        self.module = module
        self.max_grad_norm = optim.max_grad_norm
        params = [p for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params, lr=lr, betas=(optim.betas[0], optim.betas[1]), eps=optim.eps, weight_decay=optim.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(optim, total_updates))

    def backward(self, loss: Tensor) -> None:
        loss.backward()

    def step(self) -> float:
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        max_norm = self.max_grad_norm if self.max_grad_norm is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(grad_norm)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])


class SingleDevice:
    """One process, one device: the `Strategy` for CPU runs and single-GPU runs."""

    def __init__(self, config: StrategyConfig):
        self.config = config
        self._device = torch.device(config.device)

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def is_main(self) -> bool:
        return True

    @property
    def rank(self) -> int:
        return 0

    @property
    def world_size(self) -> int:
        return 1

    def prepare(self, module: torch.nn.Module, lr: float, optim: OptimizerConfig, total_updates: int) -> Trainable:
        module.to(device=self._device, dtype=torch.float32)
        if self.config.gradient_checkpointing:
            _enable_gradient_checkpointing(module)
        module.train()
        return _AdamWTrainable(module, lr, optim, total_updates)

    def prepare_frozen(self, module: torch.nn.Module) -> torch.nn.Module:
        module.to(device=self._device, dtype=torch.float32).eval()
        module.requires_grad_(False)
        return module

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.config.dtype is DType.BFLOAT16:
            return torch.autocast(device_type=self._device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def save_pretrained(self, module: torch.nn.Module, path: Path) -> None:
        save = getattr(module, "save_pretrained", None)
        if save is None:
            raise TypeError(f"save_pretrained: {type(module).__name__} has no save_pretrained method")
        save(path)

    def unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return module

    def full_named_parameters(self, module: torch.nn.Module) -> Iterator[tuple[str, Tensor]]:
        return module.named_parameters()

    def barrier(self) -> None:
        """One process: nothing to wait for."""

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        return tensor.clone()

    def gather_objects(self, obj: Any) -> list[Any]:
        return [obj]

    def ema_update(self, target: torch.nn.Module, source: torch.nn.Module, decay: float) -> None:
        ema_update(target.parameters(), source.parameters(), decay)


def _enable_gradient_checkpointing(module: torch.nn.Module) -> None:
    """Turn on HF gradient checkpointing for ``module`` or, for a wrapper, the HF models inside it."""
    targets: Iterator[torch.nn.Module] = (
        m for m in module.modules() if callable(getattr(m, "gradient_checkpointing_enable", None))
    )
    found = False
    for target in targets:
        if getattr(target, "supports_gradient_checkpointing", False):
            target.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            found = True
            break
    if not found:
        raise ValueError(f"gradient_checkpointing: {type(module).__name__} holds no model that supports it")


def make_strategy(config: StrategyConfig) -> Strategy:
    """The `Strategy` that ``config.distributed`` names."""
    if config.distributed is Distributed.NONE:
        return SingleDevice(config)
    from .deepspeed_strategy import DeepSpeedStrategy  # raises ImportError naming `pip install deepspeed==0.19.8`

    return DeepSpeedStrategy(config)
