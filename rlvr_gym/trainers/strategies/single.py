"""`SingleDevice`: the `Strategy` of one process on one device (CPU runs, one-GPU runs)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..algorithms.ppo import ema_update
from .base import Trainable, enable_gradient_checkpointing, lr_lambda
from .config import DType, OptimizerConfig, StrategyConfig

__all__ = ["SingleDevice"]


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
            enable_gradient_checkpointing(module)
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
