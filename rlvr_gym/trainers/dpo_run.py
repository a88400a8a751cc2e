"""``rlvr-gym dpo``, ``rlvr-gym pairs`` and ``rlvr-gym iterate-dpo``: whole runs, from a `DPOConfig` to ``summary.json``.

- `run_dpo`: the starting policy (``model.path``, or the embedded default's tiny model + SFT in
  ``RUN_DIR/sft``), the pairs of ``data.path``, DPO (`DPOTrainer`) with held-out accuracy before and after.
- `run_pairs`: K samples per train prompt from the starting policy, labelled by the task's verifier, written
  as a preference JSONL (``RUN_DIR/pairs.jsonl`` unless told) with ``pairs_summary.json`` beside it.
- `run_iterative_dpo`: ``iterate.rounds`` rounds in ``RUN_DIR/round-K/``: pairs from the current policy,
  then DPO from it with the reference reset to it (``iterate.ref=reset``) or kept (``keep``). The run's own
  ``metrics.jsonl`` holds one record per round (step K+1 after round K, with the round's mean loss, margin and
  pair accuracy; step 0 before the first). A resumed run skips finished rounds, reuses a round's pairs file
  and continues its DPO from its checkpoint.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from ..config import to_dict
from .checkpoint import latest_checkpoint, load_trainer_state, resolve_resume
from .dpo import DPOTrainer
from .dpo_config import DPOConfig, RefReset
from .models import load_causal_lm, load_tokenizer
from .preference_data import PreferencePair, TokenizedPair, read_preferences, tokenize_pair, write_preferences
from .sft import model_or_sft
from .task_engine import TaskEngine
from .tracking import MetricsLogger, read_metrics
from .train import quiet_libraries, seed_everything

__all__ = ["DPORunResult", "run_dpo", "run_iterative_dpo", "run_pairs", "tokenize_pairs"]

_print = functools.partial(print, flush=True)


@dataclass(frozen=True)
class DPORunResult:
    """What a run did."""

    run_dir: Path
    completed: bool
    """True when every step (every round) ran; False after Ctrl-C."""
    summary: dict[str, Any]
    """The contents of ``summary.json``."""


def _run_dir(config: DPOConfig, prefix: str) -> Path:
    if config.run_dir is not None:
        return Path(config.run_dir)
    if config.checkpoint.resume not in (None, "latest"):  # RUN_DIR/checkpoints/step-N
        return Path(config.checkpoint.resume).resolve().parent.parent
    return Path("runs") / time.strftime(f"{prefix}-%Y%m%d-%H%M%S")


def _setup(config: DPOConfig, prefix: str, run_dir: Path | None = None) -> Path:
    quiet_libraries()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    run_dir = run_dir or _run_dir(config, prefix)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    seed_everything(config.seed)
    return run_dir


def starting_policy(config: DPOConfig, run_dir: Path, log: Any = _print) -> Path:
    """``model.path``, or the embedded default's SFT checkpoint ``RUN_DIR/sft`` (built once, then reused)."""
    return model_or_sft(config.model.path, run_dir, config.task, config.sft, config.seed, log=log)


def tokenize_pairs(pairs: list[PreferencePair], tokenizer: Any, max_length: int | None) -> tuple[list[TokenizedPair], int]:
    """Token ids of every pair, and how many were dropped for exceeding ``max_length`` (prompt + longer response)."""
    out = [tokenize_pair(pair, tokenizer) for pair in pairs]
    if max_length is None:
        return out, 0
    kept = [p for p in out if len(p.prompt_ids) + max(len(p.chosen_ids), len(p.rejected_ids)) <= max_length]
    return kept, len(out) - len(kept)


def _load_pairs(path: str, tokenizer: Any, config: DPOConfig, log: Any, records: list[PreferencePair] | None = None) -> list[TokenizedPair]:
    pairs, dropped = tokenize_pairs(records if records is not None else read_preferences(path), tokenizer, config.data.max_length)
    log(f"{path}: {len(pairs)} pairs" + (f" ({dropped} longer than data.max_length={config.data.max_length} dropped)" if dropped else ""))
    if not pairs:
        raise ValueError(f"{path}: every pair is longer than data.max_length={config.data.max_length}")
    return pairs


def _task_engine(config: DPOConfig, model: Path, tokenizer: Any) -> TaskEngine | None:
    return TaskEngine(config, model, tokenizer) if config.eval.size else None


