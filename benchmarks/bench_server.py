"""``rlvr-gym serve`` under OpenRLHF's load: requests/s against ``--workers``.

    python benchmarks/bench_server.py [--workers 1,2,4] [--requests 1024] [--concurrency 256] [--task ifeval,math]
                                      [--client fresh,shared] [--old-tree DIR]

OpenRLHF v0.11 (``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor._fetch_rewards_via_http``)
sends one sample per request, each from a new ``aiohttp.ClientSession`` (a new connection), hundreds
at once. This script does the same from one process (``--client fresh``): ``--requests`` one-sample
POSTs to ``/get_reward``, at most ``--concurrency`` in flight, against a fresh server process per
worker count (after an untimed warm-up of 4 requests per worker, which starts the worker
processes). ``--client shared`` sends the same requests over one session's kept-alive
connections: a lighter client, so the server's own limit shows. The baseline is the same server
with one worker, measured in the same run; ``--old-tree DIR`` (a checkout of an older rlvr-gym,
e.g. ``git archive 7a70b9c rlvr_gym | tar -x -C DIR``) also runs that version's server.

Items: MATH, each MATH-500 gold solution as the response, labelled with its own answer (even
items) or the next item's (odd), so about half verify; IFEval, the 541 GPT-4 responses of the
official release against their instructions; ``sleep``, a verifier that sleeps 10 ms per item
and uses no CPU, so that its rate shows how many requests are verified at once whatever the
machine's cores. Items repeat when ``--requests`` exceeds their count. Each configuration runs
``--repeat`` times, interleaved, and the best rate counts (other work on the machine only slows a
run down). Prints a Markdown table and checks that every run gives the same rewards.

``--no-http`` measures the verification layer alone, in this process: ``--concurrency`` threads
each verifying one item at a time, through the server's `SharedVerifier` and through the old
design (one lock around one `VerifierPool` of N workers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("RLVR_GYM_DATA", REPO_ROOT.parent / "shared" / "data"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def math_samples() -> list[tuple[str, str, Any]]:
    rows = read_jsonl(data_dir() / "math" / "math500" / "test.jsonl")
    samples = []
    for i, row in enumerate(rows):
        prompt = f"<|im_start|>user\n{row['problem']}\nPut the final answer in \\boxed{{}}.<|im_end|>\n<|im_start|>assistant\n"
        label = row["answer"] if i % 2 == 0 else rows[(i + 1) % len(rows)]["answer"]
        samples.append((prompt + row["solution"] + "<|im_end|>", prompt, label))
    return samples


def ifeval_samples() -> list[tuple[str, str, Any]]:
    folder = data_dir() / "ifeval"
    by_prompt = {row["prompt"]: row for row in read_jsonl(folder / "input_data_gpt4_20231107_145030.jsonl")}
    samples = []
    for row in read_jsonl(folder / "input_response_data_gpt4_20231107_145030.jsonl"):
        prompt = f"<|im_start|>user\n{row['prompt']}<|im_end|>\n<|im_start|>assistant\n"
        samples.append((prompt + row["response"] + "<|im_end|>", prompt, by_prompt[row["prompt"]]))
    return samples


class SleepVerifier:
    """Sleeps 10 ms, then: correct when the response ends with the ground truth."""

    name = "sleep"

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def verify(self, response: str, ground_truth: Any) -> Any:
        from rlvr_gym.verifiers import Reason, make_verdict

        time.sleep(0.010)
        return make_verdict(self.alpha, Reason.CORRECT if response.endswith(str(ground_truth)) else Reason.WRONG_ANSWER)


def sleep_samples() -> list[tuple[str, str, Any]]:
    return [(f"Q{i}? #### {i if i % 2 else i + 1}", f"Q{i}?", str(i)) for i in range(512)]


def serve_sleep(workers: int) -> int:
    """The server process for task ``sleep`` (run as ``bench_server.py --serve-sleep N``)."""
    from rlvr_gym.envs.adapters.server import ServerConfig, serve
    from rlvr_gym.verifiers import register_verifier

    register_verifier("sleep", SleepVerifier)
    return serve(ServerConfig(verifier="sleep", port=0, workers=workers, timeout_s=30.0))


def start_server(task: str, workers: int, tree: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("RLVR_GYM_TOKEN", None)
    env.pop("RLVR_GYM_SECRET_PATH", None)
    if task == "sleep":
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-sleep", str(workers)]
    else:
        command = [
            sys.executable,
            "-m",
            "rlvr_gym.cli",
            "serve",
            "--task",
            task,
            "--port",
            "0",
            "--workers",
            str(workers),
            "--timeout",
            "30",
        ]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stderr.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, f"{match.group(1)}/get_reward"


async def post_all(url: str, samples: list[tuple[str, str, Any]], concurrency: int, client: str) -> list[float]:
    """One sample per request; the rewards in order. ``fresh``: a new ClientSession per request (OpenRLHF's way)."""
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=600)
    shared = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) if client == "shared" else None

    async def post(session: Any, body: dict[str, Any]) -> float:
        async with session.post(url, json=body) as response:
            response.raise_for_status()
            return (await response.json())["rewards"][0]

    async def one(query: str, prompt: str, label: Any) -> float:
        body = {"query": [query], "prompts": [prompt], "labels": [label]}
        async with gate:
            if shared is not None:
                return await post(shared, body)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                return await post(session, body)

    try:
        return await asyncio.gather(*(one(*s) for s in samples))
    finally:
        if shared is not None:
            await shared.close()


