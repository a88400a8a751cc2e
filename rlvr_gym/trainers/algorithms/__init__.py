"""The training maths: small pure functions on ``(B, T)`` tensors, one module per concern.

``ppo`` (GAE, the KL penalty, whitening, the clipped PPO and value losses, the KL controllers),
``estimators`` (critic-free advantages: GRPO, Dr. GRPO, RLOO, REINFORCE++; dynamic sampling's
group filter), ``losses`` (loss aggregation, the clipped policy loss with asymmetric and dual
clip, KL as a loss term), ``rewards`` (reward mixing, DAPO's overlong penalty, masking truncated
responses), ``corrections`` (truncated importance sampling against the engine/trainer mismatch),
``dpo`` (the preference losses: sigmoid, ipo, dpo_norm, on sequence log-probabilities).
The choices are enums of the torch-free `rlvr_gym.trainers.config` (DPO's: `rlvr_gym.trainers.dpo_config`).
Importing this package loads no torch; its modules do.
"""
