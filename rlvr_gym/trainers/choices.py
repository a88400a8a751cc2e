"""Every variant of the trainer, one enum per choice (torch-free): the values that config fields take.

PPO's own (`RefUpdate`, `MissingEOSPenalty`, `KLEstimator`, `KLControl`) and the critic-free
estimators and loss knobs (`AdvantageEstimator`, `LossAggregation`, `KLMode`, `OverlongHandling`,
`TISLevel`), each value naming the equivalent option of TRL 1.16, open-instruct, veRL and OpenRLHF
as read in their sources. `rlvr_gym.trainers.config` re-exports them; the maths of
`rlvr_gym.trainers.algorithms` and the loop dispatch on them.
"""

from __future__ import annotations

from ..enums import StrEnum

__all__ = [
    "AdvantageEstimator",
    "KLControl",
    "KLEstimator",
    "KLMode",
    "LossAggregation",
    "MissingEOSPenalty",
    "OverlongHandling",
    "RefUpdate",
    "TISLevel",
]


class RefUpdate(StrEnum):
    """How the reference policy of the KL penalty evolves."""

    FROZEN = "frozen"
    """The starting policy, fixed for the whole run (Tülu 3, Ziegler et al.)."""
    EMA = "ema"
    """After each step's updates: ``ref = decay * ref + (1 - decay) * policy`` (`PPOConfig.ref_ema_decay`)."""


class MissingEOSPenalty(StrEnum):
    """What happens to the score of a response that hit ``max_new_tokens`` without emitting EOS."""

    NONE = "none"
    """Keep the verifier's score."""
    REPLACE = "replace"
    """Score it `PPOConfig.missing_eos_penalty` (negative), whatever the verifier said (Tülu 3's ``non_stop_penalty``)."""
    SUBTRACT = "subtract"
    """Subtract `PPOConfig.missing_eos_penalty` from the verifier's score (TRL's ``missing_eos_penalty``)."""


class KLEstimator(StrEnum):
    """Per-token estimators of ``KL(pi || pi_ref)`` from samples of ``pi`` (Schulman's note).

    With ``log_ratio = logprobs - ref_logprobs`` and ``r = exp(-log_ratio) = pi_ref / pi``:

    - ``k1``: ``log_ratio``. Unbiased, high variance, can be negative per token.
    - ``k2``: ``log_ratio ** 2 / 2``. Biased, low variance, never negative.
    - ``k3``: ``(r - 1) - log r``. Unbiased, low variance, never negative.
    """

    K1 = "k1"
    K2 = "k2"
    K3 = "k3"


class KLControl(StrEnum):
    """How the KL coefficient evolves: ``fixed`` or ``adaptive`` (Ziegler et al. 2019)."""

    FIXED = "fixed"
    ADAPTIVE = "adaptive"


class AdvantageEstimator(StrEnum):
    """How each response's advantage is estimated; all but ``gae`` need no value model (groups: n consecutive rows)."""

    GAE = "gae"
    """GAE with a value model (today's PPO). veRL ``algorithm.adv_estimator=gae``; OpenRLHF ``gae``;
    TRL's experimental ``PPOTrainer``; open-instruct: none (its PPO trainer was removed)."""
    GRPO = "grpo"
    """``(r - group mean) / (group std + eps)``, the unbiased (n - 1) std. TRL ``scale_rewards="group"``;
    veRL ``adv_estimator=grpo`` with ``norm_adv_by_std_in_grpo=true``; OpenRLHF ``group_norm``;
    open-instruct ``advantage_normalization_type="standard"`` (but with the population std)."""
    DR_GRPO = "dr_grpo"
    """``r - group mean``, no std (Liu et al. 2025, Dr. GRPO). TRL ``scale_rewards="none"``; veRL
    ``adv_estimator=grpo`` with ``norm_adv_by_std_in_grpo=false``; OpenRLHF ``dr_grpo``; open-instruct
    ``advantage_normalization_type="centered"``. Its length part is `LossAggregation.SEQ_MEAN_TOKEN_SUM_NORM`."""
    RLOO = "rloo"
    """``r_i - mean of the other n - 1 samples`` (Ahmadian et al. 2024). TRL ``RLOOTrainer``
    (``normalize_advantages=false``); veRL ``adv_estimator=rloo``; OpenRLHF ``rloo``; open-instruct: none."""
    REINFORCE_PP = "reinforce_pp"
    """REINFORCE++ (Hu 2025): the KL penalty in the per-token reward, returns to go, whitened over the batch.
    OpenRLHF ``reinforce``; veRL ``adv_estimator=reinforce_plus_plus``; TRL and open-instruct: none."""


