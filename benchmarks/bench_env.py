"""Environment overhead: reset+step per item vs calling the verifier directly.

    python benchmarks/bench_env.py [--repeats 5]

For each task, the same responses (the gold solutions, or for procedural tasks the
right answers) are scored twice: by ``verifier.verify`` in a loop, and by
``env.reset(options={"index": i}); env.step(response)``. The overhead is
``env_time / direct_time - 1``, best of ``--repeats`` runs each, measured in one run.
"""

from __future__ import annotations

import argparse
import time

import gymnasium

import rlvr_gym  # noqa: F401  (registers the environments)
from rlvr_gym.envs import get_task, load_items

TASKS = {
    # task: (gym id, split, how to build a correct response from an item)
    "gsm8k": ("rlvr_gym/GSM8K-v0", "test", lambda item: item.ground_truth),
    "math500": ("rlvr_gym/MATH500-v0", "test", lambda item: f"The answer is $\\boxed{{{item.ground_truth}}}$."),
    "ifeval": ("rlvr_gym/IFEval-v0", "test", lambda item: item.prompt),
    "arithmetic": ("rlvr_gym/Arithmetic-v0", "test", lambda item: f"#### {item.ground_truth}"),
}


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=1000, help="items per task")
    args = parser.parse_args()
    rows = []
    for task, (gym_id, split, respond) in TASKS.items():
        try:
            items = load_items(get_task(task), split)[: args.n]
        except FileNotFoundError as exc:
            print(f"skip {task}: {exc}")
            continue
        env = gymnasium.make(gym_id, split=split).unwrapped
        verifier = env.verifier
        pairs = [(respond(item), item.ground_truth) for item in items]
        for response, gt in pairs:  # warm caches (ground-truth parsing) for both loops alike
            verifier.verify(response, gt)

        def direct(verifier=verifier, pairs=pairs):
            for response, gt in pairs:
                verifier.verify(response, gt)

        def through_env(env=env, pairs=pairs):
            for i, (response, _) in enumerate(pairs):
                env.reset(options={"index": i})
                env.step(response)

        t_direct = best_of(args.repeats, direct)
        t_env = best_of(args.repeats, through_env)
        rows.append((task, len(pairs), len(pairs) / t_direct, len(pairs) / t_env, t_env / t_direct - 1))
    print("| task | items | verifier items/s | env reset+step items/s | env overhead | per item |")
    print("|---|---:|---:|---:|---:|---:|")
    for task, n, direct_rate, env_rate, overhead in rows:
        per_item_us = (1 / env_rate - 1 / direct_rate) * 1e6
        print(f"| {task} | {n} | {direct_rate:,.0f} | {env_rate:,.0f} | {overhead:+.1%} | {per_item_us:+.2f} µs |")


if __name__ == "__main__":
    main()
