"""PPO math against numbers worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from rlvr_gym.trainers.algorithms.ppo import (  # noqa: E402
    KLControl,
    KLControlConfig,
    KLEstimator,
    adaptive_kl_coef,
    ema_update,
    gae,
    kl_penalty,
    masked_mean,
    masked_var,
    masked_whiten,
    next_kl_coef,
    per_token_rewards,
    ppo_policy_loss,
    value_loss,
)
from tests.trainers.algorithms.tensors import close, on_two_processes, t  # noqa: E402

# --------------------------------------------------------------------------- masked statistics


def test_masked_mean_all_and_per_row():
    x = t([[1, 2, 3], [4, 5, 6]])
    mask = t([[1, 1, 0], [1, 0, 0]])
    close(masked_mean(x, mask), 7 / 3)  # (1 + 2 + 4) / 3
    close(masked_mean(x, mask, dim=1), [1.5, 4.0])  # (1 + 2) / 2, 4 / 1


def test_masked_mean_of_empty_mask_is_zero_not_nan():
    close(masked_mean(t([[1.0, 2.0]]), t([[0, 0]])), 0.0)


def test_masked_var_unbiased_and_biased():
    x = t([[1, 2, 3, 100]])
    mask = t([[1, 1, 1, 0]])
    # mean 2; squared deviations 1, 0, 1 -> sum 2
    close(masked_var(x, mask), 1.0)  # 2 / (3 - 1)
    close(masked_var(x, mask, unbiased=False), 2 / 3)  # 2 / 3


def test_masked_whiten_ignores_masked_values():
    x = t([[1, 2, 3, 100]])
    mask = t([[1, 1, 1, 0]])
    # mean 2, unbiased var 1 -> (x - 2) / 1; the masked 100 neither counts nor survives
    close(masked_whiten(x, mask), [[-1.0, 0.0, 1.0, 0.0]], tol=1e-7)


def test_masked_whiten_without_mean_shift_keeps_the_mean():
    x = t([[2, 4], [6, 0]])
    mask = t([[1, 1], [1, 0]])
    # unmasked 2, 4, 6: mean 4; deviations -2, 0, 2 -> unbiased var (4 + 0 + 4) / 2 = 4, std 2
    close(masked_whiten(x, mask), [[-1.0, 0.0], [1.0, 0.0]], tol=1e-7)  # (x - 4) / 2
    close(masked_whiten(x, mask, shift_mean=False), [[3.0, 4.0], [5.0, 0.0]], tol=1e-7)  # (x - 4) / 2 + 4


def test_masked_whiten_with_the_batch_split_over_two_processes():
    """Each "process" (a thread) holds one row; ``all_reduce_sum`` adds both threads' tensors."""
    rows = [t([[2, 4]]), t([[6, 0]])]
    masks = [t([[1, 1]]), t([[1, 0]])]
    out = on_two_processes(lambda rank, all_reduce_sum: masked_whiten(rows[rank], masks[rank], all_reduce_sum=all_reduce_sum))
    # the whole batch 2, 4 | 6: mean 4, unbiased var 4 (as in the test above), each row whitened with it
    close(out[0], [[-1.0, 0.0]], tol=1e-7)
    close(out[1], [[1.0, 0.0]], tol=1e-7)


# --------------------------------------------------------------------------- KL and rewards


def test_kl_estimators_k1_k2_k3():
    logprobs = t([[-1.0, -2.0]])
    ref_logprobs = t([[-1.5, -1.0]])
    # log_ratio = logp - ref = [0.5, -1.0]
    close(kl_penalty(logprobs, ref_logprobs, KLEstimator.K1), [[0.5, -1.0]])
    # k2 = log_ratio^2 / 2 = [0.125, 0.5]
    close(kl_penalty(logprobs, ref_logprobs, KLEstimator.K2), [[0.125, 0.5]])
    # k3: r = exp(ref - logp) = [exp(-0.5), exp(1)] = [0.60653066, 2.71828183]
    #     (r - 1) - log r = [0.60653066 - 1 + 0.5, 2.71828183 - 1 - 1] = [0.10653066, 0.71828183]
    close(kl_penalty(logprobs, ref_logprobs, KLEstimator.K3), [[0.10653066, 0.71828183]], tol=1e-8)


