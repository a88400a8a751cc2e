"""Truncated importance sampling and the engine/trainer mismatch metric, by hand."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from rlvr_gym.trainers.algorithms.corrections import logprob_mismatch, truncated_is_weights  # noqa: E402
from rlvr_gym.trainers.config import TISLevel  # noqa: E402
from tests.trainers.algorithms.tensors import close, t  # noqa: E402

# row 0: three response tokens, trainer - engine = [0.5, -1.0, 0.0]
# row 1: two response tokens, trainer - engine = [0.9, 0.3]; its last column is padding (92 apart, and -inf: ignored)

TRAINER = t([[-1.0, -2.0, -0.5], [-0.1, -0.2, 7.0]])
ENGINE = t([[-1.5, -1.0, -0.5], [-1.0, -0.5, -math.inf]])
MASK = t([[1, 1, 1], [1, 1, 0]])
e = math.exp

TIS_CASES = [
    # level, weights, mean weight over the 5 response tokens, share truncated at C = 2
    # --- token: exp of each difference; exp(0.9) = 2.4596 is cut to 2
    (TISLevel.TOKEN, [[e(0.5), e(-1.0), 1.0], [2.0, e(0.3), 0.0]], (e(0.5) + e(-1.0) + 1.0 + 2.0 + e(0.3)) / 5, 1 / 5),
    # --- sequence: exp of each row's sum: row 0 exp(-0.5) = 0.6065 on its 3 tokens; row 1 exp(1.2) = 3.32 cut to 2
    (TISLevel.SEQUENCE, [[e(-0.5)] * 3, [2.0, 2.0, 0.0]], (3 * e(-0.5) + 4.0) / 5, 2 / 5),
    # --- none: 1 on every response token
    (TISLevel.NONE, [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], 1.0, 0.0),
]


@pytest.mark.parametrize("level, weights, mean, clipfrac", TIS_CASES, ids=[case[0].value for case in TIS_CASES])
def test_truncated_is_weights(level, weights, mean, clipfrac):
    result, stats = truncated_is_weights(TRAINER, ENGINE, MASK, level=level, cap=2.0)
    close(result, weights)
    close(stats.weight_mean, mean)
    close(stats.clipfrac, clipfrac)
    assert not result.requires_grad


def test_truncated_is_weights_default_is_token_level_with_cap_2_and_string_levels():
    close(truncated_is_weights(TRAINER, ENGINE, MASK)[0], TIS_CASES[0][1])
    close(truncated_is_weights(TRAINER, ENGINE, MASK, level="sequence", cap=3.5)[0], [[e(-0.5)] * 3, [e(1.2), e(1.2), 0.0]])


def test_sequence_weight_of_a_long_far_off_response_is_capped_not_infinite():
    # 10 tokens each 100 nats more likely to the trainer: exp(1000) overflows to inf; the cap makes it 2
    weights, stats = truncated_is_weights(t([[0.0] * 10]), t([[-100.0] * 10]), t([[1] * 10]), level=TISLevel.SEQUENCE)
    close(weights, [[2.0] * 10])
    close(stats.clipfrac, 1.0)


def test_truncated_is_weights_carry_no_gradient_from_the_trainer_logprobs():
    trainer = TRAINER.clone().requires_grad_(True)
    weights, _ = truncated_is_weights(trainer, ENGINE, MASK)
    assert weights.grad_fn is None


BAD_INPUTS = [
    # what, trainer, engine, mask, message
    ("NaN engine logprob on a response token", TRAINER, t([[-1.5, float("nan"), -0.5], [-1.0, -0.5, 0.0]]), MASK, r"engine_logprobs is nan at response token \(row 0, column 1\)"),
    ("-inf trainer logprob on a response token", t([[-1.0, -2.0, -0.5], [-0.1, -math.inf, 7.0]]), ENGINE, MASK, r"trainer_logprobs is -inf at response token \(row 1, column 1\)"),
    ("shapes differ", TRAINER, ENGINE[:, :2], MASK, "same"),
]


@pytest.mark.parametrize("what, trainer, engine, mask, message", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_logprobs_are_named(what, trainer, engine, mask, message):
    with pytest.raises(ValueError, match=message):
        truncated_is_weights(trainer, engine, mask)
    with pytest.raises(ValueError, match=message):
        logprob_mismatch(trainer, engine, mask)


def test_cap_must_exceed_one():
    with pytest.raises(ValueError, match="cap"):
        truncated_is_weights(TRAINER, ENGINE, MASK, cap=1.0)


# --------------------------------------------------------------------------- mismatch metric


def test_logprob_mismatch_by_hand():
    mismatch = logprob_mismatch(TRAINER, ENGINE, MASK)
    # |trainer - engine| on the 5 response tokens: 0.5, 1.0, 0.0, 0.9, 0.3 (the padding's inf is ignored)
    close(mismatch.gap_mean, 2.7 / 5)
    close(mismatch.gap_max, 1.0)
    # k3 of KL(engine || trainer) with d = trainer - engine: exp(d) - 1 - d per token
    #   0.5: 1.6487213 - 1.5 = 0.1487213; -1: 0.3678794 - 1 + 1 = 0.3678794; 0: 0
    #   0.9: 2.4596031 - 1.9 = 0.5596031; 0.3: 1.3498588 - 1.3 = 0.0498588; sum 1.1260626, mean 0.2252125
    close(mismatch.kl, sum(e(d) - 1 - d for d in (0.5, -1.0, 0.0, 0.9, 0.3)) / 5)
    close(mismatch.kl, 0.2252125, tol=1e-7)


def test_logprob_mismatch_is_zero_when_engine_and_trainer_agree():
    mismatch = logprob_mismatch(TRAINER, TRAINER.clone(), MASK)
    for value in (mismatch.gap_mean, mismatch.gap_max, mismatch.kl):
        close(value, 0.0)
