"""Loss aggregation, the clipped policy loss's knobs and the KL loss term, against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from rlvr_gym.trainers.algorithms.losses import aggregate_loss, clipped_policy_loss, kl_loss  # noqa: E402
from rlvr_gym.trainers.algorithms.ppo import ppo_policy_loss  # noqa: E402
from rlvr_gym.trainers.config import KLEstimator, LossAggregation  # noqa: E402
from tests.trainers.algorithms.tensors import t  # noqa: E402


def close(actual: torch.Tensor, expected, tol: float = 1e-12) -> None:
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=tol, rtol=0)


TOKEN, SEQ_MEAN, SUM_NORM = LossAggregation.TOKEN_MEAN, LossAggregation.SEQ_MEAN_TOKEN_MEAN, LossAggregation.SEQ_MEAN_TOKEN_SUM_NORM

# --------------------------------------------------------------------------- aggregation

# rows of 3, 1 and 2 response tokens; the 9s sit on padding and must not count
LOSSES = [[1, 2, 3, 9], [4, 9, 9, 9], [5, 5, 9, 9]]
MASK = [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]]

AGGREGATION_CASES = [
    # mode, expected loss, expected gradient d loss / d x per row (0 on padding)
    # --- token mean: (1 + 2 + 3 + 4 + 5 + 5) / 6 tokens = 20/6; every token weighs 1/6
    (TOKEN, 20 / 6, [1 / 6, 1 / 6, 1 / 6]),
    # --- sequence mean of token means: row means 2, 4, 5 -> 11/3; a token weighs 1 / (3 rows * its row's length)
    (SEQ_MEAN, 11 / 3, [1 / 9, 1 / 3, 1 / 6]),
    # --- Dr. GRPO: row sums 6, 4, 10 over max_length 4, mean over 3 rows: 20 / 12; every token weighs 1/12
    (SUM_NORM, 20 / 12, [1 / 12, 1 / 12, 1 / 12]),
]


@pytest.mark.parametrize("mode, expected, grad_per_row", AGGREGATION_CASES, ids=[case[0].value for case in AGGREGATION_CASES])
def test_aggregation_value_and_gradient(mode, expected, grad_per_row):
    x = t(LOSSES).requires_grad_(True)
    loss = aggregate_loss(x, t(MASK), mode, max_length=4)
    close(loss.detach(), expected)
    loss.backward()
    close(x.grad, [[g * m for m in row] for g, row in zip(grad_per_row, MASK)])


EMPTY_ROW_CASES = [
    # the same batch plus a fourth row with no unmasked token (a truncated response masked out)
    # --- token mean: no change, 20/6
    (TOKEN, 20 / 6),
    # --- sequence modes: the empty row counts as a sequence of loss 0 (as TRL): 11/4 and 20/16
    (SEQ_MEAN, 11 / 4),
    (SUM_NORM, 20 / 16),
]


@pytest.mark.parametrize("mode, expected", EMPTY_ROW_CASES, ids=[case[0].value for case in EMPTY_ROW_CASES])
def test_aggregation_with_an_empty_row(mode, expected):
    loss = aggregate_loss(t(LOSSES + [[7, 7, 7, 7]]), t(MASK + [[0, 0, 0, 0]]), mode, max_length=4)
    close(loss, expected)


@pytest.mark.parametrize("mode, count", [(TOKEN, 6), (SEQ_MEAN, 3), (SUM_NORM, 3)], ids=["token_mean", "seq_mean", "sum_norm"])
def test_aggregation_over_micro_batches_adds_up_to_the_whole(mode, count):
    # micro-batches rows [0] and [1, 2], each divided by the whole mini-batch's count (6 tokens, or 3 rows)
    whole = aggregate_loss(t(LOSSES), t(MASK), mode, max_length=4)
    parts = [aggregate_loss(t(LOSSES)[rows], t(MASK)[rows], mode, max_length=4, count=count) for rows in ([0], [1, 2])]
    close(parts[0] + parts[1], whole)


def test_aggregation_errors_and_all_masked():
    with pytest.raises(ValueError, match="max_length"):
        aggregate_loss(t(LOSSES), t(MASK), SUM_NORM)
    with pytest.raises(ValueError, match="max_length"):
        aggregate_loss(t(LOSSES), t(MASK), "seq_mean_token_sum_norm", max_length=0)
    with pytest.raises(ValueError):
        aggregate_loss(t(LOSSES), t(MASK), "sum")  # not a LossAggregation
    with pytest.raises(ValueError, match="count"):
        aggregate_loss(t(LOSSES), t(MASK), "token_mean", count=0)
    close(aggregate_loss(t([[3.0, 4.0]]), t([[0, 0]]), "token_mean"), 0.0)  # no token: no loss, not NaN


# --------------------------------------------------------------------------- clipped policy loss


def logprobs_for(ratios, old=-1.0):
    """Old logprobs of ``old`` and current ones giving these ratios (a gradient leaf)."""
    old_logprobs = t([[old] * len(ratios)])
    return (old_logprobs + torch.log(t([ratios]))).requires_grad_(True), old_logprobs


def test_symmetric_clip_equals_ppo_policy_loss():
    # the case of test_ppo.py: ratios 1.5, 0.5, 0.5, 1.5 (+ padding), advantages +1, -1, +1, -1; loss 0.15
    advantages, mask = t([[1.0, -1.0, 1.0, -1.0, 100.0]]), t([[1, 1, 1, 1, 0]])
    logprobs, old = logprobs_for([1.5, 0.5, 0.5, 1.5, 3.0])
    loss, stats = clipped_policy_loss(logprobs, old, advantages, mask, clip_low=0.2, clip_high=0.2)
    loss.backward()
    reference_logprobs = logprobs.detach().clone().requires_grad_(True)
    reference, reference_stats = ppo_policy_loss(reference_logprobs, old, advantages, mask, clip_coef=0.2)
    reference.backward()
    close(loss.detach(), 0.15)
    close(loss.detach(), reference.detach())
    close(logprobs.grad, reference_logprobs.grad)
    for name in ("clipfrac", "approx_kl", "ratio_mean"):
        close(getattr(stats, name), getattr(reference_stats, name))
    # of the 4 tokens: A=+1 at r=1.5 clipped high, A=-1 at r=0.5 clipped low
    close(stats.clipfrac_high, 0.25)
    close(stats.clipfrac_low, 0.25)
    close(stats.dual_clipfrac, 0.0)


def test_clip_higher_lets_positive_advantages_grow_further():
    # clip_low 0.2, clip_high 0.28: the range is [0.8, 1.28]; per token max(-A r, -A clip(r)):
    #   A=+1, r=1.25: clip 1.25     -> -1.25  inside (a symmetric 0.2 would clip it to -1.2)
    #   A=+1, r=1.30: clip 1.28     -> -1.28  clipped high (no gradient)
    #   A=-1, r=0.75: clip 0.80     ->  0.80  clipped low (no gradient)
    #   A=-1, r=0.85: inside        ->  0.85
    #   A=+1, r=0.50: max(-0.5, -0.8) -> -0.5 unclipped (the pessimistic side)
    # token mean: (-1.25 - 1.28 + 0.80 + 0.85 - 0.50) / 5 = -1.38 / 5 = -0.276
    advantages, mask = t([[1.0, 1.0, -1.0, -1.0, 1.0]]), t([[1, 1, 1, 1, 1]])
    logprobs, old = logprobs_for([1.25, 1.30, 0.75, 0.85, 0.50])
    loss, stats = clipped_policy_loss(logprobs, old, advantages, mask, clip_low=0.2, clip_high=0.28)
    close(loss.detach(), -0.276)
    close(stats.clipfrac, 0.4)
    close(stats.clipfrac_high, 0.2)
    close(stats.clipfrac_low, 0.2)
    loss.backward()
    # d(-A r)/d logp = -A r, over 5 tokens: token 0: -1.25/5 = -0.25; token 3: 0.85/5 = 0.17; token 4: -0.5/5 = -0.1
    close(logprobs.grad, [[-0.25, 0.0, 0.0, 0.17, -0.1]])


def test_dual_clip_bounds_negative_advantages_with_large_ratios():
    # clip 0.2 both sides, dual clip c = 3; per token L = max(-A r, -A clip(r, 0.8, 1.2)), then min(L, -A c) if A < 0:
    #   A=-1, r=5: L = max(5, 1.2) = 5; bound 3       -> 3  dual clip (no gradient)
    #   A=-1, r=2: L = max(2, 1.2) = 2; bound 3       -> 2  (gradient: -A r = 2)
    #   A=+1, r=5: L = max(-5, -1.2) = -1.2 clipped   -> -1.2 (positive A: no dual clip)
    #   A=-2, r=4: L = max(8, 2.4) = 8; bound 6       -> 6  dual clip
    # token mean (3 + 2 - 1.2 + 6) / 4 = 2.45; without the dual clip (5 + 2 - 1.2 + 8) / 4 = 3.45
    advantages, mask = t([[-1.0, -1.0, 1.0, -2.0]]), t([[1, 1, 1, 1]])
    logprobs, old = logprobs_for([5.0, 2.0, 5.0, 4.0])
    loss, stats = clipped_policy_loss(logprobs, old, advantages, mask, dual_clip=3.0)
    close(loss.detach(), 2.45)
    close(clipped_policy_loss(logprobs, old, advantages, mask)[0].detach(), 3.45)
    close(stats.dual_clipfrac, 0.5)
    close(stats.clipfrac, 0.25)  # only token 2 used the clipped term
    close(stats.clipfrac_high, 0.25)
    loss.backward()
    close(logprobs.grad, [[0.0, 2.0 / 4, 0.0, 0.0]])


def test_importance_weights_scale_each_token_and_carry_no_gradient():
    # on policy (ratio 1): per token -A * w = -[1 * 0.5, 2 * 2.0] = [-0.5, -4.0]; mean -2.25
    advantages, mask = t([[1.0, 2.0]]), t([[1, 1]])
    logprobs, old = logprobs_for([1.0, 1.0])
    weights = t([[0.5, 2.0]]).requires_grad_(True)
    loss, _ = clipped_policy_loss(logprobs, old, advantages, mask, weights=weights)
    close(loss.detach(), -2.25)
    loss.backward()
    close(logprobs.grad, [[-0.5 / 2, -4.0 / 2]])  # -A r w / 2 tokens
    assert weights.grad is None
    sequence_weights = t([[0.5]])  # (B, 1): one weight for the whole response
    close(clipped_policy_loss(logprobs, old, advantages, mask, weights=sequence_weights)[0].detach(), -0.75)  # -(1 + 2) * 0.5 / 2


AGGREGATED_POLICY_CASES = [
    # on policy, advantages [[1, 1, 1], [4, -, -]]: per-token loss -A = [[-1, -1, -1], [-4]]
    # --- token mean: -7 / 4 tokens
    (TOKEN, -7 / 4),
    # --- sequence mean of token means: (-1 + -4) / 2 rows
    (SEQ_MEAN, -2.5),
    # --- Dr. GRPO with max_length 3: (-3 - 4) / (2 rows * 3)
    (SUM_NORM, -7 / 6),
]


@pytest.mark.parametrize("mode, expected", AGGREGATED_POLICY_CASES, ids=[case[0].value for case in AGGREGATED_POLICY_CASES])
def test_policy_loss_aggregation(mode, expected):
    logprobs = t([[-1.0, -2.0, -3.0], [-0.5, 0.0, 0.0]])
    loss, _ = clipped_policy_loss(logprobs, logprobs.clone(), t([[1, 1, 1], [4, 9, 9]]), t([[1, 1, 1], [1, 0, 0]]), aggregation=mode, max_length=3)
    close(loss, expected)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"clip_low": 1.0}, "clip_low"),
        ({"clip_low": 0.0}, "clip_low"),
        ({"clip_high": 0.0}, "clip_high"),
        ({"dual_clip": 1.0}, "dual_clip"),
    ],
)
def test_clip_options_are_checked(options, message):
    logprobs = t([[-1.0]])
    with pytest.raises(ValueError, match=message):
        clipped_policy_loss(logprobs, logprobs, t([[1.0]]), t([[1]]), **options)


# --------------------------------------------------------------------------- KL as a loss term


def test_kl_loss_k3_value_and_gradient():
    logprobs = t([[-1.0, -2.0]]).requires_grad_(True)
    ref = t([[-1.5, -1.0]])
    loss = kl_loss(logprobs, ref, t([[1, 1]]), kl_coef=0.1)
    # k3 = exp(ref - logp) - (ref - logp) - 1: exp(-0.5) - 0.5 = 0.10653066, e - 2 = 0.71828183 (test_ppo.py)
    # 0.1 * (0.10653066 + 0.71828183) / 2 = 0.041240625
    close(loss.detach(), 0.1 * (math.exp(-0.5) - 0.5 + math.e - 2) / 2)
    close(loss.detach(), 0.0412406, tol=1e-7)
    loss.backward()
    # d k3 / d logp = 1 - exp(ref - logp): 1 - exp(-0.5) = 0.39346934, 1 - e = -1.71828183; times 0.1 / 2 tokens
    close(logprobs.grad, [[0.1 * (1 - math.exp(-0.5)) / 2, 0.1 * (1 - math.e) / 2]])


def test_kl_loss_adds_to_the_policy_loss_like_one_per_token_loss():
    logprobs = t([[-1.0, -2.0], [-1.0, -3.0]])
    ref = t([[-1.5, -1.0], [-1.0, -3.0]])
    advantages, mask = t([[1.0, 2.0], [3.0, 0.0]]), t([[1, 1], [1, 0]])
    policy, _ = clipped_policy_loss(logprobs, logprobs.clone(), advantages, mask, aggregation=SEQ_MEAN)
    kl = kl_loss(logprobs, ref, mask, kl_coef=0.1, aggregation=SEQ_MEAN)
    # per token -A + 0.1 * k3: row 0: [-1 + 0.010653066, -2 + 0.071828183], mean -1.4587593755
    #                          row 1: [-3 + 0]                                 mean -3
    # sequence mean: (-1.4587593755 - 3) / 2
    row0 = (-1 + 0.1 * (math.exp(-0.5) - 0.5) - 2 + 0.1 * (math.e - 2)) / 2
    close(policy + kl, (row0 - 3) / 2)
    close(policy + kl, -2.22937969, tol=1e-8)


def test_kl_loss_other_estimators_and_checks():
    logprobs, ref, mask = t([[-1.0, -2.0]]), t([[-1.5, -1.0]]), t([[1, 1]])
    close(kl_loss(logprobs, ref, mask, 1.0, kind=KLEstimator.K1), (0.5 - 1.0) / 2)  # log ratios 0.5, -1
    close(kl_loss(logprobs, ref, mask, 1.0, kind="k2"), (0.125 + 0.5) / 2)
    close(kl_loss(logprobs, ref, mask, 0.0), 0.0)
    with pytest.raises(ValueError, match="kl_coef"):
        kl_loss(logprobs, ref, mask, -0.1)
