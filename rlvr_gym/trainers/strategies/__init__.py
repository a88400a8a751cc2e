"""How trained models are placed, optimized, saved and synchronised: the `Strategy` seam.

``config`` (settings; no torch), ``base`` (the `Strategy` and `Trainable` protocols and what the
strategies share), ``single`` (`SingleDevice`), ``deepspeed`` (`DeepSpeedStrategy`, ZeRO-2/3).
Importing this package loads no torch: `make_strategy` imports the one it builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import DEEPSPEED_INSTALL_HINT, Distributed, DType, OptimizerConfig, Scheduler, StrategyConfig, require_deepspeed

if TYPE_CHECKING:
    from .base import Strategy

__all__ = [
    "DEEPSPEED_INSTALL_HINT",
    "DType",
    "Distributed",
    "OptimizerConfig",
    "Scheduler",
    "StrategyConfig",
    "make_strategy",
    "require_deepspeed",
]


def make_strategy(config: StrategyConfig) -> Strategy:
    """The `Strategy` that ``config.distributed`` names."""
    if config.distributed is Distributed.NONE:
        from .single import SingleDevice

        return SingleDevice(config)
    require_deepspeed(config.distributed)
    from .deepspeed import DeepSpeedStrategy

    return DeepSpeedStrategy(config)
