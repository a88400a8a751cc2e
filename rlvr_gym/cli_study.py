"""``rlvr-gym study``: its sub-command, added to the parser of `rlvr_gym.cli` by `add_study_parser`."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from .config import flag_overrides, print_config

__all__ = ["add_study_parser"]


def cmd_study(args: argparse.Namespace) -> int:
    from .config import ConfigError
    from .study.cells import plan, sft_dir
    from .study.config import load_study_config
    from .study.run import resolve_study_dir, study_device

    try:
        config = load_study_config(args.config, flag_overrides(args, (("run_dir", "run_dir"),)))
        folder = resolve_study_dir(config)
        cells = plan(config, folder, study_device(config)) if args.dry_run else []  # every run's config checked here
    except ConfigError as exc:
        print(f"rlvr-gym study: config error: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print_config(config)
        return 0
    if args.dry_run:
        for cell in cells:
            for stage in cell.stages:
                start = "the previous stage's checkpoint" if stage.after_previous else str(sft_dir(folder, cell.seed))
                sets = " ".join(f"--set {shlex.quote(o)}" for o in stage.overrides)
                print(f"# seed {cell.seed} {cell.arm.value}: {stage.responses} sampled responses, from {start}")
                print(f"rlvr-gym {stage.command} --run-dir {shlex.quote(str(stage.run_dir))} {sets}")
        return 0
    from .study.run import StudyError, run_study

    try:
        result = run_study(config)
    except (StudyError, ConfigError) as exc:
        print(f"rlvr-gym study: {exc}", file=sys.stderr)
        return 1
    if not result.completed:
        print(f"interrupted: resume with the same command (--run-dir {result.run_dir})", file=sys.stderr)
        return 130
    print((result.run_dir / "results.md").read_text(), end="")
    return 0


def add_study_parser(sub: Any) -> None:
    """Add ``study`` to the sub-parsers ``sub`` of ``rlvr-gym``."""
    study = sub.add_parser(
        "study",
        help="the DPO-vs-PPO study: offline / iterative DPO, PPO and its ablations, GRPO, SFT->DPO->RLVR; 3 seeds",
        description=(
            "Trains every arm (study.arms) from the embedded default's SFT checkpoint of every seed at an equal budget "
            "of sampled responses, each as a plain rlvr-gym train / iterate-dpo run under RUN_DIR/seed-S/ARM, then "
            "writes RUN_DIR/results.md (table + the paper's claims judged), results.json and study.png. Running the "
            "same command again resumes. Defaults: rlvr_gym/trainers/configs/study.yaml."
        ),
    )
    study.add_argument("--config", default=None, help="YAML config (default: the built-in StudyConfig(); see --print-config)")
    study.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one value, e.g. --set budget=3200 (repeatable)")
    study.add_argument("--run-dir", default=None, help="the study's folder (same as --set run_dir=...); the same folder resumes")
    study.add_argument("--dry-run", action="store_true", help="check every run's config and print the commands, run nothing")
    study.add_argument("--print-config", action="store_true", help="print the validated config as YAML and exit")
    study.set_defaults(func=cmd_study)
