r"""Where a PPO step's time goes, and which rollout engine to use, on the embedded default.

    python benchmarks/bench_train_step.py [--steps 8] [--model SFT_DIR] [--skip-vllm]

With the default config of ``rlvr-gym train`` (`TrainConfig()`: its model shape, task, batch
sizes, sampling), for each rollout engine (HF, then vLLM-CPU):

1. **step split**: ``--steps`` PPO steps (`PPOTrainer.train_step`, the first one untimed as a
   warm-up); the median seconds per step of generation, verification, the rollout forward passes
   (old logprobs, reference, values), the PPO update (forward/backward), the weight sync, the whole step;
2. **rollout throughput**: the same ``rollout_batch_size`` train prompts, sampled with the
   default `SamplingConfig` through the engine 5 times (after a warm-up): generated tokens/s.

The starting policy is ``--model`` (e.g. ``RUN_DIR/sft`` of a default run) or, by default, the
default tiny model after ``--sft-steps`` plain SFT steps (so responses have their trained length
and end with EOS, as in the real run). Nothing is downloaded. vLLM's start-up is timed on its own.
Prints a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

PHASES = (
    ("time/generation", "generation"),
    ("time/verification", "verification"),
    ("time/forward", "rollout forwards"),
    ("time/forward_backward", "forward/backward"),
    ("time/weight_sync", "weight sync"),
    ("time/step", "whole step"),
)


def starting_policy(work: Path, args: argparse.Namespace) -> Path:
    from rlvr_gym.envs import get_task, load_items
    from rlvr_gym.trainers.config import TrainConfig
    from rlvr_gym.trainers.sft import build_sft_checkpoint

    if args.model:
        return Path(args.model)
    config = TrainConfig()
    spec = get_task(config.task.name)
    items = load_items(spec, "train", config.task.source_options)
    sft = replace(config.sft, steps=args.sft_steps, target_accuracy=None)
    print(f"SFT of the default tiny model for {args.sft_steps} steps ...", file=sys.stderr, flush=True)
    return build_sft_checkpoint(work / "sft", spec, items, config.task, sft, seed=0, log=lambda *a: None)


def engine_config(engine: str):
    from rlvr_gym.config import load_config
    from rlvr_gym.trainers.config import TrainConfig

    overrides = ["eval.size=0", "log.progress_bar=false", "log.tensorboard=false", "log.samples=0", f"rollout.engine={engine}"]
    if engine == "vllm":
        overrides += ["rollout.vllm.max_model_len=256", "rollout.vllm.gpu_memory_utilization=0.1"]
    return load_config(TrainConfig, None, overrides)


def bench_engine(engine: str, policy: Path, work: Path, steps: int) -> tuple[dict[str, float], float, float, float]:
    """(median seconds per phase, engine start seconds, rollout tokens/s, tokens per rollout)."""
    from rlvr_gym.trainers.ppo import PPOTrainer

    config = engine_config(engine)
    run_dir = work / f"run-{engine}"
    run_dir.mkdir()
    started = time.perf_counter()
    with PPOTrainer(config, run_dir, policy) as trainer:
        setup = time.perf_counter() - started
        records = [trainer.train_step() for _ in range(steps)]
        phases = {name: statistics.median(r[name] for r in records[1:]) for name, _ in PHASES}

        items = [trainer.train_items[i] for i in trainer.collector.sampler.indices(0)]
        prompts = [trainer.prompt_text(item) for item in items]
        trainer.engine.generate(prompts, config.sampling)  # warm-up
        seconds, tokens = 0.0, 0
        for repeat in range(5):
            sampling = replace(config.sampling, seed=1000 + repeat)
            t0 = time.perf_counter()
            completions = trainer.engine.generate(prompts, sampling)
            seconds += time.perf_counter() - t0
            tokens += sum(len(c.token_ids) for c in completions)
    return phases, setup, tokens / seconds, tokens / 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="PPO steps per engine (the first is a warm-up)")
    parser.add_argument("--model", default=None, help="starting policy (default: the tiny model after --sft-steps SFT steps)")
    parser.add_argument("--sft-steps", type=int, default=150, help="SFT steps for the default starting policy")
    parser.add_argument("--skip-vllm", action="store_true", help="HF engine only")
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error("--steps must be >= 2 (the first step is a warm-up)")

    import importlib.util

    import torch

    from rlvr_gym.trainers.config import TrainConfig

    engines = ["hf"] + ([] if args.skip_vllm or importlib.util.find_spec("vllm") is None else ["vllm"])
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-step-") as tmp:
        work = Path(tmp)
        policy = starting_policy(work, args)
        for engine in engines:
            print(f"{engine}: {args.steps} PPO steps ...", file=sys.stderr, flush=True)
            results[engine] = bench_engine(engine, policy, work, args.steps)

    config = TrainConfig()
    ppo = config.ppo
    print(
        f"\n### PPO step on the embedded default ({torch.get_num_threads()} torch threads; "
        f"batch {ppo.rollout_batch_size} prompts, mini {ppo.mini_batch_size}, micro {ppo.micro_batch_size}, "
        f"{ppo.ppo_epochs} epochs, <= {config.sampling.max_new_tokens} new tokens; median of {args.steps - 1} steps)\n"
    )
    header = "| phase | " + " | ".join(f"{e} engine (s)" for e in engines) + " |"
    print(header)
    print("|" + "---|" * (len(engines) + 1))
    for name, label in PHASES:
        print(f"| {label} | " + " | ".join(f"{results[e][0][name]:.3f}" for e in engines) + " |")
    print("| engine start-up (once) | " + " | ".join(f"{results[e][1]:.1f}" for e in engines) + " |")
    print("\n### Rollout throughput (same model, same batch, 5 draws after a warm-up)\n")
    print("| engine | tokens per rollout | tokens/s |")
    print("|---|---|---|")
    for engine in engines:
        _, _, tokens_per_s, tokens = results[engine]
        print(f"| {engine} | {tokens:.0f} | {tokens_per_s:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