def test_kl_estimators_are_zero_when_policy_equals_reference():
    x = t([[-0.3, -2.0, -7.0]])
    for kind in KLEstimator:
        close(kl_penalty(x, x, kind), [[0.0, 0.0, 0.0]])


def test_kl_estimator_accepts_its_string_value():
    close(kl_penalty(t([[-1.0]]), t([[-1.5]]), "k2"), [[0.125]])


def test_per_token_rewards_puts_the_sequence_reward_on_the_last_response_token():
    seq_reward = t([1.0, 0.0, 5.0])
    kl = t([[0.1, 0.2, 0.3, 0.4], [0.5, -0.5, 0.2, 0.9], [1.0, 1.0, 1.0, 1.0]])
    mask = t([[1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 0, 0]])
    rewards = per_token_rewards(seq_reward, kl, kl_coef=0.5, mask=mask)
    # row 0: -0.5 * [0.1, 0.2, 0.3] = [-0.05, -0.1, -0.15]; +1.0 on token 2 -> 0.85; padding 0
    # row 1: prompt column 0 masked; -0.5 * [-0.5, 0.2, 0.9] = [0.25, -0.1, -0.45]; +0.0 on token 3
    # row 2: no response token at all -> no KL and no sequence reward
    close(rewards, [[-0.05, -0.1, 0.85, 0.0], [0.0, 0.25, -0.1, -0.45], [0.0, 0.0, 0.0, 0.0]])


# --------------------------------------------------------------------------- GAE


def test_gae_gamma_1_lambda_095_three_tokens_right_padded():
    rewards = t([[0.0, 0.0, 1.0, 5.0]])  # the 5.0 sits on padding and must be ignored
    values = t([[0.5, 0.6, 0.7, 9.0]])  # so must the 9.0
    mask = t([[1, 1, 1, 0]])
    advantages, returns = gae(rewards, values, mask, gamma=1.0, gae_lambda=0.95)
    # t=2 (last token, V after it is 0): delta2 = 1 + 1*0 - 0.7 = 0.3;            A2 = 0.3
    # t=1: delta1 = 0 + 1*0.7 - 0.6 = 0.1;  A1 = 0.1 + 1*0.95*0.3   = 0.385
    # t=0: delta0 = 0 + 1*0.6 - 0.5 = 0.1;  A0 = 0.1 + 1*0.95*0.385 = 0.46575
    close(advantages, [[0.46575, 0.385, 0.3, 0.0]])
    # returns = A + V = [0.96575, 0.985, 1.0], 0 on padding
    close(returns, [[0.96575, 0.985, 1.0, 0.0]])


def test_gae_skips_a_masked_prompt_and_rows_are_independent():
    rewards = t([[0.0, 0.0, 1.0, 0.0], [7.0, 0.0, 0.0, 1.0]])
    values = t([[0.5, 0.6, 0.7, 0.0], [3.0, 0.5, 0.6, 0.7]])
    mask = t([[1, 1, 1, 0], [0, 1, 1, 1]])  # row 1: the same episode after a one-token prompt
    advantages, returns = gae(rewards, values, mask, gamma=1.0, gae_lambda=0.95)
    close(advantages, [[0.46575, 0.385, 0.3, 0.0], [0.0, 0.46575, 0.385, 0.3]])
    close(returns, [[0.96575, 0.985, 1.0, 0.0], [0.0, 0.96575, 0.985, 1.0]])


