"""Score responses per benchmark, write reports, compare two runs.

A run directory holds, per benchmark, ``<name>.jsonl`` (one line per item: id, prompt, ground
truth, responses, verdicts), plus ``summary.json`` (metrics per benchmark) and ``summary.md``
(the same as a Markdown table). ``compare_runs(a, b)`` renders two runs side by side with the
difference per metric and, for IFEval, per instruction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..envs import Item, get_task
from ..verifiers import VerifierPool, get_verifier, verify_batch
from .metrics import ifeval_accuracies, mean_pass_at_k
from .prompts import EvalSetting

__all__ = ["TaskReport", "score_responses", "load_responses", "write_run", "read_summary", "compare_runs", "HEADLINE"]

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
        raise ValueError(f"{name}: every item needs the same number (>= 1) of responses")
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
        **{f"pass@{k}": value for k, value in pass_k.items()},
        "reasons": result.counts,
    }
    loose_verdicts = None
    if verifier_name == "ifeval":
        loose_verdicts = _verify_all("ifeval_loose", pairs, workers, timeout_s).verdicts
        first = slice(None, None, k_max)  # IFEval accuracies use each item's first sample
        metrics.update(ifeval_accuracies([v.details for v in result.verdicts[first]], [v.details for v in loose_verdicts[first]]))
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
    by_id = {item.id: item for item in items}
    by_prompt = {item.prompt: item for item in items}
    found: dict[str, list[str]] = {}
    unmatched = []
    with open(path, encoding="utf-8") as stream:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {line_no} is not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "response" not in row:
                raise ValueError(f"{path}: line {line_no} needs a 'response' field")
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
        raise ValueError(f"{path}: no line matches an item of {name} (by 'id' or 'prompt')")
    matched = [item for item in items if item.id in found]
    if unmatched:
        print(f"warning: {path}: {len(unmatched)} line(s) match no {name} item (first: line {unmatched[0]})")
    return matched, [found[item.id] for item in matched]


def _summary_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    keep = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return keep


def write_run(out_dir: str | Path, reports: Sequence[TaskReport], meta: dict[str, Any]) -> Path:
    """Write per-item JSONL, ``summary.json`` and ``summary.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for report in reports:
        with open(out / f"{report.name}.jsonl", "w", encoding="utf-8") as stream:
            for record in report.records:
                stream.write(json.dumps(record, default=str) + "\n")
    summary = {"meta": meta, "tasks": {report.name: report.metrics for report in reports}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "summary.md").write_text(render_summary(summary))
    return out


def render_summary(summary: dict[str, Any]) -> str:
    lines = ["| benchmark | metric | value |", "|---|---|---:|"]
    for name, metrics in summary["tasks"].items():
        for key, value in _summary_row(name, metrics).items():
            shown = f"{value:.2%}" if isinstance(value, float) else str(value)
            lines.append(f"| {name} | {key} | {shown} |")
    return "\n".join(lines) + "\n"


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} an output directory of `rlvr-gym eval`?")
    return json.loads(path.read_text())


def compare_runs(dir_a: str | Path, dir_b: str | Path) -> str:
    """Markdown: each metric of both runs and B - A; IFEval per instruction too."""
    a, b = read_summary(dir_a), read_summary(dir_b)
    lines = [f"A = {dir_a}", f"B = {dir_b}", "", "| benchmark | metric | A | B | B - A |", "|---|---|---:|---:|---:|"]
    for name in sorted(set(a["tasks"]) | set(b["tasks"])):
        ma, mb = a["tasks"].get(name, {}), b["tasks"].get(name, {})
        keys = [k for k in _summary_row(name, ma) | _summary_row(name, mb)]
        for key in keys:
            va, vb = ma.get(key), mb.get(key)
            lines.append(f"| {name} | {key} | {_fmt(va)} | {_fmt(vb)} | {_diff(va, vb)} |")
        for mode in ("strict", "loose"):
            pa, pb = ma.get(f"per_instruction_{mode}", {}), mb.get(f"per_instruction_{mode}", {})
            for instruction in sorted(set(pa) | set(pb)):
                va, vb = pa.get(instruction), pb.get(instruction)
                lines.append(f"| {name} | {mode}: {instruction} | {_fmt(va)} | {_fmt(vb)} | {_diff(va, vb)} |")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if isinstance(value, float) else str(value)


def _diff(a: Any, b: Any) -> str:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return "-"
    if isinstance(a, float) or isinstance(b, float):
        return f"{(b - a) * 100:+.2f} pts"
    return f"{b - a:+d}"
