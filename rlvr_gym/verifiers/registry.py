"""Verifier registry: ``get_verifier(name, alpha=...)`` and ``register_verifier``.

Built-in verifiers are registered by import path and imported on first use,
so ``import rlvr_gym.verifiers`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .base import Verifier

__all__ = ["get_verifier", "register_verifier", "list_verifiers"]

# name -> factory(alpha=..., **options) -> Verifier, or "module:attr" resolved lazily
_REGISTRY: dict[str, Callable[..., Verifier] | str] = {
    "gsm8k": "rlvr_gym.verifiers.gsm8k:GSM8KVerifier",
    "math": "rlvr_gym.verifiers.math:MathVerifier",
    "ifeval": "rlvr_gym.verifiers.ifeval:IFEvalVerifier",
    "ifeval_loose": "rlvr_gym.verifiers.ifeval:IFEvalLooseVerifier",
    "countdown": "rlvr_gym.verifiers.countdown:CountdownVerifier",
    "code": "rlvr_gym.verifiers.code:CodeVerifier",
}


def register_verifier(name: str, factory: Callable[..., Verifier], *, overwrite: bool = False) -> None:
    """Register ``factory`` (a class or function taking ``alpha=`` and returning a `Verifier`).

    Raises ``ValueError`` when ``name`` is taken, unless ``overwrite=True``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"verifier name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory for verifier {name!r} must be callable, got {type(factory).__name__}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"verifier {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = factory


def _resolve(name: str) -> Callable[..., Verifier]:
    try:
        entry = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown verifier {name!r}; registered: {known}") from None
    if isinstance(entry, str):
        module_name, attr = entry.split(":")
        entry = getattr(importlib.import_module(module_name), attr)
        _REGISTRY[name] = entry
    return entry


def get_verifier(name: str, alpha: float = 1.0, **options: Any) -> Verifier:
    """Build the verifier registered as ``name``; ``alpha`` is the score of a correct response."""
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    return _resolve(name)(alpha=float(alpha), **options)


def list_verifiers() -> list[str]:
    """Names of all registered verifiers, sorted."""
    return sorted(_REGISTRY)
