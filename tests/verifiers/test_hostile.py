"""Robustness: >= 10,000 hostile responses through every verifier, via the batch engine.

No exception escapes (no ``error`` verdict), every item comes back (none lost, order kept),
and no item takes longer than the timeout plus a small margin.
"""

import random

import pytest

from rlvr_gym.verifiers import Reason, Verdict, VerifierPool, get_verifier

N = 10_000
TIMEOUT_S = 5.0
MARGIN_S = 1.5

GROUND_TRUTHS = {
    "gsm8k": "72",
    "math": "\\frac{1}{2}",
    "ifeval": {
        "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words", "detectable_format:title"],
        "kwargs": [{}, {"relation": "at least", "num_words": 5}, {}],
        "prompt": "Write a poem.",
    },
    "countdown": {"numbers": [3, 5, 2], "target": 16},
}
GROUND_TRUTHS["ifeval_loose"] = GROUND_TRUTHS["ifeval"]


def _random_bytes(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


def hostile_responses(n=N, seed=0):
    rng = random.Random(seed)
    deep = "{" * 10_000 + "1" + "}" * 10_000
    digits = "9" * 10_000
    fixed = [
        "",
        " \n\t ",
        "x" * (1 << 20),  # 1 MB
        ("\\boxed{1} " * 100_000)[: 1 << 20],  # 1 MB of boxes
        "\\boxed{" + deep + "}",
        "\\boxed{" * 10_000,
        "}" * 10_000 + "\\boxed{",
        "$" + "(" * 10_000 + ")" * 10_000 + "$",
        "\\boxed{5^{5^{5^{5^{5}}}}}",
        "\\boxed{9^{9^{9^{9^{9^{9}}}}}}",
        "\\boxed{10^{10^{100}}}",
        "\\boxed{(10^{100})!}",
        "\\boxed{\\frac{1}{2}^{10^{10}}}",
        "\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}} = 1/2",
        f"#### {digits}",
        f"\\boxed{{{digits}}}",
        f"\\boxed{{{digits}/{digits}8}}",
        f"the answer is {digits}.{digits}",
        "\ud800\udfff\udc00 \\boxed{\ud800}",
        "\x00" * 1000,
        "<think>" * 1000 + "</think>" * 1000,
        "<answer>" + "(" * 5000 + "1" + ")" * 5000 + "</answer>",
        "<answer>" + "9" * 150 + "**" + "9" * 40 + "</answer>",
        "\\boxed{\\sqrt{\\sqrt{\\sqrt{" * 3000 + "}}}" * 3000,
        "\\begin{pmatrix}" + "1&" * 5000 + "\\end{pmatrix}",
        "\\boxed{x^{" * 2000 + "}" * 2000,
        "\\boxed{" + "+".join(["x"] * 20_000) + "}",
        "\\boxed{\\int_0^{\\infty} e^{-x^{x^{x}}} dx}",
        "\\boxed{\\lim_{x \\to \\infty} x^{x^{x^{x}}}}",
        "\\boxed{\\sum_{n=1}^{10^{100}} n^{n}}",
        "JSON {\"a\": " * 5000,
        "SECTION 1\n" * 50_000,
        "* * *\n" * 50_000,
    ]
    out = list(fixed)
    while len(out) < n:
        kind = len(out) % 6
        if kind == 0:
            out.append(_random_bytes(rng, rng.randrange(1, 2000)).decode("latin-1"))
        elif kind == 1:
            out.append(_random_bytes(rng, rng.randrange(1, 2000)).decode("utf-8", errors="surrogateescape"))
        elif kind == 2:
            out.append("".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 300))))
        elif kind == 3:
            depth = rng.randrange(1, 3000)
            out.append("\\boxed{" + "{" * depth + str(rng.randrange(10**6)) + "}" * rng.randrange(depth + 2) + "}")
        elif kind == 4:
            base, height = rng.randrange(2, 99), rng.randrange(2, 8)
            out.append("\\boxed{" + "^{".join([str(base)] * height) + "}" * (height - 1) + "}")
        else:
            out.append(
                rng.choice(["#### ", "\\boxed{", "the answer is ", "<answer>"])
                + str(rng.randrange(10 ** rng.randrange(1, 400)))
                + rng.choice(["", "}", "</answer>", "."])
            )
    return out[:n]


@pytest.fixture(scope="module")
def responses():
    return hostile_responses()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GROUND_TRUTHS))
def test_hostile_responses_through_the_batch_engine(name, responses):
    verifier = get_verifier(name, alpha=10.0)
    items = [(response, GROUND_TRUTHS[name]) for response in responses]
    with VerifierPool(workers=2, timeout_s=TIMEOUT_S) as pool:
        result = pool.verify(verifier, items)
    assert len(result) == len(items) >= 10_000
    assert all(isinstance(v, Verdict) for v in result)
    assert sum(result.counts.values()) == len(items)
    errors = [(i, v.details) for i, v in enumerate(result) if v.reason is Reason.ERROR]
    assert not errors, errors[:5]
    assert max(result.durations_s) <= TIMEOUT_S + MARGIN_S, max(result.durations_s)
    assert all(v.score in (0.0, 10.0) for v in result)
    print(name, result.summary())
