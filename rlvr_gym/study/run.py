"""``rlvr-gym study``: the whole study, from a `StudyConfig` to ``results.md`` and ``study.png``.

1. plan every cell (arm x seed) and validate every stage's config (`rlvr_gym.study.cells.plan`), before anything
   runs; write ``RUN_DIR/study.yaml``;
2. per seed, the embedded default's SFT checkpoint ``RUN_DIR/seed-S/sft`` (built once, reused on resume);
3. every cell's stages, one subprocess each: ``rlvr-gym train|iterate-dpo --run-dir ... --set ...`` (the exact
   command in the stage's ``command.txt``, its console in ``console.log``). A finished stage (its ``summary.json``
   says completed) is skipped; an interrupted one continues from its newest checkpoint (``--resume``);
4. ``results.json`` (one row per cell), ``results.md`` (the table and the claims) and ``study.png``
   (`rlvr_gym.study.report`), rewritten after every cell, so a stopped study still has its table so far.

Ctrl-C reaches the running stage too: it saves a checkpoint and exits; the study then stops, and the same command
resumes it.
"""

from __future__ import annotations

import functools
import json
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import to_dict
from .cells import Cell, Stage, plan, sft_dir, shared_task
from .config import StudyConfig
from .report import write_report

__all__ = ["StudyError", "StudyResult", "run_study", "resolve_study_dir", "study_device"]

_print = functools.partial(print, flush=True)


class StudyError(RuntimeError):
    """A stage failed (its console log is named), or the study folder belongs to another study."""


@dataclass(frozen=True)
class StudyResult:
    run_dir: Path
    completed: bool
    """False when interrupted (Ctrl-C): the same command resumes."""
    rows: list[dict[str, Any]]
    """One per finished cell (``results.json``)."""


def study_device(config: StudyConfig) -> str:
    """``config.device``, or cuda when a GPU is visible, else cpu."""
    if config.device is not None:
        return config.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_study_dir(config: StudyConfig) -> Path:
    """``run_dir``, or ``runs/study-<date>-<time>``."""
    return Path(config.run_dir) if config.run_dir is not None else Path("runs") / time.strftime("study-%Y%m%d-%H%M%S")


def _claim_folder(study_dir: Path, config: StudyConfig) -> None:
    """Write ``study.yaml``; refuse a folder that holds another study's (a changed budget would mix results)."""
    text = yaml.safe_dump(to_dict(config), sort_keys=False)
    path = study_dir / "study.yaml"
    if path.is_file() and path.read_text() != text:
        old = yaml.safe_load(path.read_text())
        new = yaml.safe_load(text)
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in ("seeds", "arms", "cell_timeout_s"))
        if changed:
            raise StudyError(f"{study_dir} holds a study with other {', '.join(changed)}: give a new run_dir, or the same config")
    study_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _build_sft(config: StudyConfig, study_dir: Path, seed: int, log: Any) -> float:
    """Step 2: the seed's SFT checkpoint, exactly as ``rlvr-gym train`` builds it for ``model.path: null`` (built
    once, then reused); returns the seconds its building took."""
    from ..trainers.sft import model_or_sft
    from ..trainers.train import quiet_libraries, seed_everything

    folder = sft_dir(study_dir, seed)
    summary_path = folder.parent / "sft_summary.json"
    if (folder / "config.json").is_file() and summary_path.is_file():
        return json.loads(summary_path.read_text())["seconds"]
    task, sft = shared_task(config)
    quiet_libraries()
    started = time.perf_counter()
    seed_everything(seed)
    path = model_or_sft(None, folder.parent, task, sft, seed, log=lambda line: log(f"seed {seed}: {line}"))
    seconds = time.perf_counter() - started
    summary_path.write_text(json.dumps({"checkpoint": str(path), "seconds": seconds}) + "\n")
    return seconds


def _summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _has_progress(stage: Stage) -> bool:
    """Whether an earlier attempt left something to resume from."""
    if stage.command == "train":
        from ..trainers.checkpoint import latest_checkpoint

        return latest_checkpoint(stage.run_dir) is not None
    return (stage.run_dir / "round-0").is_dir()


def _stage_command(stage: Stage, start: Path) -> list[str]:
    command = [sys.executable, "-m", "rlvr_gym.cli", stage.command, "--run-dir", str(stage.run_dir)]
    for override in (f"model.path={start}", *stage.overrides):
        command += ["--set", override]
    if _has_progress(stage):
        command.append("--resume")
    return command


