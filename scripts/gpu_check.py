"""Helper of ``scripts/gpu_check.sh`` (see its header); every subcommand exits non-zero on failure.

    python scripts/gpu_check.py preflight [--strategy none|zero2|zero3]  # versions, CUDA, bf16, imports
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
    for name in (
        "torch",
        "transformers",
        "tokenizers",
        "safetensors",
        "deepspeed",
        "vllm",
        "tensorboard",
        "yaml",
        "gymnasium",
        "math_verify",
    ):
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
    for module in ("rlvr_gym.trainers.train", "rlvr_gym.trainers.config", "rlvr_gym.envs"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            problems.append(f"{module}: {exc}")
    if strategy != "none":
        from rlvr_gym.trainers.strategies import require_deepspeed

        try:
            require_deepspeed(strategy)
        except ImportError as exc:
            problems.append(str(exc))
    if not problems:
        from rlvr_gym.envs import get_task

        get_task("arithmetic").build_verifier(10.0)
    if problems:
        print("FAIL: missing pieces on this machine:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("preflight ok")
    return 0


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
    for key in (
        "completed",
        "interrupted",
        "step",
        "total_steps",
        "task",
        "eval_size",
        "accuracy_before",
        "accuracy_after",
        "accuracy_gain",
        "checkpoint",
    ):
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
                "rewards/mean", "verifier/correct", "kl/ref", "response/length", "response/eos_rate", "loss/policy",
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
    p = sub.add_parser("verify")
    p.add_argument("run_dir", type=Path)
    p.add_argument("overrides", nargs="*")
    sub.add_parser("summary").add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "preflight":
        return preflight(args.strategy)
    if args.command == "verify":
        return verify(args.run_dir, args.overrides)
    return summary(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
