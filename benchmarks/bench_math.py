r"""MATH verifier throughput and agreement vs. the naive math-verify baseline.

    python benchmarks/bench_math.py [--workers 2] [--n 1000] [--task math|gsm8k|ifeval|all]

Items (``--task math``): each MATH-500 gold solution against its own ``answer``
and against the next item's ``answer`` (so about half should verify), ``--n`` in all.

- (a) naive: one process; per item ``math_verify.parse`` of the gold and of the
  response, then ``math_verify.verify``, exactly as TRL's ``accuracy_reward``
  (trl/rewards/accuracy_rewards.py) does: gold ``parse(sol, parsing_timeout=10)``
  with the default configs; response ``parse(content, extraction_config=
  [LatexExtractionConfig(normalization_config=NormalizationConfig(units=True),
  boxed_match_priority=0, try_extract_without_anchor=False)],
  extraction_mode="first_match", parsing_timeout=10)``;
  ``verify(gold, answer, timeout_seconds=5)``. TRL passes a dataset's
  ``solution`` column, which holds LaTeX inside ``$...$``; MATH-500's ``answer``
  is bare LaTeX, so the gold is wrapped as ``$answer$`` (``--gold-format raw``
  passes it bare, as TRL would, and then many golds do not parse: TRL skips
  those items, reward None). Nothing is cached across items, as in TRL.
- (b) ours, serially in this process (``verify_batch(workers=0)``);
- (c) ours with ``--workers`` processes: one ``verify_batch`` call (a new pool:
  worker start and imports included); a started `VerifierPool` (workers warmed
  on a few typical items, caches cold); and the same items again on that pool
  (per-process caches warm, as in training where ground truths recur).

(a) and (b) each run in a fresh interpreter, after the same few untimed warm-up
items (`WARMUP`), so imports and the ANTLR parser's first-use cost are not charged
to either, and neither inherits the other's warm caches.
Prints items/s, the ratio c/a, the agreement of (b) with (a), each disagreement,
and a Markdown table. ``--task gsm8k`` / ``ifeval`` time those verifiers (when
they are importable) on the real data.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rlvr_gym.verifiers import VerifierPool, get_verifier, verify_batch  # noqa: E402


def data_dir() -> Path:
    return Path(os.environ.get("RLVR_GYM_DATA", REPO_ROOT.parent / "shared" / "data"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --------------------------------------------------------------------------- naive baseline
def naive_reward(content: str, solution: str) -> float | None:
    """TRL's ``accuracy_reward`` for one item (main thread: parsing_timeout=10, verify timeout 5)."""
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    gold_parsed = parse(solution, parsing_timeout=10)
    if len(gold_parsed) == 0:
        return None
    answer_parsed = parse(
        content,
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(units=True),
                boxed_match_priority=0,
                try_extract_without_anchor=False,
            )
        ],
        extraction_mode="first_match",
        parsing_timeout=10,
    )
    return float(verify(gold_parsed, answer_parsed, timeout_seconds=5))


def naive_parsed(content: str, solution: str) -> tuple[list[Any], list[Any]]:
    """What the naive baseline read (for the disagreement listing)."""
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse

    gold = parse(solution, parsing_timeout=10)
    answer = parse(
        content,
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(units=True), boxed_match_priority=0, try_extract_without_anchor=False
            )
        ],
        extraction_mode="first_match",
        parsing_timeout=10,
    )
    return gold, answer


def why_they_differ(naive: float | None, verdict: Any, gold_parsed: list[Any], answer_parsed: list[Any]) -> str:
    """A short reason for one disagreement (a heuristic; read the parsed values to confirm)."""
    if naive is None:
        return "math-verify could not parse the gold answer (TRL skips the item)"
    if verdict.correct:
        if not answer_parsed or all(isinstance(a, str) for a in answer_parsed):
            return "math-verify could not parse the response's LaTeX (TRL's config has malformed_operators=False), so it compares strings"
        return f"math-verify rejects; ours proves equal by {verdict.details.get('method')}"
    if verdict.details.get("not_compared"):
        return f"ours did not evaluate: {verdict.details['not_compared']}"
    return f"math-verify accepts (float rounding or unwrapping), ours rejects ({verdict.details.get('method', verdict.reason.value)})"


# --------------------------------------------------------------------------- tasks
def math_items(n: int) -> list[tuple[str, str, str]]:
    rows = read_jsonl(data_dir() / "math" / "math500" / "test.jsonl")
    items = []
    for i, row in enumerate(rows):
        nxt = rows[(i + 1) % len(rows)]
        items.append((row["solution"], row["answer"], row["unique_id"]))
        items.append((row["solution"], nxt["answer"], f"{row['unique_id']} vs next"))
    return items[:n]


def timed(fn) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