def _summary(trainer: DPOTrainer, completed: bool, extra: dict[str, Any]) -> dict[str, Any]:
    before = (trainer.initial_eval or {}).get("eval/accuracy")
    after = trainer.last_eval.get("eval/accuracy") if completed else None
    summary = {
        **extra,
        "completed": completed,
        "interrupted": trainer.stop.signalled,
        "step": trainer.step,
        "total_steps": trainer.total_steps,
        "pairs": len(trainer.pairs),
        "accuracy_before": before,
        "accuracy_after": after,
        "pairs_eval_before": {k: v for k, v in (trainer.initial_eval or {}).items() if k.startswith("pairs_eval/")},
        "pairs_eval_after": {k: v for k, v in trainer.last_eval.items() if k.startswith("pairs_eval/")} if completed else {},
        "checkpoint": str(latest_checkpoint(trainer.run_dir)),
        "policy_start": str(trainer.policy_path),
        "ref": str(trainer.ref_path),
    }
    if before is not None and after is not None:
        summary["accuracy_gain"] = after - before
    return summary


def run_dpo(config: DPOConfig, log: Any = _print, stop_after: int | None = None) -> DPORunResult:
    """``rlvr-gym dpo``: DPO on ``data.path`` from ``model.path`` (or the embedded default's SFT checkpoint);
    ``stop_after`` caps this call's steps."""
    started = time.perf_counter()
    assert config.data.path is not None  # checked by load_dpo_config
    # every record checked before anything is written or loaded
    records = read_preferences(config.data.path)
    eval_records = read_preferences(config.data.eval_path) if config.data.eval_path else []
    run_dir = _setup(config, "dpo")
    resume_from = resolve_resume(config.checkpoint.resume, run_dir)
    if resume_from is not None:
        state = load_trainer_state(resume_from)
        policy, ref = Path(state["policy_start"]), Path(state["ref"])
        log(f"resuming from {resume_from}")
    else:
        policy = starting_policy(config, run_dir, log)
        ref = Path(config.model.ref_path) if config.model.ref_path else policy
    tokenizer = load_tokenizer(policy)
    pairs = _load_pairs(config.data.path, tokenizer, config, log, records)
    eval_pairs = _load_pairs(config.data.eval_path, tokenizer, config, log, eval_records) if config.data.eval_path else []
    task = _task_engine(config, policy, tokenizer)
    try:
        with DPOTrainer(config, run_dir, policy, ref, pairs, eval_pairs, task, resume_from) as trainer:
            completed = trainer.train(stop_after)
            extra = {"run_dir": str(run_dir), "data": config.data.path, "loss": config.dpo.loss.value}
            extra["pairs_over_max_length"] = len(records) - len(pairs)  # dropped by data.max_length, counted
            summary = _summary(trainer, completed, extra)
    finally:
        if task is not None:
            task.close()
    summary["seconds"] = time.perf_counter() - started
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return DPORunResult(run_dir, completed, summary)