def run(
    task: str, workers: int, samples: list[tuple[str, str, Any]], concurrency: int, client: str, tree: Path
) -> tuple[float, list[float]]:
    proc, url = start_server(task, workers, tree)
    try:
        asyncio.run(post_all(url, samples[: 4 * workers], concurrency, client))  # untimed: starts the workers
        start = time.perf_counter()
        rewards = asyncio.run(post_all(url, samples, concurrency, client))
        elapsed = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return len(samples) / elapsed, rewards


def bench_no_http(task: str, worker_counts: list[int], samples: list[tuple[str, str, Any]], concurrency: int, repeat: int) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, str(REPO_ROOT))
    from rlvr_gym.envs.adapters.openrlhf import isolate_response
    from rlvr_gym.envs.adapters.workers import SharedVerifier
    from rlvr_gym.verifiers import VerifierPool, get_verifier

    verifier = get_verifier(task)
    pairs = [(isolate_response(q, p).response, label) for q, p, label in samples]
    print(f"\n{task}, no HTTP: {len(pairs)} one-item calls from {concurrency} threads, best of {repeat}\n")
    print("| design | workers | calls/s |")
    print("|---|---:|---:|")
    for workers in worker_counts:
        shared = SharedVerifier(verifier, workers=workers, timeout_s=30)
        pool, lock = VerifierPool(workers=workers, timeout_s=30, start_method="forkserver"), threading.Lock()

        def locked(pair: tuple[str, Any], pool: Any = pool, lock: Any = lock) -> Any:
            with lock:
                return pool.verify(verifier, [pair])

        def through_shared(pair: tuple[str, Any], shared: Any = shared) -> Any:
            return shared.verify([pair])

        for name, call in (("one lock, one pool (old)", locked), ("SharedVerifier", through_shared)):
            rates = []
            with ThreadPoolExecutor(concurrency) as threads:
                list(threads.map(call, pairs[: 8 * workers]))  # untimed: starts the workers
                for _ in range(repeat):
                    start = time.perf_counter()
                    list(threads.map(call, pairs))
                    rates.append(len(pairs) / (time.perf_counter() - start))
            print(f"| {name} | {workers} | {max(rates):,.0f} |", flush=True)
        shared.close()
        pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts (first is the baseline)")
    parser.add_argument("--requests", type=int, default=1024)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--task", default="ifeval,math,sleep")
    parser.add_argument(
        "--client", default="fresh", help="fresh (a session per request, as OpenRLHF), shared (kept-alive connections), or both"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration, interleaved; the best counts")
    parser.add_argument("--old-tree", type=Path, default=None, help="also run the server of this older rlvr-gym tree")
    parser.add_argument("--no-http", action="store_true", help="time the verification layer alone, in this process")
    parser.add_argument("--serve-sleep", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sleep is not None:
        return serve_sleep(args.serve_sleep)
    worker_counts = [int(w) for w in args.workers.split(",")]
    builders = {"math": math_samples, "ifeval": ifeval_samples, "sleep": sleep_samples}
    if args.no_http:
        for task in args.task.split(","):
            items = builders[task]()
            bench_no_http(task, worker_counts, [items[i % len(items)] for i in range(args.requests)], args.concurrency, args.repeat)
        return 0
    trees = [("this", REPO_ROOT)] + ([("old", args.old_tree)] if args.old_tree else [])
    configs = [
        (task, client, label, tree, workers)
        for task in args.task.split(",")
        for client in args.client.split(",")
        for label, tree in trees
        for workers in worker_counts
    ]
    best: dict[tuple[str, str, str, int], float] = {}
    expected: dict[str, list[float]] = {}
    for round_ in range(args.repeat):
        for task, client, label, tree, workers in configs:
            items = builders[task]()
            samples = [items[i % len(items)] for i in range(args.requests)]
            rate, rewards = run(task, workers, samples, args.concurrency, client, tree)
            if expected.setdefault(task, rewards) != rewards:
                raise SystemExit(f"{task}: rewards of the {label} server, {workers} workers, {client} client differ from the first run")
            key = (task, client, label, workers)
            best[key] = max(best.get(key, 0.0), rate)
            print(f"round {round_ + 1}: {task} {client} {label} workers={workers}: {rate:,.0f} requests/s", flush=True)
    print(f"\n{args.requests} one-sample requests, {args.concurrency} in flight, best of {args.repeat}, {os.cpu_count()} CPUs\n")
    print("| task | client | server | `--workers` | requests/s | vs 1 worker | rewarded |")
    print("|---|---|---|---:|---:|---:|---:|")
    for (task, client, label, workers), rate in best.items():
        baseline = best[(task, client, label, worker_counts[0])]
        rewarded = sum(r > 0 for r in expected[task])
        print(f"| {task} | {client} | {label} | {workers} | {rate:,.0f} | {rate / baseline:.2f}x | {rewarded}/{args.requests} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