def test_gae_with_lambda_1_is_the_discounted_monte_carlo_return_minus_value():
    rewards = t([[1.0, 2.0]])
    values = t([[0.25, 0.5]])
    mask = t([[1, 1]])
    advantages, returns = gae(rewards, values, mask, gamma=0.5, gae_lambda=1.0)
    # returns: G1 = 2; G0 = 1 + 0.5*2 = 2  ->  A = G - V = [2 - 0.25, 2 - 0.5] = [1.75, 1.5]
    close(returns, [[2.0, 2.0]])
    close(advantages, [[1.75, 1.5]])


# --------------------------------------------------------------------------- PPO policy loss


def test_ppo_policy_loss_clips_both_sides():
    clip = 0.2
    ratios = [1.5, 0.5, 0.5, 1.5, 3.0]
    old = t([[-1.0] * 5])
    logprobs = (old + torch.log(t([ratios]))).requires_grad_(True)
    advantages = t([[1.0, -1.0, 1.0, -1.0, 100.0]])
    mask = t([[1, 1, 1, 1, 0]])  # the last token is padding
    loss, stats = ppo_policy_loss(logprobs, old, advantages, mask, clip_coef=clip)
    # per token max(-A*r, -A*clip(r, 0.8, 1.2)):
    #   A=+1, r=1.5: max(-1.5, -1.2) = -1.2  clipped above (no gradient)
    #   A=-1, r=0.5: max( 0.5,  0.8) =  0.8  clipped below (no gradient)
    #   A=+1, r=0.5: max(-0.5, -0.8) = -0.5  unclipped (pessimistic side)
    #   A=-1, r=1.5: max( 1.5,  1.2) =  1.5  unclipped
    # mean = (-1.2 + 0.8 - 0.5 + 1.5) / 4 = 0.6 / 4 = 0.15
    close(loss.detach(), 0.15, tol=1e-12)
    close(stats.clipfrac, 0.5)  # 2 of the 4 tokens
    # approx_kl = mean(0.5 * log(r)^2): log 1.5 = 0.4054651, log 0.5 = -0.6931472
    #   0.5 * (0.1644019 + 0.4804530 + 0.4804530 + 0.1644019) / 4 = 0.1612137
    close(stats.approx_kl, 0.5 * (math.log(1.5) ** 2 + math.log(0.5) ** 2) / 2)
    close(stats.approx_kl, 0.1612137, tol=1e-7)
    close(stats.ratio_mean, 1.0)  # (1.5 + 0.5 + 0.5 + 1.5) / 4
    loss.backward()
    # d/dlogp of -A*r is -A*r (dr/dlogp = r), divided by the 4 tokens; clipped tokens get 0:
    #   token 2: -(+1)*0.5/4 = -0.125; token 3: -(-1)*1.5/4 = 0.375
    close(logprobs.grad, [[0.0, 0.0, -0.125, 0.375, 0.0]], tol=1e-12)


def test_ppo_policy_loss_on_policy_is_minus_mean_advantage():
    logprobs = t([[-1.0, -2.0, -3.0]])
    advantages = t([[1.0, 2.0, -0.5]])
    loss, stats = ppo_policy_loss(logprobs, logprobs.clone(), advantages, t([[1, 1, 1]]), clip_coef=0.2)
    close(loss, -(1.0 + 2.0 - 0.5) / 3)  # ratio 1 everywhere
    close(stats.clipfrac, 0.0)
    close(stats.approx_kl, 0.0)


# --------------------------------------------------------------------------- value loss


