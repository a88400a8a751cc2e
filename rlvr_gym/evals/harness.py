"""Score responses per benchmark, write reports, compare two runs.

A run directory holds, per benchmark, ``<name>.jsonl`` (one line per item: id, prompt, ground
truth, responses, verdicts), plus ``summary.json`` (metrics per benchmark) and ``summary.md``
(the same as a Markdown table). ``compare_runs(a, b)`` renders two runs side by side with the
difference per metric and, for IFEval, per instruction.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..envs import FileSource, Item, get_task, held_out_items, load_items
from ..jsonl import iter_jsonl
from ..verifiers import VerifierPool, get_verifier, verify_batch
from .metrics import ifeval_accuracies, mean_pass_at_k
from .prompts import EvalSetting

__all__ = [
    "HEADLINE",
    "TaskReport",
    "compare_runs",
    "load_eval_items",
    "load_responses",
    "read_summary",
    "render_summary",
    "score_responses",
    "write_run",
]

HEADLINE = {"ifeval": "prompt_level_strict"}
"""The metric shown first per benchmark; ``accuracy`` (mean pass@1) when not listed."""


@dataclass
class TaskReport:
    """Scores of one benchmark."""

    name: str
    metrics: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)


def _verify_all(verifier_name: str, pairs: list[tuple[str, Any]], workers: int, timeout_s: float):
    verifier = get_verifier(verifier_name)
    if workers == 0:
        return verify_batch(verifier, pairs, workers=0)
    with VerifierPool(workers=workers, timeout_s=timeout_s) as pool:
        return pool.verify(verifier, pairs)


def load_eval_items(
    name: str,
    setting: EvalSetting,
    *,
    task_file: str | Path | None = None,
    limit: int | None = None,
    source_options: Mapping[str, Any] | None = None,
) -> list[Item]:
    """The items ``setting`` evaluates: its task's split, optionally read from ``task_file``.

    ``task_file`` replaces the path of the split's `FileSource` (same fields, another file), e.g.
    the IFEval prompt file that pairs with a published set of responses. ``source_options``
    replace fields of the split's source (a procedural task's ``digits``, ``operators``...), as
    a training run sets them. ``limit`` keeps the first ``limit`` items; from a procedural source (no
    file), the first ``limit`` distinct prompts, as the trainer's held-out set (`held_out_items`).
    """
    spec = get_task(setting.task)
    if setting.split not in spec.splits:
        raise KeyError(f"task {spec.name!r} has no split {setting.split!r}; splits: {', '.join(sorted(spec.splits))}")
    if task_file is None and not isinstance(spec.splits[setting.split], FileSource):
        # a procedural source repeats problems: its first distinct prompts, the trainer's held-out set
        items = held_out_items(spec, source_options, limit, setting.split)
    elif task_file is None:
        loaded = load_items(spec, setting.split, source_options)
        items = list(loaded if limit is None else loaded[:limit])
    else:
        source = spec.splits[setting.split]
        if not isinstance(source, FileSource):
            raise ValueError(
                f"--task-file {name}=...: task {spec.name!r} split {setting.split!r} is not read from a file "
                f"(its source is {type(source).__name__}), so no file can replace it"
            )
        path = Path(task_file)
        if not path.is_file():
            raise FileNotFoundError(f"task file for {name} not found: {path}")
        items = dataclasses.replace(source, path=str(path.resolve())).load()
        if not items:
            raise ValueError(f"task file for {name} holds no items: {path}")
    return items if limit is None else items[:limit]


def _ifeval_details(verdict: Any, item: Item) -> dict[str, Any]:
    """A verdict's per-instruction details; a verdict without them (timeout, error) follows none."""
    details = verdict.details if isinstance(verdict.details, dict) else {}
    if isinstance(details.get("instructions"), list):
        return details
    ids = item.ground_truth.get("instruction_id_list", []) if isinstance(item.ground_truth, dict) else []
    return {"instructions": [{"id": str(i), "followed": False} for i in ids]}


