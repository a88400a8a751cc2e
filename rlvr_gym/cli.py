"""``rlvr-gym``: a thin command line over the library's layers.

Each sub-command lives in a small function; heavy imports happen inside it, so
``rlvr-gym verify`` never imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence, TextIO

__all__ = ["main"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


# --------------------------------------------------------------------------- verify
def _read_verify_items(stream: TextIO) -> tuple[list[tuple[int, Any, Any]], dict[int, str]]:
    """Parse JSONL input: ``(line_no, response, ground_truth)`` items and ``{line_no: error}``."""
    items: list[tuple[int, Any, Any]] = []
    errors: dict[int, str] = {}
    for line_no, line in enumerate(stream, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors[line_no] = f"line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(record, dict):
            errors[line_no] = f"line {line_no}: expected a JSON object, got {type(record).__name__}"
            continue
        missing = [key for key in ("response", "ground_truth") if key not in record]
        if missing:
            errors[line_no] = f"line {line_no}: missing key(s) {', '.join(missing)}"
            continue
        items.append((line_no, record["response"], record["ground_truth"]))
    return items, errors


def cmd_verify(args: argparse.Namespace) -> int:
    from .verifiers import get_verifier, verify_batch

    verifier = get_verifier(args.task, alpha=args.alpha)
    if args.input == "-":
        items, errors = _read_verify_items(sys.stdin)
    else:
        with open(args.input, encoding="utf-8", errors="surrogateescape") as stream:
            items, errors = _read_verify_items(stream)
    result = verify_batch(verifier, [(r, g) for _, r, g in items], workers=args.workers, timeout_s=args.timeout)

    by_line: dict[int, str] = {line_no: verdict.to_json() for (line_no, _, _), verdict in zip(items, result)}
    by_line.update({line_no: json.dumps({"error": message, "line": line_no}) for line_no, message in errors.items()})
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for line_no in sorted(by_line):
            out.write(by_line[line_no] + "\n")
    finally:
        if args.output:
            out.close()

    for message in errors.values():
        print(f"error: {message}", file=sys.stderr)
    summary = result.summary()
    summary["malformed_lines"] = len(errors)
    counts = ", ".join(f"{reason}={n}" for reason, n in summary["counts"].items() if n)
    print(
        f"verified {summary['items']} items with {args.task}: accuracy {summary['accuracy']:.4f}, "
        f"{summary['items_per_s']:.1f} items/s; {counts or 'no items'}"
        + (f"; {len(errors)} malformed line(s)" if errors else ""),
        file=sys.stderr,
    )
    return 1 if errors else 0


# --------------------------------------------------------------------------- tasks / sample
def cmd_tasks(args: argparse.Namespace) -> int:
    from .envs import list_tasks, load_items

    rows = [("gym id", "task", "size", "verifier", "version", "description")]
    for spec in list_tasks():
        sizes = []
        for split in spec.splits:
            try:
                sizes.append(f"{split}={len(load_items(spec, split))}")
            except FileNotFoundError:
                sizes.append(f"{split}=missing")
        rows.append((spec.gym_id, spec.name, " ".join(sizes), spec.verifier, f"v{spec.version}", spec.description))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[5])
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import random

    from .envs import format_prompt, get_task, load_items

    spec = get_task(args.task)
    items = load_items(spec, args.split)
    rng = random.Random(args.seed)
    for index in rng.sample(range(len(items)), min(args.n, len(items))):
        item = items[index]
        prompt, _ = format_prompt(spec, item, args.format)
        print(f"=== {spec.name} [{args.split or spec.default_split}] item {item.id} (index {index})")
        print(prompt)
        print(f"--- ground truth: {json.dumps(item.ground_truth, ensure_ascii=False)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from .envs.adapters.server import ServerConfig, serve

    token = args.token or os.environ.get("RLVR_GYM_TOKEN") or None
    config = ServerConfig(
        verifier=args.task, alpha=args.alpha, host=args.host, port=args.port, token=token,
        max_body_bytes=args.max_body_bytes, workers=args.workers, timeout_s=args.timeout,
    )
    return serve(config)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlvr-gym", description="Reinforcement learning with verifiable rewards.")
    sub = parser.add_subparsers(dest="command", required=True)

    verify = sub.add_parser("verify", help="score responses in a JSONL file with a verifier")
    verify.add_argument("--task", required=True, help="verifier name: gsm8k, math, ifeval, ifeval_loose, or a registered one")
    verify.add_argument("--input", required=True, help='JSONL with {"response": ..., "ground_truth": ...} per line; - for stdin')
    verify.add_argument("--output", help="where to write one verdict JSON per input line (default: stdout)")
    verify.add_argument("--alpha", type=_positive_float, default=1.0, help="score of a correct response (default 1.0)")
    verify.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: CPU count; 0 = in-process)")
    verify.add_argument("--timeout", type=_positive_float, default=10.0, help="seconds per item before it scores 0 as timeout")
    verify.set_defaults(func=cmd_verify)

    tasks = sub.add_parser("tasks", help="list registered tasks (gym id, size per split, verifier, version)")
    tasks.set_defaults(func=cmd_tasks)

    sample = sub.add_parser("sample", help="print prompts of a task with their ground truth")
    sample.add_argument("--task", required=True, help="task name (see `rlvr-gym tasks`)")
    sample.add_argument("-n", type=_positive_int, default=3, help="how many items (default 3)")
    sample.add_argument("--split", default=None, help="split (default: the task's default split)")
    sample.add_argument("--seed", type=int, default=0, help="which items are drawn")
    sample.add_argument("--format", choices=["plain", "step_by_step"], default=None, help="prompt format (default: the task's)")
    sample.set_defaults(func=cmd_sample)

    serve = sub.add_parser("serve", help="HTTP reward server (OpenRLHF remote reward: POST /get_reward)")
    serve.add_argument("--task", default="gsm8k", help="verifier name (default gsm8k)")
    serve.add_argument("--alpha", type=_positive_float, default=1.0, help="score of a correct response")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    serve.add_argument("--token", default=None, help="required bearer token (default: $RLVR_GYM_TOKEN, else none)")
    serve.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024, help="largest request body (default 16 MiB)")
    serve.add_argument("--workers", type=_positive_int, default=2, help="verifier worker processes (default 2)")
    serve.add_argument("--timeout", type=_positive_float, default=10.0, help="seconds per item")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"rlvr-gym {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
