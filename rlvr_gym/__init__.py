"""rlvr-gym: reinforcement learning with verifiable rewards.

Layers, arrows pointing down: ``trainers`` -> ``envs`` -> ``verifiers``.
``import rlvr_gym`` is light (no torch); it registers the built-in tasks and their
Gymnasium ids. Task helpers are exposed lazily: ``rlvr_gym.register_task``,
``rlvr_gym.TaskSpec``, ``rlvr_gym.make_env``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_ENV_EXPORTS = {"register_task", "TaskSpec", "get_task", "list_tasks", "RLVREnv", "RLVRVectorEnv", "FileSource", "PromptFormat"}


def __getattr__(name: str) -> Any:
    if name in _ENV_EXPORTS:
        from . import envs

        return getattr(envs, name)
    raise AttributeError(f"module 'rlvr_gym' has no attribute {name!r}")


def _register_envs() -> None:
    try:
        import gymnasium  # noqa: F401
    except ImportError:  # the verifiers layer works alone
        return
    from . import envs  # noqa: F401


_register_envs()