def score_responses(
    name: str,
    setting: EvalSetting,
    items: Sequence[Item],
    prompts: Sequence[str],
    responses: Sequence[Sequence[str]],
    *,
    workers: int = 2,
    timeout_s: float = 10.0,
) -> TaskReport:
    """Verify ``responses[i]`` (K samples) against ``items[i]``; pass@k for every k <= K."""
    if not (len(items) == len(prompts) == len(responses)):
        raise ValueError(f"{name}: {len(items)} items, {len(prompts)} prompts, {len(responses)} response lists")
    if not items:
        raise ValueError(f"{name}: nothing to score")
    k_max = len(responses[0])
    if k_max == 0 or any(len(r) != k_max for r in responses):
        odd, n_odd = next((item.id, len(r)) for item, r in zip(items, responses) if len(r) != k_max or k_max == 0)
        raise ValueError(
            f"{name}: every item needs the same number (>= 1) of responses; "
            f"item {items[0].id!r} has {k_max}, item {odd!r} has {n_odd}"
        )
    spec = get_task(setting.task)
    pairs = [(response, item.ground_truth) for item, samples in zip(items, responses) for response in samples]
    verifier_name = spec.verifier
    result = _verify_all(verifier_name, pairs, workers, timeout_s)
    correct = [[v.correct for v in result.verdicts[i * k_max : (i + 1) * k_max]] for i in range(len(items))]
    pass_k = mean_pass_at_k(correct, range(1, k_max + 1))
    metrics: dict[str, Any] = {
        "items": len(items),
        "samples_per_item": k_max,
        "accuracy": pass_k[1],
        "accuracy_count": [sum(sum(map(bool, c)) for c in correct), len(items) * k_max],
        **{f"pass@{k}": value for k, value in pass_k.items()},
        "reasons": result.counts,
    }
    loose_verdicts = None
    if verifier_name == "ifeval":
        loose_verdicts = _verify_all("ifeval_loose", pairs, workers, timeout_s).verdicts
        first = slice(None, None, k_max)  # IFEval accuracies use each item's first sample
        strict_details = [_ifeval_details(v, item) for v, item in zip(result.verdicts[first], items)]
        loose_details = [_ifeval_details(v, item) for v, item in zip(loose_verdicts[first], items)]
        metrics.update(ifeval_accuracies(strict_details, loose_details))
    records = []
    for i, (item, prompt, samples) in enumerate(zip(items, prompts, responses)):
        record: dict[str, Any] = {
            "id": item.id,
            "prompt": prompt,
            "ground_truth": item.ground_truth,
            "responses": list(samples),
            "verdicts": [v.to_dict() for v in result.verdicts[i * k_max : (i + 1) * k_max]],
        }
        if loose_verdicts is not None:
            record["verdicts_loose"] = [v.to_dict() for v in loose_verdicts[i * k_max : (i + 1) * k_max]]
        records.append(record)
    return TaskReport(name, metrics, records)


def load_responses(path: str | Path, items: Sequence[Item], name: str) -> tuple[list[Item], list[list[str]]]:
    """Read ``{"id" | "prompt", "response": str | [str], "task"?: name}`` lines; match them to items.

    Lines whose ``task`` names another benchmark are skipped. A line is matched by ``id``
    when it has one, else by its ``prompt`` equal to the item's problem text. Items are
    returned in task order; only matched items are scored.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"responses file not found: {path}")
    by_id = {item.id: item for item in items}
    by_prompt = {item.prompt: item for item in items}
    found: dict[str, list[str]] = {}
    unmatched = []
    for line_no, row in iter_jsonl(path, errors="replace"):
        if not isinstance(row, dict) or "response" not in row:
            raise ValueError(f"{path}: line {line_no} needs a JSON object with a 'response' field")
        if "id" not in row and not isinstance(row.get("prompt"), str):
            raise ValueError(f"{path}: line {line_no} needs an 'id' or a 'prompt' to match it to an item")
        if row.get("task", name) != name:
            continue
        item = by_id.get(str(row["id"])) if "id" in row else by_prompt.get(row.get("prompt"))
        if item is None:
            unmatched.append(line_no)
            continue
        response = row["response"]
        samples = [response] if isinstance(response, str) else response
        if not isinstance(samples, list) or not all(isinstance(s, str) for s in samples):
            raise ValueError(f"{path}: line {line_no}: 'response' must be a string or a list of strings")
        found.setdefault(item.id, []).extend(samples)
    if not found:
        raise ValueError(
            f"{path}: no line matches an item of {name} (lines are matched by 'id' or by 'prompt' equal to the "
            f"item's problem text; {len(unmatched)} line(s) were tried)"
        )
    matched = [item for item in items if item.id in found]
    if unmatched:
        print(f"warning: {path}: {len(unmatched)} line(s) match no {name} item (first: line {unmatched[0]})", file=sys.stderr)
    if len(matched) < len(items):
        missing = len(items) - len(matched)
        print(f"warning: {path}: {missing} of {len(items)} {name} item(s) have no response and are not scored", file=sys.stderr)
    return matched, [found[item.id] for item in matched]


_COUNTS = {
    "accuracy": "accuracy_count",
    "prompt_level_strict": "prompt_count_strict",
    "inst_level_strict": "inst_count_strict",
    "prompt_level_loose": "prompt_count_loose",
    "inst_level_loose": "inst_count_loose",
}
"""Metric -> the ``[numerator, denominator]`` it was computed from, shown beside it."""


def _summary_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """The scalar metrics of one benchmark, headline first; counts ride along with their metric.

    ``pass@1`` is left out: it is ``accuracy`` (the mean over all samples).
    """
    keep = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "pass@1"}
    headline = HEADLINE.get(name, "accuracy")
    ordered = {k: keep[k] for k in ("items", "samples_per_item", headline) if k in keep}
    ordered.update(keep)
    return ordered


def _count(metrics: dict[str, Any], key: str) -> tuple[int, int] | None:
    pair = metrics.get(_COUNTS.get(key, ""))
    if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, int) for x in pair):
        return pair[0], pair[1]
    return None


def write_run(out_dir: str | Path, reports: Sequence[TaskReport], meta: dict[str, Any]) -> Path:
    """Write per-item JSONL, ``summary.json`` and ``summary.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for report in reports:
        with open(out / f"{report.name}.jsonl", "w", encoding="utf-8") as stream:
            for record in report.records:
                stream.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
    summary = {"meta": meta, "tasks": {report.name: report.metrics for report in reports}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    (out / "summary.md").write_text(render_summary(summary), encoding="utf-8")
    return out


def render_summary(summary: dict[str, Any]) -> str:
    """Markdown table: one row per benchmark and metric; rates as ``77.08% (417/541)``."""
    lines = ["| benchmark | metric | value |", "|---|---|---:|"]
    for name, metrics in summary["tasks"].items():
        for key, value in _summary_row(name, metrics).items():
            lines.append(f"| {name} | {key} | {_fmt(value, _count(metrics, key))} |")
        reasons = metrics.get("reasons")
        if isinstance(reasons, dict):
            shown = ", ".join(f"{reason}={n}" for reason, n in reasons.items() if n)
            lines.append(f"| {name} | verdicts | {shown or '-'} |")
    return "\n".join(lines) + "\n"


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} an output directory of `rlvr-gym eval`?")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc.msg})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("tasks"), dict):
        raise ValueError(f"{path} has no 'tasks' mapping: not a summary written by `rlvr-gym eval`")
    return summary