def _run_stage(stage: Stage, start: Path, timeout_s: float | None) -> tuple[str, float]:
    """Run one stage to its end; returns ``("done" | "interrupted", seconds of this attempt)``."""
    stage.run_dir.mkdir(parents=True, exist_ok=True)
    command = _stage_command(stage, start)
    (stage.run_dir / "command.txt").write_text(shlex.join(command) + "\n")
    started = time.perf_counter()
    with open(stage.run_dir / "console.log", "a") as console:
        console.write(f"$ {shlex.join(command)}\n")
        console.flush()
        process = subprocess.Popen(command, stdout=console, stderr=subprocess.STDOUT)
        try:
            rc = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # the run saves a checkpoint and exits
            process.wait()
            raise StudyError(f"{stage.run_dir}: still running after cell_timeout_s={timeout_s:.0f} s; stopped (it saved)") from None
        except KeyboardInterrupt:  # the run got the same Ctrl-C: let it save
            process.wait()
            return "interrupted", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if rc == 130:
        return "interrupted", seconds
    summary = _summary(stage.run_dir)
    if rc != 0 or summary is None or not summary.get("completed"):
        tail = "".join((stage.run_dir / "console.log").read_text().splitlines(keepends=True)[-15:])
        raise StudyError(f"{stage.command} in {stage.run_dir} failed (exit {rc}); the end of its console.log:\n{tail}")
    return "done", seconds


def _timing(stage: Stage) -> dict[str, Any]:
    path = stage.run_dir / "study_timing.json"
    return json.loads(path.read_text()) if path.is_file() else {"seconds": 0.0, "attempts": 0}


def _row(cell: Cell, study_dir: Path) -> dict[str, Any]:
    first, last = _summary(cell.stages[0].run_dir) or {}, _summary(cell.stages[-1].run_dir) or {}
    before, after = first.get("accuracy_before"), last.get("accuracy_after")
    row = {
        "arm": cell.arm.value,
        "seed": cell.seed,
        "responses": cell.responses,
        "accuracy_before": before,
        "accuracy_after": after,
        "gain": None if before is None or after is None else after - before,
        "seconds": sum(_timing(stage)["seconds"] for stage in cell.stages),
        "run_dir": str(cell.run_dir.relative_to(study_dir)),
    }
    if len(cell.stages) > 1:
        row["accuracy_between"] = first.get("accuracy_after")
    rounds = [json.loads(p.read_text()) for s in cell.stages for p in sorted(s.run_dir.glob("round-*/pairs_summary.json"))]
    if rounds:  # DPO: the pairs trained on, and the candidates the noisy-pair filters removed
        row["pairs"] = sum(r["pairs"] for r in rounds)
        row["pairs_filtered_out"] = sum(sum(r["dropped"].values()) + r["groups"]["no_finished_correct"] for r in rounds)
    return row


def _done(cell: Cell) -> bool:
    return all((_summary(stage.run_dir) or {}).get("completed") for stage in cell.stages)


def run_study(config: StudyConfig, log: Any = _print) -> StudyResult:
    """Run (or resume) the study; see the module docstring."""
    # 1. plan and validate every stage before anything runs
    study_dir = resolve_study_dir(config)
    device = study_device(config)
    cells = plan(config, study_dir, device)
    _claim_folder(study_dir, config)
    done = sum(_done(cell) for cell in cells)
    log(
        f"study: {len(cells)} runs ({len(config.arms)} arms x {len(config.seeds)} seeds), {config.budget} sampled responses "
        f"each, device {device}, in {study_dir}" + (f"; {done} finished earlier" if done else "")
    )
    rows = [_row(cell, study_dir) for cell in cells if _done(cell)]
    # 2. the SFT checkpoint of each seed
    sft_seconds = {}
    for seed in config.seeds:
        try:
            sft_seconds[seed] = _build_sft(config, study_dir, seed, log)
        except KeyboardInterrupt:
            log("interrupted during SFT: run the same command to resume")
            return StudyResult(study_dir, False, rows)
    # 3. the cells, stage by stage
    for index, cell in enumerate(cells, 1):
        if _done(cell):
            continue
        label = f"[{index:>{len(str(len(cells)))}}/{len(cells)}] seed {cell.seed} {cell.arm.value}"
        start = sft_dir(study_dir, cell.seed)
        for stage in cell.stages:
            summary = _summary(stage.run_dir)
            if summary is None or not summary.get("completed"):
                log(f"{label}: rlvr-gym {stage.command} ({stage.responses} responses) -> {stage.run_dir}/console.log")
                status, seconds = _run_stage(stage, start, config.cell_timeout_s)
                timing = _timing(stage)
                timing = {"seconds": timing["seconds"] + seconds, "attempts": timing["attempts"] + 1}
                (stage.run_dir / "study_timing.json").write_text(json.dumps(timing) + "\n")
                if status == "interrupted":
                    log(f"{label}: interrupted; it saved a checkpoint. Run the same command to resume.")
                    write_report(study_dir, config, rows, sft_seconds)
                    return StudyResult(study_dir, False, rows)
                summary = _summary(stage.run_dir)
            assert summary is not None
            start = Path(summary["checkpoint"])
        row = _row(cell, study_dir)
        rows.append(row)
        gain = "" if row["gain"] is None else f"  ({100 * row['gain']:+.1f} pts)"
        log(f"{label}: held-out accuracy {row['accuracy_before']:.3f} -> {row['accuracy_after']:.3f}{gain}  {row['seconds']:.0f} s")
        # 4. the report so far
        write_report(study_dir, config, rows, sft_seconds)
    paths = write_report(study_dir, config, rows, sft_seconds)
    log(f"study finished: {paths['table']}  {paths['plot']}")
    return StudyResult(study_dir, True, rows)