def test_value_loss_is_clipped_around_the_old_values():
    old_values = t([[0.0, 0.0, 0.0, 0.0, 0.0]])
    values = t([[0.5, 0.1, -0.5, 0.5, 42.0]]).requires_grad_(True)
    returns = t([[1.0, 1.0, -1.0, 0.3, 0.0]])
    mask = t([[1, 1, 1, 1, 0]])
    loss, stats = value_loss(values, old_values, returns, mask, clip_coef_value=0.2)
    # V_clip = 0 + clip(V - 0, -0.2, 0.2) = [0.2, 0.1, -0.2, 0.2]
    #   token 0: (0.5-1)^2 = 0.25, (0.2-1)^2 = 0.64     -> 0.64 (clipped larger)
    #   token 1: (0.1-1)^2 = 0.81, (0.1-1)^2 = 0.81     -> 0.81
    #   token 2: (-0.5+1)^2 = 0.25, (-0.2+1)^2 = 0.64   -> 0.64 (clipped larger)
    #   token 3: (0.5-0.3)^2 = 0.04, (0.2-0.3)^2 = 0.01 -> 0.04 (unclipped larger)
    # loss = 0.5 * (0.64 + 0.81 + 0.64 + 0.04) / 4 = 0.5 * 2.13 / 4 = 0.26625
    close(loss.detach(), 0.26625, tol=1e-12)
    close(stats.vf_clipfrac, 0.5)  # tokens 0 and 2
    loss.backward()
    # gradient flows only through unclipped terms: d/dV 0.5*(V-R)^2 / 4 = (V - R) / 4
    #   token 1: (0.1 - 1) / 4 = -0.225; token 3: (0.5 - 0.3) / 4 = 0.05; clipped tokens 0
    close(values.grad, [[0.0, -0.225, 0.0, 0.05, 0.0]], tol=1e-12)


# --------------------------------------------------------------------------- EMA


def test_ema_update_blends_in_place():
    ref = [t([1.0, 2.0]), t([[10.0]])]
    policy = [t([3.0, 6.0]), t([[0.0]])]
    ema_update(ref, policy, decay=0.9)
    # 0.9*1 + 0.1*3 = 1.2; 0.9*2 + 0.1*6 = 2.4; 0.9*10 + 0.1*0 = 9.0
    close(ref[0], [1.2, 2.4], tol=1e-12)
    close(ref[1], [[9.0]], tol=1e-12)


def test_ema_update_extremes_and_modules():
    ref_model = torch.nn.Linear(2, 1).double()
    policy_model = torch.nn.Linear(2, 1).double()
    before = [p.clone() for p in ref_model.parameters()]
    ema_update(ref_model.parameters(), policy_model.parameters(), decay=1.0)
    for p, b in zip(ref_model.parameters(), before):
        close(p.detach(), b)
    ema_update(ref_model.parameters(), policy_model.parameters(), decay=0.0)
    for p, q in zip(ref_model.parameters(), policy_model.parameters()):
        close(p.detach(), q.detach())
    with pytest.raises(ValueError):
        ema_update(ref_model.parameters(), policy_model.parameters(), decay=1.5)


# --------------------------------------------------------------------------- KL controllers


def test_adaptive_kl_controller_follows_ziegler():
    # current 9 vs target 6: error = clip(9/6 - 1 = 0.5, -0.2, 0.2) = 0.2
    #   0.1 * (1 + 0.2 * 256 / 10000) = 0.1 * 1.00512 = 0.100512
    assert adaptive_kl_coef(0.1, current_kl=9.0, target=6.0, horizon=10_000, n_steps=256) == pytest.approx(0.100512)
    # current 5.7: error = 5.7/6 - 1 = -0.05 -> 0.1 * (1 - 0.05 * 256 / 10000) = 0.1 * 0.99872 = 0.099872
    assert adaptive_kl_coef(0.1, current_kl=5.7, target=6.0, horizon=10_000, n_steps=256) == pytest.approx(0.099872)


def test_next_kl_coef_fixed_and_adaptive():
    fixed = KLControlConfig(kind=KLControl.FIXED, init_kl_coef=0.05)
    assert next_kl_coef(fixed, 0.05, current_kl=100.0, n_steps=256) == 0.05
    adaptive = KLControlConfig(kind="adaptive", init_kl_coef=0.1, target=6.0, horizon=10_000)
    assert adaptive.kind is KLControl.ADAPTIVE
    assert next_kl_coef(adaptive, 0.1, current_kl=9.0, n_steps=256) == pytest.approx(0.100512)
    with pytest.raises(ValueError):
        KLControlConfig(kind=KLControl.ADAPTIVE, target=0.0)
