"""``rlvr-gym dpo``, ``rlvr-gym pairs`` and ``rlvr-gym iterate-dpo``: their sub-commands, added to the parser of
`rlvr_gym.cli` by `add_dpo_parsers`. Heavy imports happen inside the commands (loading the config needs no torch).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .config import flag_overrides, print_config

__all__ = ["add_dpo_parsers"]


def _round_index(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a round is >= 0, got {value}")
    return value


def _dpo_config(args: argparse.Namespace, command: str) -> Any:
    """The validated `DPOConfig` of a DPO sub-command, or None after printing the error (exit 2) or the config."""
    from .config import ConfigError
    from .trainers.dpo_config import load_dpo_config

    overrides = flag_overrides(args, (("run_dir", "run_dir"), ("data", "data.path"), ("resume", "checkpoint.resume")))
    try:
        return load_dpo_config(args.config, overrides, command)  # every value checked here, before any model loads
    except ConfigError as exc:
        print(f"rlvr-gym {command}: config error: {exc}", file=sys.stderr)
        return None


def cmd_dpo(args: argparse.Namespace) -> int:
    config = _dpo_config(args, "dpo")
    if config is None:
        return 2
    if args.print_config:
        print_config(config)
        return 0
    from .trainers.dpo_run import run_dpo

    try:
        result = run_dpo(config)
    except KeyboardInterrupt:
        print("rlvr-gym dpo: interrupted before a checkpoint could be written", file=sys.stderr)
        return 130
    summary = result.summary
    for when in ("before", "after"):
        pairs = summary.get(f"pairs_eval_{when}") or {}
        if pairs:
            print(f"held-out pairs {when}: accuracy {pairs['pairs_eval/accuracy']:.3f}, margin {pairs['pairs_eval/margin']:.4f}")
    before, after = summary.get("accuracy_before"), summary.get("accuracy_after")
    if before is not None and after is not None:
        print(f"held-out accuracy (greedy): {before:.3f} -> {after:.3f} ({after - before:+.3f})")
    print(f"run: {result.run_dir}  checkpoint: {summary['checkpoint']}  ({summary['seconds']:.0f} s)")
    if not result.completed:
        print(f"interrupted at step {summary['step']}: resume with `rlvr-gym dpo ... --resume` (same config)", file=sys.stderr)
        return 130
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from pathlib import Path

    config = _dpo_config(args, "pairs")
    if config is None:
        return 2
    if args.print_config:
        print_config(config)
        return 0
    from .trainers.dpo_run import run_pairs

    out, summary = run_pairs(config, Path(args.out) if args.out else None, args.round)
    print(f"wrote {summary['pairs']} pairs to {out} (summary: {out.with_name(out.stem + '_summary.json')})")
    return 0 if summary["pairs"] else 1


def cmd_iterate_dpo(args: argparse.Namespace) -> int:
    config = _dpo_config(args, "iterate-dpo")
    if config is None:
        return 2
    if args.print_config:
        print_config(config)
        return 0
    from .trainers.dpo_run import run_iterative_dpo

    try:
        result = run_iterative_dpo(config)
    except KeyboardInterrupt:
        print("rlvr-gym iterate-dpo: interrupted before a checkpoint could be written", file=sys.stderr)
        return 130
    summary = result.summary
    per_round = ", ".join("-" if a is None else f"{a:.3f}" for a in summary["accuracy_per_round"])
    if summary["accuracy_before"] is not None:
        print(f"held-out accuracy (greedy): {summary['accuracy_before']:.3f} before, after each round: {per_round}")
    print(f"run: {result.run_dir}  policy: {summary['checkpoint']}  ({summary['seconds']:.0f} s)")
    if not result.completed:
        print("interrupted: resume with `rlvr-gym iterate-dpo ... --run-dir RUN_DIR --resume` (same config)", file=sys.stderr)
        return 130
    return 0



def add_dpo_parsers(sub: Any) -> None:
    """Add ``dpo``, ``pairs`` and ``iterate-dpo`` to the sub-parsers ``sub`` of ``rlvr-gym``."""
    def dpo_options(command: argparse.ArgumentParser, resume: bool = True) -> None:
        command.add_argument("--config", default=None, help="YAML config (default: the built-in DPOConfig(); see --print-config)")
        command.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one value, e.g. --set dpo.beta=0.2 (repeatable)")
        command.add_argument("--run-dir", default=None, help="where the run's files go (same as --set run_dir=...)")
        if resume:
            command.add_argument(
                "--resume", nargs="?", const="latest", default=None, metavar="CHECKPOINT",
                help="continue from a checkpoint folder (no value: the newest in RUN_DIR)",
            )
        command.add_argument("--print-config", action="store_true", help="print the validated config as YAML and exit")

    dpo = sub.add_parser(
        "dpo",
        help="DPO (sigmoid, ipo, dpo_norm) on a preference JSONL of prompt / chosen / rejected",
        description=(
            "Direct preference optimisation from model.path (default: the embedded tiny model + SFT) on a JSONL of "
            "{prompt, chosen, rejected} (plain text or chat messages, TRL's format); the reference is the starting "
            "model unless model.ref_path is set. Writes RUN_DIR/{config.yaml, metrics.jsonl, tensorboard/, "
            "checkpoints/step-N/, summary.json}. Ctrl-C finishes the step, saves and exits 130; --resume continues."
        ),
    )
    dpo.add_argument("--data", default=None, help="the preference JSONL (same as --set data.path=...)")
    dpo_options(dpo)
    dpo.set_defaults(func=cmd_dpo)

    pairs = sub.add_parser(
        "pairs",
        help="preference pairs labelled by a verifier: K samples per prompt, chosen = correct, rejected = wrong",
        description=(
            "Samples pairs.samples_per_prompt responses to pairs.prompts train prompts of the task from model.path "
            "(default: the embedded tiny model + SFT), verifies them, pairs correct with wrong responses (groups "
            "without contrast skipped, filters in pairs.filters) and writes a preference JSONL that `rlvr-gym dpo` reads."
        ),
    )
    pairs.add_argument("--out", default=None, help="the JSONL to write (default RUN_DIR/pairs.jsonl); counts go to OUT_summary.json")
    pairs.add_argument("--round", type=_round_index, default=0, help="which block of train prompts and seed (round K of iterate-dpo)")
    dpo_options(pairs, resume=False)
    pairs.set_defaults(func=cmd_pairs)

    iterate = sub.add_parser(
        "iterate-dpo",
        help="iterative on-policy DPO: rounds of verifier-labelled pairs from the current policy, then DPO from it",
        description=(
            "iterate.rounds rounds in RUN_DIR/round-K/: pairs from the current policy (as `rlvr-gym pairs`), then DPO "
            "from it, the reference reset to it (iterate.ref=reset) or kept (keep). No arguments: the embedded tiny "
            "model + SFT on arithmetic. --resume skips finished rounds and continues the current one."
        ),
    )
    dpo_options(iterate)
    iterate.set_defaults(func=cmd_iterate_dpo)