class LossAggregation(StrEnum):
    """How a ``(B, T)`` matrix of per-token losses becomes one number."""

    TOKEN_MEAN = "token_mean"
    """Sum over every unmasked token of the batch, divided by their count (today's PPO; DAPO). TRL
    ``loss_type="dapo"`` (its default; ``"bnpo"`` per micro-batch); veRL ``loss_agg_mode=token-mean``;
    open-instruct ``loss_denominator="token"``."""
    SEQ_MEAN_TOKEN_MEAN = "seq_mean_token_mean"
    """Each sequence's token mean, averaged over the sequences (GRPO's paper). TRL ``loss_type="grpo"``;
    veRL ``loss_agg_mode=seq-mean-token-mean``; open-instruct: none."""
    SEQ_MEAN_TOKEN_SUM_NORM = "seq_mean_token_sum_norm"
    """Each sequence's token sum divided by a constant (the maximum response length), averaged over the
    sequences (Dr. GRPO). TRL ``loss_type="dr_grpo"``; veRL ``loss_agg_mode=seq-mean-token-sum-norm`` (which
    divides by the constant only, not by the number of sequences); open-instruct ``loss_denominator=<number>``."""


class KLMode(StrEnum):
    """Where the KL to the reference policy enters the objective."""

    REWARD = "reward"
    """``-beta * KL`` on every token's reward (Ziegler et al.; today's PPO). veRL ``algorithm.use_kl_in_reward=true``;
    TRL's experimental ``PPOTrainer``; OpenRLHF without ``--use_kl_loss``; open-instruct: none."""
    LOSS = "loss"
    """``beta * KL`` (k3) added to the policy loss, per token (GRPO). TRL ``beta``; open-instruct ``beta`` with
    ``kl_estimator=2``; veRL ``actor.use_kl_loss=true``, ``kl_loss_type=low_var_kl``; OpenRLHF ``--use_kl_loss``."""


class OverlongHandling(StrEnum):
    """What happens to responses that reach the maximum length (beside `MissingEOSPenalty`)."""

    NONE = "none"
    """Train on them like any other response (the default of TRL, open-instruct and veRL)."""
    MASK = "mask"
    """Drop truncated responses (no EOS) from the loss (DAPO's overlong filtering). TRL and open-instruct
    ``mask_truncated_completions=true``; veRL: none."""
    SOFT_PENALTY = "soft_penalty"
    """DAPO's soft overlong punishment: 0, then linear down to ``-factor`` over the last ``buffer`` tokens before the
    maximum length. veRL ``reward_model.overlong_buffer.{enable,len,penalty_factor}``; TRL the reward function
    ``trl.rewards.get_soft_overlong_punishment``; OpenRLHF ``--overlong_buffer_len``; open-instruct: none."""


class TISLevel(StrEnum):
    """Truncated importance sampling against the mismatch between the rollout engine and the trainer.

    The weight is ``min(pi_trainer / pi_engine, C)`` of the sampled tokens, multiplied into the policy loss.
    """

    NONE = "none"
    """No correction (the mismatch is still measured). TRL ``vllm_importance_sampling_correction=false``;
    open-instruct ``use_rho_correction=false``; veRL ``rollout_is=null``."""
    TOKEN = "token"
    """One weight per token. TRL ``vllm_importance_sampling_mode="token_truncate"``; veRL ``rollout_is=token``
    with ``rollout_is_threshold``; open-instruct ``rho_clamp_upper_bound``."""
    SEQUENCE = "sequence"
    """One weight per response: the product of its token ratios. TRL ``vllm_importance_sampling_mode=
    "sequence_truncate"``; veRL ``rollout_is=sequence``; open-instruct: none (it masks by sequence, never clamps)."""