WARMUP = [
    ("\\boxed{x+1}", "1+x"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\sqrt{3}/2"),
    ("\\boxed{6-5i}", "\\sqrt{51}"),
    ("\\boxed{\\cot x}", "\\frac{\\cos x}{\\sin x}"),
    ("\\boxed{(1,\\frac{\\pi}{2})}", "\\left(1, \\frac{\\pi}{2}\\right)"),
    ("\\boxed{x^2-2x+1}", "(x-1)^2"),
]
"""Untimed items run before every timed run (imports, ANTLR and sympy warm-up), the same for (a), (b), (c)."""


def _run_naive(items: list[tuple[str, str, str]], gold_format: str) -> tuple[list[float | None], float, str]:
    """(a), in a fresh process: warm up on the warm-up items, then time every item.

    Uses TRL's own ``trl.rewards.accuracy_reward`` when TRL is installed (one call for
    all items; it loops over them), else `naive_reward`, a copy of its per-item body.
    """
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    wrap = (lambda a: f"${a}$") if gold_format == "dollar" else (lambda a: a)
    try:
        import trl
        from trl.rewards import accuracy_reward

        def run(pairs: list[tuple[str, str]]) -> list[float | None]:
            return accuracy_reward([[{"role": "assistant", "content": r}] for r, _ in pairs], [g for _, g in pairs])

        how = f"trl {trl.__version__} trl.rewards.accuracy_reward"
    except ImportError:

        def run(pairs: list[tuple[str, str]]) -> list[float | None]:
            return [naive_reward(r, g) for r, g in pairs]

        how = "copy of TRL's accuracy_reward (TRL not installed)"
    run([(f"${response}$", wrap(gold)) for response, gold in WARMUP])
    pairs = [(response, wrap(gold)) for response, gold, _ in items]
    rewards, seconds = timed(lambda: run(pairs))
    return rewards, seconds, how


def _run_serial(pairs: list[tuple[str, str]]) -> tuple[Any, float]:
    """(b), in a fresh process: warm up on a trivial item that needs sympy, then time the batch."""
    verifier = get_verifier("math")
    for response, gold in WARMUP:
        verifier.verify(response, gold)
    return timed(lambda: verify_batch(verifier, pairs, workers=0))


def in_fresh_process(fn, *args: Any) -> Any:
    """Run ``fn(*args)`` in a new interpreter, so no run inherits another's warm caches (ANTLR, sympy)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def bench_math(args: argparse.Namespace) -> list[tuple[str, str, float, str]]:
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    items = math_items(args.n)
    n = len(items)
    wrap = (lambda a: f"${a}$") if args.gold_format == "dollar" else (lambda a: a)
    verifier = get_verifier("math")
    pairs = [(response, gold) for response, gold, _ in items]

    naive, t_naive, naive_how = in_fresh_process(_run_naive, items, args.gold_format)  # (a)
    ours, t_serial = in_fresh_process(_run_serial, pairs)  # (b)
    # (c) a new pool, as one verify_batch call makes it, worker start included. This process first
    # does the same untimed warm-up as (a) and (b); the workers are forked from it.
    for response, gold in WARMUP:
        verifier.verify(response, gold)
    cold, t_cold = timed(lambda: verify_batch(verifier, pairs, workers=args.workers, timeout_s=10))
    # (c') a started pool (the warm-up items sent 4 times per worker, so each worker sees them), then the same items again
    with VerifierPool(workers=args.workers, timeout_s=10) as pool:
        pool.verify(verifier, WARMUP * 4 * args.workers)
        started, t_started = timed(lambda: pool.verify(verifier, pairs))
        warm, t_warm = timed(lambda: pool.verify(verifier, pairs))

    print(f"MATH-500: {n} items (gold solution vs its own answer, vs the next item's answer); gold format for (a): {args.gold_format}")
    print(f"(a) is {naive_how}")
    skipped = sum(r is None for r in naive)
    print(
        f"(a) naive math-verify (TRL accuracy_reward): {n / t_naive:8.1f} items/s  "
        f"({t_naive:.2f}s; accepted {sum(r == 1.0 for r in naive)}, gold unparseable/skipped {skipped})"
    )
    print(
        f"(b) ours, serial:                            {n / t_serial:8.1f} items/s  "
        f"({t_serial:.2f}s; accepted {ours.counts['correct']}; {ours.counts})"
    )
    print(f"(c) ours, {args.workers} workers, new pool:                {n / t_cold:8.1f} items/s  ({t_cold:.2f}s; worker start included)")
    print(
        f"    ours, {args.workers} workers, warmed-up pool:          {n / t_started:8.1f} items/s  "
        f"({t_started:.2f}s; after the warm-up items, caches cold)"
    )
    print(f"    ours, {args.workers} workers, same items again:        {n / t_warm:8.1f} items/s  ({t_warm:.2f}s; per-process caches warm)")
    print(
        f"ratio c/a: new pool {t_naive / t_cold:.1f}x, warmed-up pool {t_naive / t_started:.1f}x, "
        f"warm {t_naive / t_warm:.1f}x; serial b/a {t_naive / t_serial:.1f}x"
    )
    verdicts = [v.correct for v in ours]
    assert verdicts == [v.correct for v in cold] == [v.correct for v in started] == [v.correct for v in warm], (
        "pool and serial verdicts differ"
    )

    agree = sum((r == 1.0) == v.correct for r, v in zip(naive, ours))
    print(f"agreement with (a): {agree}/{n} ({100 * agree / n:.1f}%)")
    disagreements = [(i, r, v) for i, (r, v) in enumerate(zip(naive, ours)) if (r == 1.0) != v.correct]
    for i, r, v in disagreements:
        response, gold, label = items[i]
        g_parsed, a_parsed = naive_parsed(response, wrap(gold))
        print(
            f"  - {label}: gold {gold!r}, ours read {v.extracted!r}: naive={r}, ours={v.reason.value}. "
            f"Why: {why_they_differ(r, v, g_parsed, a_parsed)}"
        )
        print(f"      (math-verify parsed gold {str(g_parsed)[:60]}, answer {str(a_parsed)[:60]})")
    return [
        ("math (naive math-verify, TRL-style)", "1 process", n / t_naive, "1.0x"),
        ("math (ours)", "serial", n / t_serial, f"{t_naive / t_serial:.1f}x"),
        ("math (ours)", f"verify_batch, {args.workers} workers, new pool", n / t_cold, f"{t_naive / t_cold:.1f}x"),
        ("math (ours)", f"{args.workers} workers, warmed-up pool", n / t_started, f"{t_naive / t_started:.1f}x"),
        ("math (ours)", f"{args.workers} workers, same items again", n / t_warm, f"{t_naive / t_warm:.1f}x"),
    ]


def other_items(task: str, n: int) -> list[tuple[Any, Any]]:
    if task == "gsm8k":
        rows = read_jsonl(data_dir() / "gsm8k" / "test.jsonl")
        return [(row["answer"], row["answer"].rsplit("####", 1)[1].strip()) for row in rows][:n]
    prompts = {row["prompt"]: row for row in read_jsonl(data_dir() / "ifeval" / "input_data_gpt4_20231107_145030.jsonl")}
    responses = read_jsonl(data_dir() / "ifeval" / "input_response_data_gpt4_20231107_145030.jsonl")
    return [(row["response"], prompts[row["prompt"]]) for row in responses if row["prompt"] in prompts][:n]


def bench_other(task: str, args: argparse.Namespace) -> list[tuple[str, str, float, str]]:
    try:
        verifier = get_verifier(task)
    except Exception as exc:  # noqa: BLE001 - written by others; may not exist yet
        print(f"skip {task}: verifier not available ({type(exc).__name__}: {exc})")
        return []
    try:
        items = other_items(task, args.n)
    except FileNotFoundError as exc:
        print(f"skip {task}: data not found ({exc})")
        return []
    verifier.verify(*items[0])
    serial, t_serial = timed(lambda: verify_batch(verifier, items, workers=0))
    pooled, t_pool = timed(lambda: verify_batch(verifier, items, workers=args.workers))
    print(
        f"{task}: {len(items)} items (gold responses); serial {len(items) / t_serial:.1f} items/s, "
        f"{args.workers} workers {len(items) / t_pool:.1f} items/s; {serial.counts}"
    )
    return [(task, "serial", len(items) / t_serial, ""), (task, f"{args.workers} workers, cold", len(items) / t_pool, "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n", type=int, default=1000, help="items")
    parser.add_argument("--task", default="math", choices=["math", "gsm8k", "ifeval", "all"])
    parser.add_argument("--gold-format", default="dollar", choices=["dollar", "raw"], help="how (a) receives the MATH-500 answer")
    args = parser.parse_args()
    rows: list[tuple[str, str, float, str]] = []
    if args.task in ("math", "all"):
        if not (data_dir() / "math" / "math500" / "test.jsonl").exists():
            print(f"skip math: {data_dir() / 'math' / 'math500' / 'test.jsonl'} not found (set RLVR_GYM_DATA)")
        else:
            rows += bench_math(args)
    for task in ("gsm8k", "ifeval"):
        if args.task in (task, "all"):
            rows += bench_other(task, args)
    if rows:
        print("\n| task | how | items/s | vs naive |\n|---|---|---:|---:|")
        for task, how, rate, ratio in rows:
            print(f"| {task} | {how} | {rate:,.0f} | {ratio} |")
        print(f"\n({os.cpu_count()} CPUs, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