def _first_correct(run_dir: Path, name: str) -> dict[str, bool] | None:
    """Item id -> whether its first response was correct, from ``<name>.jsonl`` (None if absent)."""
    path = run_dir / f"{name}.jsonl"
    if not path.is_file():
        return None
    out = {}
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                record = json.loads(line)
                out[str(record["id"])] = bool(record["verdicts"][0]["correct"])
    return out


def compare_runs(dir_a: str | Path, dir_b: str | Path) -> str:
    """Markdown: each metric of both runs and B - A; IFEval per instruction too.

    Below the table, per benchmark in both runs: how many items' first response flipped
    between wrong and right (from the per-item files).
    """
    a, b = read_summary(dir_a), read_summary(dir_b)
    lines = [f"A = {dir_a}", f"B = {dir_b}", "", "| benchmark | metric | A | B | B - A |", "|---|---|---:|---:|---:|"]
    names = list(a["tasks"]) + [n for n in b["tasks"] if n not in a["tasks"]]
    for name in names:
        ma, mb = a["tasks"].get(name, {}), b["tasks"].get(name, {})
        for key in _summary_row(name, ma) | _summary_row(name, mb):
            va, vb = ma.get(key), mb.get(key)
            ca, cb = _count(ma, key), _count(mb, key)
            lines.append(f"| {name} | {key} | {_fmt(va, ca)} | {_fmt(vb, cb)} | {_diff(va, vb, ca, cb)} |")
        for mode in ("strict", "loose"):
            pa, pb = ma.get(f"per_instruction_{mode}", {}), mb.get(f"per_instruction_{mode}", {})
            na, nb = ma.get(f"per_instruction_count_{mode}", {}), mb.get(f"per_instruction_count_{mode}", {})
            for instruction in sorted(set(pa) | set(pb)):
                va, vb = pa.get(instruction), pb.get(instruction)
                ca, cb = (tuple(na[instruction]) if instruction in na else None), (tuple(nb[instruction]) if instruction in nb else None)
                lines.append(f"| {name} | {mode}: {instruction} | {_fmt(va, ca)} | {_fmt(vb, cb)} | {_diff(va, vb, ca, cb)} |")
    flips = []
    for name in names:
        if name not in a["tasks"] or name not in b["tasks"]:
            continue
        fa, fb = _first_correct(Path(dir_a), name), _first_correct(Path(dir_b), name)
        if fa is None or fb is None:
            continue
        common = fa.keys() & fb.keys()
        lost = sum(fa[i] and not fb[i] for i in common)
        gained = sum(fb[i] and not fa[i] for i in common)
        flips.append(f"{name}: {len(common)} items in both; right in A, wrong in B: {lost}; wrong in A, right in B: {gained}")
    if flips:
        lines += ["", "First response per item (strict verdict):", *(f"- {line}" for line in flips)]
    return "\n".join(lines) + "\n"


def _fmt(value: Any, count: tuple[int, int] | None = None) -> str:
    if value is None:
        return "-"
    shown = f"{value:.2%}" if isinstance(value, float) else str(value)
    return f"{shown} ({count[0]}/{count[1]})" if count else shown


def _diff(a: Any, b: Any, ca: tuple[int, int] | None = None, cb: tuple[int, int] | None = None) -> str:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return "-"
    if isinstance(a, float) or isinstance(b, float):
        shown = f"{(b - a) * 100:+.2f} pts"
        same_base = ca is not None and cb is not None and ca[1] == cb[1]
        return f"{shown} ({cb[0] - ca[0]:+d})" if same_base else shown
    return f"{b - a:+d}"
