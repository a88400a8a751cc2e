"""Helper of ``scripts/gpu_check.sh`` (see its header); every subcommand exits non-zero on failure.

    python scripts/gpu_check.py preflight [--strategy none|zero2|zero3]  # versions, CUDA, bf16, imports
    python scripts/gpu_check.py cli-args KEY=VALUE...    # argv for `python -m rlvr_gym.cli` (exit 3: no `train` there)
    python scripts/gpu_check.py run KEY=VALUE...         # fallback: load_train_config + run_training in-process
    python scripts/gpu_check.py verify RUN_DIR KEY=VALUE...  # the run's config.yaml holds every override
    python scripts/gpu_check.py summary RUN_DIR          # summary.json and metrics.jsonl, in numbers
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import platform
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

NO_TRAIN_COMMAND = 3


def _version(name: str) -> str:
    if importlib.util.find_spec(name) is None:
        return "not installed"
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - report any import failure as such
        return f"import fails: {type(exc).__name__}: {exc}"
    return str(getattr(module, "__version__", "installed"))


def preflight(strategy: str) -> int:
    print(f"python       {platform.python_version()} ({sys.executable})")
    for name in ("torch", "transformers", "tokenizers", "safetensors", "deepspeed", "vllm", "tensorboard", "yaml", "gymnasium", "math_verify"):
        print(f"{name:<12} {_version(name)}")
    import torch

    if not torch.cuda.is_available():
        print("FAIL: torch.cuda.is_available() is False", file=sys.stderr)
        return 1
    count = torch.cuda.device_count()
    for i in range(count):
        props = torch.cuda.get_device_properties(i)
        print(f"cuda:{i}       {props.name}, {props.total_memory / 2**30:.0f} GiB, capability {props.major}.{props.minor}")
    print(f"cuda         {torch.version.cuda}, bf16 supported: {torch.cuda.is_bf16_supported()}")
    if not torch.cuda.is_bf16_supported():
        print("FAIL: this GPU has no bf16", file=sys.stderr)
        return 1
    problems = []
    for module in ("rlvr_gym.trainers.train", "rlvr_gym.trainers.ppo_config", "rlvr_gym.envs"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            problems.append(f"{module}: {exc}")
    if strategy != "none" and importlib.util.find_spec("deepspeed") is None:
        problems.append(f"strategy.distributed={strategy} needs deepspeed (pip install deepspeed==0.19.8)")
    if not problems:
        from rlvr_gym.envs import get_task

        get_task("arithmetic").build_verifier(10.0)
    if problems:
        print("FAIL: missing pieces on this machine:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("preflight ok")
    return 0


def cli_args(overrides: list[str]) -> int:
    """Print one argv word per line for ``python -m rlvr_gym.cli``, in the shape its ``train --set`` takes."""
    from rlvr_gym import cli

    parser = cli.build_parser()
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)  # noqa: SLF001
    train = sub.choices.get("train") if sub is not None else None
    if train is None:
        print("rlvr_gym.cli has no `train` subcommand", file=sys.stderr)
        return NO_TRAIN_COMMAND
    action = next((a for a in train._actions if "--set" in a.option_strings), None)  # noqa: SLF001
    if action is None:
        print("`rlvr_gym.cli train` has no --set option", file=sys.stderr)
        return NO_TRAIN_COMMAND
    words = ["train"]
    if isinstance(action, (argparse._AppendAction, argparse._ExtendAction)):  # noqa: SLF001
        for override in overrides:
            words += ["--set", override]
    elif action.nargs in ("+", "*", argparse.REMAINDER):
        words += ["--set", *overrides]
    else:
        print(f"`train --set` takes one value (nargs={action.nargs!r}, {type(action).__name__}): cannot pass several", file=sys.stderr)
        return 1
    print("\n".join(words))
    return 0


def run(overrides: list[str]) -> int:
    from rlvr_gym.trainers.ppo_config import load_train_config
    from rlvr_gym.trainers.train import run_training

    result = run_training(load_train_config(None, overrides))
    return 0 if result.completed else 1


def verify(run_dir: Path, overrides: list[str]) -> int:
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        print(f"FAIL: {path} was not written", file=sys.stderr)
        return 1
    config = yaml.safe_load(path.read_text())
    wrong = []
    for override in overrides:
        key, _, raw = override.partition("=")
        node = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        wanted = yaml.safe_load(raw) if raw.strip() else ""
        if str(node) != str(wanted):
            wrong.append(f"{key}: wanted {wanted!r}, the run used {node!r}")
    if wrong:
        print("FAIL: the run did not take these overrides:\n  " + "\n  ".join(wrong), file=sys.stderr)
        return 1
    print(f"config ok: the run used all {len(overrides)} overrides")
    return 0


def summary(run_dir: Path) -> int:
    path = run_dir / "summary.json"
    if not path.is_file():
        print(f"FAIL: {path} was not written", file=sys.stderr)
        return 1
    data = json.loads(path.read_text())
    for key in ("completed", "interrupted", "step", "total_steps", "task", "eval_size", "accuracy_before", "accuracy_after", "accuracy_gain", "checkpoint"):
        print(f"{key:<22} {data.get(key)}")
    for key, value in (data.get("seconds") or {}).items():
        print(f"{'seconds/' + key:<22} {value:.1f}")
    metrics_path = run_dir / "metrics.jsonl"
    if metrics_path.is_file():
        records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
        steps = [r for r in records if "rewards/mean" in r]
        if steps:
            print(f"{'metric':<26} {'first':>10} {'last':>10} {'mean':>10}   (over {len(steps)} PPO steps)")
            for key in (
                "rewards/mean", "rewards/accuracy", "kl/ref", "response/length", "response/eos_rate", "loss/policy",
                "loss/value", "policy/clipfrac", "grad_norm/policy", "time/generation", "time/forward",
                "time/forward_backward", "time/weight_sync", "time/step",
            ):  # fmt: skip
                values = [r[key] for r in steps if isinstance(r.get(key), (int, float))]
                if values:
                    print(f"{key:<26} {values[0]:>10.4f} {values[-1]:>10.4f} {sum(values) / len(values):>10.4f}")
            bad = [k for r in steps for k, v in r.items() if isinstance(v, float) and not math.isfinite(v)]
            if bad:
                print(f"FAIL: non-finite metrics: {sorted(set(bad))}", file=sys.stderr)
                return 1
    return 0 if data.get("completed") else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preflight")
    p.add_argument("--strategy", default="none")
    sub.add_parser("cli-args").add_argument("overrides", nargs="*")
    sub.add_parser("run").add_argument("overrides", nargs="*")
    p = sub.add_parser("verify")
    p.add_argument("run_dir", type=Path)
    p.add_argument("overrides", nargs="*")
    sub.add_parser("summary").add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "preflight":
        return preflight(args.strategy)
    if args.command == "cli-args":
        return cli_args(args.overrides)
    if args.command == "run":
        return run(args.overrides)
    if args.command == "verify":
        return verify(args.run_dir, args.overrides)
    return summary(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
