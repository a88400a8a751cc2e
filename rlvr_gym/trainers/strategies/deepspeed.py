"""`DeepSpeedStrategy`: the `Strategy` for ``strategy.distributed: zero2 | zero3`` (DeepSpeed ZeRO).

One process per device, started by a launcher (``deepspeed --num_gpus N``, ``torchrun
--nproc_per_node N``); a lone process with no launcher variables runs as a world of one. Every
rank runs the same loop on its own share of the data; gradients are **averaged over ranks**
(so each rank's loss is its local token mean, scaled for accumulation as `SingleDevice` expects).

How the `Strategy` protocol maps onto DeepSpeed:

- `DeepSpeedStrategy.prepare` calls ``deepspeed.initialize`` with the config of `deepspeed_config`:
  ZeRO stage 2 (optimizer state and gradients sharded) or 3 (parameters too), AdamW (torch's
  implementation, ``torch_adam: true``: no compiled DeepSpeed op is needed on CPU or GPU),
  ``gradient_clipping`` = `OptimizerConfig.max_grad_norm`, bf16 mixed precision on CUDA when
  ``dtype: bfloat16`` (bf16 weights and gradients, fp32 master weights and Adam state in the ZeRO
  partitions; on CPU, ``bfloat16`` is autocast over fp32 weights, as in `SingleDevice`), and the
  `rlvr_gym.trainers.strategies.lr_lambda` schedule (a ``LambdaLR`` stepped by the engine).
- **Gradient accumulation is the loop's**, not DeepSpeed's: the config sets
  ``gradient_accumulation_steps: 1`` and ``managed_gradient_accumulation: false``, so
  ``trainable.backward(loss)`` (``engine.backward``) only accumulates this rank's gradient of the
  already-weighted ``loss`` (ZeRO-2/3 reduce-scatter it into the rank's partition), and
  ``trainable.step()`` (``engine.step``) is the boundary: it finishes the reduction, clips, steps
  AdamW and the schedule and zeroes the gradients. Any number of ``backward`` calls per ``step``
  works; every rank must make the same number of ``step`` calls (they are collective).
  ``train_micro_batch_size_per_gpu`` is 1: DeepSpeed only uses it to count samples.
- ``trainable.module`` is the **DeepSpeed engine** (a ``torch.nn.Module`` whose forward is the
  model's): forward passes must go through it (the engine arms its backward hooks there; under
  ZeRO-3 it gathers the partitioned parameters). Its ``named_parameters()`` carry a ``module.``
  prefix and, under ZeRO-3, hold empty partitions: use `DeepSpeedStrategy.full_named_parameters`
  to read the weights (rollout-engine sync) and `unwrap` for the Hugging Face model itself.
- `DeepSpeedStrategy.prepare_frozen` (the reference): ZeRO-2 places a full replica on each device;
  ZeRO-3 shards it with an optimizer-less ZeRO-3 engine (returned, so forward through it). bf16
  runs cast the reference to bf16 too, so that it computes exactly what the starting policy does.
- `DeepSpeedStrategy.save_pretrained` is **collective** (call it on every rank): ZeRO-3 gathers the
  parameters (``deepspeed.zero.GatheredParameters``), rank 0 writes an ordinary Hugging Face
  folder (``module.save_pretrained``: `ValueModel` included), every rank waits for it. Weights are
  saved in the training dtype (bf16 under bf16 mixed precision; the fp32 masters live in the
  optimizer state).
- ``trainable.state_dict()`` is **this rank's** share: its ZeRO optimizer partition (Adam moments
  and fp32 master weights), the schedule, the engine's counters, and the rank, world size and
  stage it belongs to. Each rank must save and reload its own (e.g. ``trainer_state.rank{r}.pt``),
  with the same world size and stage; `load_state_dict` checks that. It restores the fp32
  masters exactly (no rounding through bf16), so resuming continues bit for bit when the model
  weights are the Hugging Face folder saved at the same step (which `save_pretrained` writes).

Needs ``deepspeed`` (`DEEPSPEED_INSTALL_HINT`). On CPU it runs with
``DS_ACCELERATOR=cpu`` (set here when the device is ``cpu``) and the gloo backend; on CUDA, nccl.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import socket
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from torch import Tensor

from ...config import deep_merge
from ..algorithms.ppo import ema_update
from .base import enable_gradient_checkpointing, lr_lambda
from .config import Distributed, DType, OptimizerConfig, StrategyConfig, require_deepspeed

__all__ = [
    "DeepSpeedStrategy",
    "DeepSpeedTrainable",
    "deepspeed_config",
]

_STAGES = {Distributed.ZERO2: 2, Distributed.ZERO3: 3}
_LAUNCHER_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def deepspeed_config(
    config: StrategyConfig,
    optim: OptimizerConfig,
    lr: float,
    *,
    train: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The DeepSpeed config dict for ``config`` (see the module docstring); ``train=False``: no optimizer (a frozen model).

    ``overrides`` are merged in last, recursively (e.g. ``{"zero_optimization": {"stage3_param_persistence_threshold": 0}}``).
    """
    stage = _STAGES.get(config.distributed)
    if stage is None:
        raise ValueError(f"deepspeed_config: distributed={config.distributed.value} is not a ZeRO stage")
    on_cuda = torch.device(config.device).type == "cuda"
    ds: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": 1,
        "managed_gradient_accumulation": False,
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
        "zero_optimization": {"stage": stage},
        "bf16": {"enabled": on_cuda and config.dtype is DType.BFLOAT16},
    }
    if train:
        ds["gradient_clipping"] = float(optim.max_grad_norm) if optim.max_grad_norm is not None else 0.0
        ds["optimizer"] = {
            "type": "AdamW",
            "params": {
                "lr": lr,
                "betas": [float(optim.betas[0]), float(optim.betas[1])],
                "eps": optim.eps,
                "weight_decay": optim.weight_decay,
                "torch_adam": True,
            },
        }
    return deep_merge(ds, overrides or {})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_copy(value: Any) -> Any:
    """A deep copy of a state dict with every tensor detached and moved to CPU (a snapshot, not a view)."""
    if isinstance(value, Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu_copy(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_cpu_copy(v) for v in value)
    return copy.deepcopy(value)


@contextlib.contextmanager
def _checkpoint_event(optimizer: Any) -> Iterator[None]:
    """Bracket reading or restoring a ZeRO optimizer's state with its checkpoint hooks (when it has them)."""
    prologue = getattr(optimizer, "checkpoint_event_prologue", None)
    epilogue = getattr(optimizer, "checkpoint_event_epilogue", None)
    if prologue is not None:
        prologue()
    try:
        yield
    finally:
        if epilogue is not None:
            epilogue()


class DeepSpeedTrainable:
    """`Trainable` of `DeepSpeedStrategy`: a DeepSpeed engine; ``module`` is the engine itself (forward through it)."""

    def __init__(self, engine: Any, stage: int):
        self.engine = engine
        self.module: torch.nn.Module = engine
        self.stage = stage

    def backward(self, loss: Tensor) -> None:
        # gradient_accumulation_steps is 1, so the engine does not rescale; unmanaged accumulation: no step here.
        self.engine.backward(loss)

    def step(self) -> float:
        self.engine.step()
        norm = self.engine.get_global_grad_norm()
        return float(norm) if norm is not None else math.nan

    @property
    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def state_dict(self) -> dict[str, Any]:
        """This rank's optimizer partition, schedule and counters (a CPU snapshot); see the module docstring."""
        engine = self.engine
        with _checkpoint_event(engine.optimizer):
            zero_state = _cpu_copy(engine.optimizer.state_dict())
        return {
            "format": "deepspeed-zero",
            "zero_stage": self.stage,
            "rank": engine.global_rank,
            "world_size": engine.world_size,
            "optimizer": zero_state,
            "lr_scheduler": _cpu_copy(engine.lr_scheduler.state_dict()),
            "global_steps": engine.global_steps,
            "global_samples": engine.global_samples,
            "skipped_steps": engine.skipped_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned on this same rank (same world size and ZeRO stage)."""
        engine = self.engine
        if state.get("format") != "deepspeed-zero":
            raise ValueError("DeepSpeedTrainable.load_state_dict: not a DeepSpeed state (saved by another strategy?)")
        expected = {"zero_stage": self.stage, "rank": engine.global_rank, "world_size": engine.world_size}
        found = {key: state.get(key) for key in expected}
        if found != expected:
            raise ValueError(
                f"DeepSpeedTrainable.load_state_dict: state saved as {found}, this process is {expected}: "
                "resume with the same number of processes and the same strategy.distributed"
            )
        with _checkpoint_event(engine.optimizer):
            # ZeRO optimizers take one state per rank and read entry [dp_rank]: only this rank's is needed.
            engine.optimizer.load_state_dict(
                [state["optimizer"]] * engine.world_size, load_optimizer_states=True, load_from_fp32_weights=True
            )
        engine.lr_scheduler.load_state_dict(state["lr_scheduler"])
        engine.global_steps = state["global_steps"]
        engine.global_samples = state["global_samples"]
        engine.skipped_steps = state["skipped_steps"]


class DeepSpeedStrategy:
    """DeepSpeed ZeRO-2/3 over every process of the launch (see the module docstring).

    ``ds_overrides`` are merged into every DeepSpeed config this strategy builds (tests use it to
    force ZeRO-3 to partition even tiny parameters).
    """

    def __init__(self, config: StrategyConfig, ds_overrides: Mapping[str, Any] | None = None):
        if config.distributed not in _STAGES:
            raise ValueError(f"DeepSpeedStrategy: distributed must be zero2 or zero3, got {config.distributed.value}")
        require_deepspeed(config.distributed)
        self.config = config
        self.stage = _STAGES[config.distributed]
        self.ds_overrides = dict(ds_overrides or {})
        requested = torch.device(config.device)
        if requested.type not in ("cpu", "cuda"):
            raise ValueError(f"strategy.device: DeepSpeed runs on cpu or cuda, got {config.device!r}")
        if requested.type == "cpu":
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
        if not all(name in os.environ for name in _LAUNCHER_VARS) and not torch.distributed.is_initialized():
            # No launcher: a world of one (the same code path, handy on one GPU).
            for name, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
                os.environ.setdefault(name, value)
            os.environ.setdefault("MASTER_PORT", str(_free_port()))

        import deepspeed
        from deepspeed.accelerator import get_accelerator

        logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
        accelerator = get_accelerator().device_name()
        if accelerator != requested.type:
            raise RuntimeError(
                f"strategy.device={config.device} but DeepSpeed's accelerator is {accelerator!r}: "
                f"set DS_ACCELERATOR={requested.type} before DeepSpeed is first imported"
            )
        self._deepspeed = deepspeed
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if requested.type == "cuda":
            world = int(os.environ.get("WORLD_SIZE", "1"))
            if requested.index is not None and world > 1:
                raise ValueError(
                    f"strategy.device={config.device}: with {world} processes each uses cuda:LOCAL_RANK; set strategy.device=cuda"
                )
            index = requested.index if requested.index is not None else self.local_rank
            torch.cuda.set_device(index)
            self._device = torch.device("cuda", index)
        else:
            self._device = torch.device("cpu")
        deepspeed.init_distributed(dist_backend="nccl" if requested.type == "cuda" else "gloo")
        self.rank = torch.distributed.get_rank()
        self.world_size = torch.distributed.get_world_size()

    # -- the Strategy protocol -------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files."""
        return self.rank == 0

    @property
    def bf16(self) -> bool:
        """bf16 mixed precision in DeepSpeed (CUDA and ``dtype: bfloat16``)."""
        return self._device.type == "cuda" and self.config.dtype is DType.BFLOAT16

    def prepare(self, module: torch.nn.Module, lr: float, optim: OptimizerConfig, total_updates: int) -> DeepSpeedTrainable:
        module.to(device=self._device, dtype=torch.float32)
        if self.config.gradient_checkpointing:
            enable_gradient_checkpointing(module)
        module.train()
        params = [p for p in module.parameters() if p.requires_grad]
        factor = lr_lambda(optim, total_updates)
        engine, _, _, _ = self._deepspeed.initialize(
            model=module,
            model_parameters=params,
            config=deepspeed_config(self.config, optim, lr, overrides=self.ds_overrides),
            lr_scheduler=lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, factor),
        )
        return DeepSpeedTrainable(engine, self.stage)

    def prepare_frozen(self, module: torch.nn.Module) -> torch.nn.Module:
        dtype = torch.bfloat16 if self.bf16 else torch.float32
        module.to(device=self._device, dtype=dtype).eval()
        module.requires_grad_(False)
        if self.stage < 3:
            return module
        engine, _, _, _ = self._deepspeed.initialize(
            model=module,
            config=deepspeed_config(self.config, OptimizerConfig(), 1.0, train=False, overrides=self.ds_overrides),
        )
        engine.eval()
        return engine

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.config.dtype is DType.BFLOAT16:
            return torch.autocast(device_type=self._device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def save_pretrained(self, module: torch.nn.Module, path: Path) -> None:
        """Collective: every rank calls it; rank 0 writes ``module`` (gathered under ZeRO-3) as a Hugging Face folder."""
        model = self.unwrap(module)
        save = getattr(model, "save_pretrained", None)
        if save is None:
            raise TypeError(f"save_pretrained: {type(model).__name__} has no save_pretrained method")
        with self._gathered(list(model.parameters())):
            if self.is_main:
                save(path)
        self.barrier()

    # -- beyond the protocol ---------------------------------------------------------------------

    def unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """The model inside a DeepSpeed engine (``module`` itself when it is not one)."""
        return module.module if isinstance(module, self._deepspeed.DeepSpeedEngine) else module

    def full_named_parameters(self, module: torch.nn.Module) -> Iterator[tuple[str, Tensor]]:
        """``(name, full tensor)`` of the model's parameters, names as the model's own (no ``module.`` prefix).

        ZeRO-3 gathers one parameter at a time and yields a copy; ZeRO-2 yields the (replicated)
        parameters themselves, detached. On this rank's device, in the training dtype. Collective under
        ZeRO-3: every rank must run the iterator to its end. This is what a rollout engine's ``load_weights`` should be given.
        """
        model = self.unwrap(module)
        for name, param in model.named_parameters():
            if self.stage < 3:
                yield name, param.detach()  # replicated: the parameter itself, no copy
                continue
            with self._gathered([param]):
                tensor = param.detach().clone()
            yield name, tensor

    def barrier(self) -> None:
        """Wait for every rank."""
        torch.distributed.barrier()

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """``tensor`` summed over the ranks, on ``tensor``'s device (reduced on this rank's device: nccl needs CUDA)."""
        out = tensor.detach().to(self._device, copy=True)
        torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
        return out.to(tensor.device)

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` in rank order (``all_gather_object``)."""
        out: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def ema_update(self, target: torch.nn.Module, source: torch.nn.Module, decay: float) -> None:
        """EMA of the full parameters. ZeRO-3 gathers one target/source pair at a time (memory: one
        full parameter each), updates it, and re-partitions the target from rank 0's copy; every rank
        computes the same update, so every rank must call this."""
        target_params = list(self.unwrap(target).parameters())
        source_params = list(self.unwrap(source).parameters())
        if self.stage < 3:
            ema_update(target_params, source_params, decay)
            return
        if len(target_params) != len(source_params):
            raise ValueError(f"ema_update: {len(target_params)} target parameters but {len(source_params)} source ones")
        zero = self._deepspeed.zero
        for t, s in zip(target_params, source_params):
            with zero.GatheredParameters([s], modifier_rank=None), zero.GatheredParameters([t], modifier_rank=0):
                ema_update([t.data], [s.data], decay)

    def _gathered(self, params: list[torch.nn.Parameter]) -> contextlib.AbstractContextManager[Any]:
        if self.stage < 3:
            return contextlib.nullcontext()
        return self._deepspeed.zero.GatheredParameters(params, modifier_rank=None)
