"""Load single modules of OpenRLHF and veRL (installed ``--no-deps``) without their package ``__init__``.

``openrlhf/__init__.py`` and ``verl/__init__.py`` (and their ``utils/__init__.py``) import torch
trainers, Ray, DeepSpeed and vLLM. The modules the tests call (``openrlhf/utils/agent.py``,
``verl/utils/import_utils.py``) need none of that, so bare package modules whose ``__path__`` is the
installed folder stand in for the packages: Python then finds and runs the real module files, and
only the ``__init__`` files are skipped. Nothing of the peers' code is replaced.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from pathlib import Path

import pytest


def load_peer_module(monkeypatch: pytest.MonkeyPatch, package: str, module: str) -> types.ModuleType:
    """Import ``package.<...>.module`` with bare modules for ``package`` and its subpackages on the way.

    Skips when the package is not installed. ``monkeypatch`` restores ``sys.modules`` afterwards.
    """
    spec = importlib.machinery.PathFinder.find_spec(package)  # looks on sys.path only, never runs the package
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed (make install puts the pinned peers in with --no-deps)")
    root = Path(next(iter(spec.submodule_search_locations)))
    parts = module.split(".")
    for name in list(sys.modules):  # drop any earlier load, so each test imports afresh
        if name == package or name.startswith(package + "."):
            monkeypatch.delitem(sys.modules, name)
    for depth in range(len(parts)):
        name = ".".join([package, *parts[:depth]])
        bare = types.ModuleType(name)
        bare.__path__ = [str(root.joinpath(*parts[:depth]))]
        bare.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        monkeypatch.setitem(sys.modules, name, bare)
    before = set(sys.modules)
    loaded = importlib.import_module(".".join([package, *parts]))
    for name in set(sys.modules) - before:  # registered, so monkeypatch removes them again
        if name == package or name.startswith(package + "."):
            monkeypatch.setitem(sys.modules, name, sys.modules.pop(name))
    return loaded
