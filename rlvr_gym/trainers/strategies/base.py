"""The seam between the PPO loop and how models are placed and optimized.

The loop never calls ``optimizer.step()`` or ``loss.backward()`` itself: it asks a `Strategy` to
`Strategy.prepare` each trained model (policy, value model) into a `Trainable`, then calls
``trainable.backward(loss)`` per micro-batch and ``trainable.step()`` per mini-batch, and
``strategy.save_pretrained`` / ``trainable.state_dict()`` to checkpoint. Frozen models (the
reference) go through `Strategy.prepare_frozen`.

`SingleDevice` (``single``): one process, one device, AdamW and a LambdaLR schedule, optional bf16
autocast and gradient checkpointing. `DeepSpeedStrategy` (``deepspeed``): DeepSpeed
ZeRO-2/3 over the processes of a launch (``deepspeed --num_gpus N``); ``prepare`` calls
``deepspeed.initialize`` (the engine does backward/step, clipping and the schedule),
``prepare_frozen`` shards the reference under ZeRO-3, ``save_pretrained`` gathers partitioned
parameters on rank 0, and ``state_dict`` is each rank's own optimizer partition (see that module).
`StrategyConfig.distributed` selects one (see `make_strategy`).

This module holds what both share: the `Strategy` and `Trainable` protocols, the schedule
(`lr_lambda`) and `enable_gradient_checkpointing`; ``config`` the torch-free settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
from torch import Tensor

from .config import OptimizerConfig, Scheduler, StrategyConfig

__all__ = ["Strategy", "Trainable", "enable_gradient_checkpointing", "lr_lambda"]


def lr_lambda(config: OptimizerConfig, total_updates: int) -> Callable[[int], float]:
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


def enable_gradient_checkpointing(module: torch.nn.Module) -> None:
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