def run_pairs(config: DPOConfig, out: Path | None = None, round_index: int = 0, log: Any = _print) -> tuple[Path, dict[str, Any]]:
    """``rlvr-gym pairs``: label round ``round_index``'s prompts with the starting policy; returns the file and its summary."""
    run_dir = _setup(config, "pairs")
    policy = starting_policy(config, run_dir, log)
    out = out or run_dir / "pairs.jsonl"
    with TaskEngine(config, policy, load_tokenizer(policy)) as task:
        records, counts = task.pairs(round_index)
    write_preferences(out, records)
    summary = {"model": str(policy), "task": config.task.name, "round": round_index, **counts.to_json()}
    out.with_name(out.stem + "_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(counts.line())
    return out, summary


def _round_done(round_dir: Path) -> dict[str, Any] | None:
    path = round_dir / "summary.json"
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    return summary if summary.get("completed") else None


def run_iterative_dpo(config: DPOConfig, log: Any = _print) -> DPORunResult:
    """``rlvr-gym iterate-dpo``: ``iterate.rounds`` rounds of (pairs from the current policy, DPO from it)."""
    started = time.perf_counter()
    run_dir = _run_dir(config, "iterate-dpo")
    if config.checkpoint.resume is None and (run_dir / "round-0").exists():
        raise ValueError(f"{run_dir} already holds rounds: continue it with --resume, or give a new --run-dir")
    _setup(config, "iterate-dpo", run_dir)
    start = starting_policy(config, run_dir, log)
    tokenizer = load_tokenizer(start)
    keep_ref = Path(config.model.ref_path) if config.model.ref_path else start
    policy = start
    finished = 0
    while finished < config.iterate.rounds and _round_done(run_dir / f"round-{finished}") is not None:
        finished += 1
    # one record per round: step 0 before the first, step K + 1 after round K (a resumed run keeps the finished rounds')
    logger = MetricsLogger(run_dir, tensorboard=config.log.tensorboard, wandb=False, wandb_project="", start_step=finished, run_config={})
    rounds: list[dict[str, Any]] = []
    completed = True
    accuracy: dict[str, float] | None = None
    task = TaskEngine(config, start, tokenizer)
    try:
        for k in range(config.iterate.rounds):
            round_dir = run_dir / f"round-{k}"
            done = _round_done(round_dir)
            if done is not None:  # a finished round of a resumed run
                rounds.append(done)
                policy = Path(done["checkpoint"])
                accuracy = {"eval/accuracy": done["accuracy_after"]} if done.get("accuracy_after") is not None else None
                continue
            round_dir.mkdir(parents=True, exist_ok=True)
            if policy != start:  # the engine started from the run's first policy
                task.sync(load_causal_lm(policy))
            if accuracy is None and task.eval_items and k == 0:
                logged = [r for r in read_metrics(run_dir) if r["step"] == 0 and r.get("eval/accuracy") is not None]
                if logged:  # a resumed run, round 0 unfinished: measured already
                    accuracy = {"eval/accuracy": logged[0]["eval/accuracy"]}
                else:
                    accuracy = task.evaluate()
                    logger.log(0, {"eval/accuracy": accuracy["eval/accuracy"]})
                log(f"held-out accuracy before DPO: {accuracy['eval/accuracy']:.3f}")
            pairs_file = round_dir / "pairs.jsonl"
            if not pairs_file.is_file():
                records, counts = task.pairs(k)
                if not records:
                    raise ValueError(f"round {k}: no pairs ({counts.line()}); sample more prompts or more responses per prompt")
                write_preferences(pairs_file, records)
                (round_dir / "pairs_summary.json").write_text(json.dumps(counts.to_json(), indent=2) + "\n")
                log(f"round {k}: {counts.line()}")
            pairs = _load_pairs(str(pairs_file), tokenizer, config, lambda _: None)
            ref = policy if config.iterate.ref is RefReset.RESET else keep_ref
            resume_from = latest_checkpoint(round_dir)
            with DPOTrainer(config, round_dir, policy, ref, pairs, (), task, resume_from, initial_eval=accuracy) as trainer:
                completed = trainer.train()
                summary = _summary(trainer, completed, {"round": k, "pairs_file": str(pairs_file)})
                means = _round_means(round_dir)
            (round_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            if not completed:
                break
            rounds.append(summary)
            policy = Path(summary["checkpoint"])
            accuracy = {"eval/accuracy": summary["accuracy_after"]} if summary["accuracy_after"] is not None else None
            pair_counts = json.loads((round_dir / "pairs_summary.json").read_text())
            logger.log(k + 1, {
                **({"eval/accuracy": summary["accuracy_after"]} if summary["accuracy_after"] is not None else {}),
                "pairs/count": float(len(pairs)),
                "pairs/sample_accuracy": pair_counts["sample_accuracy"],
                **means,
            })
            if summary["accuracy_after"] is not None:
                log(f"round {k}: held-out accuracy {summary['accuracy_after']:.3f}")
    finally:
        task.close()
        logger.close()
    first = rounds[0]["accuracy_before"] if rounds else None
    last_accuracy = rounds[-1]["accuracy_after"] if rounds and completed else None
    summary = {
        "run_dir": str(run_dir),
        "completed": completed and len(rounds) == config.iterate.rounds,
        "rounds": len(rounds),
        "ref": config.iterate.ref.value,
        "policy_start": str(start),
        "accuracy_before": first,
        "accuracy_after": last_accuracy,
        "accuracy_per_round": [r.get("accuracy_after") for r in rounds],
        "pairs_per_round": [r.get("pairs") for r in rounds],
        "checkpoint": str(policy),
        "seconds": time.perf_counter() - started,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return DPORunResult(run_dir, summary["completed"], summary)


def _round_means(run_dir: Path) -> dict[str, float]:
    """Loss, margin and pair accuracy of a round, averaged over its training steps (``RUN_DIR/metrics.jsonl``)."""
    steps = [r for r in read_metrics(run_dir) if "loss/dpo" in r]
    names = ("loss/dpo", "rewards/margin", "rewards/accuracy")
    return {name: sum(r[name] for r in steps) / len(steps) for name in names} if steps else {}
