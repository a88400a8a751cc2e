"""The DPO losses (sigmoid, label-smoothed sigmoid, dpo_norm, ipo) against losses and gradients worked out by hand.

Each row gives the four sequence log-probabilities (policy chosen / rejected, reference chosen / rejected),
the response lengths, and the expected loss, d loss / d policy_chosen, d loss / d policy_rejected and the
implicit rewards. The log-ratios are picked so that ``beta * h`` is ``ln 3``, ``0`` or ``-ln 3``, where
``sigmoid`` is 3/4, 1/2 and 1/4: every expected value is a small fraction or logarithm.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from rlvr_gym.trainers.algorithms.dpo import dpo_loss, sequence_logps  # noqa: E402
from rlvr_gym.trainers.dpo_config import DPOLoss  # noqa: E402
from tests.trainers.algorithms.tensors import close, t  # noqa: E402

L3 = math.log(3.0)

# beta, kind, eps, (pi_c, pi_r, ref_c, ref_r), (n_c, n_r), loss, dL/dpi_c, dL/dpi_r, (reward_c, reward_r)
CASES = [
    # --- sigmoid (DPO), beta 0.5: c = ln3, r = -ln3, h = 2 ln3, beta h = ln3: loss -ln(3/4), grad -beta * sigmoid(-beta h) = -1/8
    (0.5, DPOLoss.SIGMOID, 0.0, (-2 + L3, -3 - L3, -2, -3), (5, 7), math.log(4 / 3), -1 / 8, 1 / 8, (L3 / 2, -L3 / 2)),
    # h = 0: loss ln 2, grad -beta / 2
    (0.5, DPOLoss.SIGMOID, 0.0, (-4, -6, -4, -6), (5, 7), math.log(2), -1 / 4, 1 / 4, (0, 0)),
    # reversed pair, beta h = -ln3: loss -ln(1/4) = ln 4, grad -beta * 3/4
    (0.5, DPOLoss.SIGMOID, 0.0, (-2 - L3, -3 + L3, -2, -3), (5, 7), math.log(4), -3 / 8, 3 / 8, (-L3 / 2, L3 / 2)),
    # lengths never matter to sigmoid
    (0.5, DPOLoss.SIGMOID, 0.0, (-2 + L3, -3 - L3, -2, -3), (1, 100), math.log(4 / 3), -1 / 8, 1 / 8, (L3 / 2, -L3 / 2)),
    # --- sigmoid with label smoothing eps = 1/4: -(3/4) ln sigmoid(bh) - (1/4) ln sigmoid(-bh)
    # beta h = ln3: sigmoid = 3/4 = 1 - eps, the smoothed loss's minimum: gradient 0
    (0.5, DPOLoss.SIGMOID, 0.25, (-2 + L3, -3 - L3, -2, -3), (5, 7), 0.75 * math.log(4 / 3) + 0.25 * math.log(4), 0.0, 0.0, (L3 / 2, -L3 / 2)),
    # h = 0: loss ln 2, grad -beta ((3/4)(1/2) - (1/4)(1/2)) = -1/8
    (0.5, DPOLoss.SIGMOID, 0.25, (-4, -6, -4, -6), (5, 7), math.log(2), -1 / 8, 1 / 8, (0, 0)),
    # reversed, beta h = -ln3: loss (3/4) ln 4 + (1/4) ln(4/3), grad -beta ((3/4)(3/4) - (1/4)(1/4)) = -1/4
    (0.5, DPOLoss.SIGMOID, 0.25, (-2 - L3, -3 + L3, -2, -3), (5, 7), 0.75 * math.log(4) + 0.25 * math.log(4 / 3), -1 / 4, 1 / 4, (-L3 / 2, L3 / 2)),
    # --- dpo_norm, beta 2, n_c 2, n_r 4: c = ln3 / 2 per token, r = 0, beta h = ln3; grads -beta (1/4) / n_c and +beta (1/4) / n_r
    (2.0, DPOLoss.DPO_NORM, 0.0, (-5 + L3, -7, -5, -7), (2, 4), math.log(4 / 3), -1 / 4, 1 / 8, (L3, 0)),
    # n_c 4: c = ln3 / 4 per token, so beta 4 gives beta h = ln3 again; grads -(4)(1/4)/4 and +(4)(1/4)/4
    (4.0, DPOLoss.DPO_NORM, 0.0, (-5 + L3, -7, -5, -7), (4, 4), math.log(4 / 3), -1 / 4, 1 / 4, (L3, 0)),
    # reversed: r = ln3 / 4 per token over n_r 4, beta 4: beta h = -ln3: loss ln 4, grads -(4)(3/4)/2 and +(4)(3/4)/4
    (4.0, DPOLoss.DPO_NORM, 0.0, (-5, -7 + L3, -5, -7), (2, 4), math.log(4), -3 / 2, 3 / 4, (0, L3)),
    # with label smoothing 1/4 at beta h = ln3: the minimum again
    (2.0, DPOLoss.DPO_NORM, 0.25, (-5 + L3, -7, -5, -7), (2, 4), 0.75 * math.log(4 / 3) + 0.25 * math.log(4), 0.0, 0.0, (L3, 0)),
    # --- ipo, beta (tau) 0.5: target 1/(2 beta) = 1; c = 4/2 = 2, r = -1/1 = -1, h = 3: loss (3-1)^2 = 4,
    # grads 2 (h - 1) / n_c = 2 and -2 (h - 1) / n_r = -4
    (0.5, DPOLoss.IPO, 0.0, (0, -2, -4, -1), (2, 1), 4.0, 2.0, -4.0, (1.0, -0.5)),
    # c = 2/2 = 1, r = 0, h = 1 = target: loss 0, no gradient (IPO stops pushing, unlike DPO)
    (0.5, DPOLoss.IPO, 0.0, (-1, -3, -3, -3), (2, 4), 0.0, 0.0, 0.0, (0.5, 0.0)),
    # h = 0: loss 1, grads -2 / n_c = -1/2 and 2 / n_r = 1/4
    (0.5, DPOLoss.IPO, 0.0, (-4, -6, -4, -6), (4, 8), 1.0, -0.5, 0.25, (0.0, 0.0)),
    # beta 0.25: target 2; c = 6/3 = 2, r = 0, h = 2: loss 0
    (0.25, DPOLoss.IPO, 0.0, (0, -1, -6, -1), (3, 5), 0.0, 0.0, 0.0, (0.5, 0.0)),
]


def _run(beta, kind, eps, logps, lengths, count=None):
    pc, pr, rc, rr = (t([x]).requires_grad_(i < 2) for i, x in enumerate(logps))
    nc, nr = t([lengths[0]]), t([lengths[1]])
    loss, stats = dpo_loss(pc, pr, rc, rr, beta, kind, eps, nc, nr, count=count)
    loss.backward()
    return loss, stats, pc.grad, pr.grad


@pytest.mark.parametrize("beta, kind, eps, logps, lengths, expected, grad_c, grad_r, rewards", CASES)
def test_loss_gradient_and_rewards_by_hand(beta, kind, eps, logps, lengths, expected, grad_c, grad_r, rewards):
    loss, stats, gc, gr = _run(beta, kind, eps, logps, lengths)
    close(loss, expected, 1e-12)
    close(gc, [grad_c], 1e-12)
    close(gr, [grad_r], 1e-12)
    close(stats.chosen_rewards, [rewards[0]], 1e-12)
    close(stats.rejected_rewards, [rewards[1]], 1e-12)
    close(stats.margins, [rewards[0] - rewards[1]], 1e-12)
    close(stats.accurate, [1.0 if rewards[0] > rewards[1] else 0.0])


@pytest.mark.parametrize("kind", list(DPOLoss))
def test_batch_is_the_mean_of_its_rows_and_micro_batches_sum_to_it(kind):
    rows = [case for case in CASES if case[1] is kind and case[0] == {DPOLoss.SIGMOID: 0.5, DPOLoss.DPO_NORM: 2.0, DPOLoss.IPO: 0.5}[kind]]
    rows = [case for case in rows if case[2] == 0.0]
    beta = rows[0][0]
    logps = [t([case[3][i] for case in rows]).requires_grad_(i < 2) for i in range(4)]
    lengths = [t([case[4][i] for case in rows]) for i in range(2)]
    loss, stats = dpo_loss(*logps, beta, kind, 0.0, *lengths)
    loss.backward()
    close(loss, sum(case[5] for case in rows) / len(rows), 1e-12)
    close(logps[0].grad, [case[6] / len(rows) for case in rows], 1e-12)  # the mean divides each pair's gradient by B
    close(logps[1].grad, [case[7] / len(rows) for case in rows], 1e-12)
    close(stats.losses, [case[5] for case in rows], 1e-12)
    # gradient accumulation: each part divided by the whole batch's count, the parts sum to the whole
    parts = [dpo_loss(*(x[i : i + 1].detach() for x in logps), beta, kind, 0.0, *(n[i : i + 1] for n in lengths), count=len(rows))[0] for i in range(len(rows))]
    close(sum(parts), loss.detach(), 1e-12)


def test_sequence_logps_sum_over_the_response_mask_only():
    logprobs = t([[0.0, -1.0, -2.0, -9.0], [0.0, -0.5, -9.0, -9.0]])
    mask = t([[0, 1, 1, 0], [0, 1, 0, 0]])
    sums, counts = sequence_logps(logprobs, mask)
    close(sums, [-3.0, -0.5])
    close(counts, [2.0, 1.0])


BAD = [
    # --- arguments the losses refuse, with the reason named
    (dict(beta=0.0), "beta must be > 0"),
    (dict(label_smoothing=0.5), "label_smoothing must lie in"),
    (dict(kind=DPOLoss.IPO, label_smoothing=0.1), "sigmoid and dpo_norm only"),
    (dict(kind=DPOLoss.DPO_NORM, chosen_lengths=None), "divides by the response lengths"),
    (dict(kind=DPOLoss.IPO, rejected_lengths=t([0.0])), "at least one token"),
    (dict(count=0), "count must be > 0"),
    (dict(ref_rejected_logps=t([0.0, 1.0])), "one shape"),
]


@pytest.mark.parametrize("changes, message", BAD)
def test_bad_arguments_are_named(changes, message):
    args = dict(
        policy_chosen_logps=t([0.0]),
        policy_rejected_logps=t([0.0]),
        ref_chosen_logps=t([0.0]),
        ref_rejected_logps=t([0.0]),
        beta=0.1,
        kind=DPOLoss.SIGMOID,
        label_smoothing=0.0,
        chosen_lengths=t([1.0]),
        rejected_lengths=t([1.0]),
    )
    args.update(changes)
    with pytest.raises(ValueError, match=message):
        dpo_loss(**args)
