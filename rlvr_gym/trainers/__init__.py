"""Trainers layer: PPO for RLVR, rollout engines (HF, vLLM), checkpoints, the tiny test model.

Needs torch and transformers (vLLM for `VLLMEngine`). Submodules are imported
explicitly (``from rlvr_gym.trainers.ppo_math import gae``) so that importing
this package pulls in nothing heavy.

- ``ppo_math``: PPO maths as pure functions on ``(B, T)`` tensors;
- ``ppo``: the PPO loop (`PPOTrainer`), one step = rollout, verify, rewards, advantages, update, sync, log;
- ``ppo_config``: `TrainConfig` and its sections (frozen dataclasses), ``configs/default.yaml``;
- ``train``: ``rlvr-gym train`` end to end (SFT start, PPO, held-out accuracy, ``summary.json``);
- ``strategy``: the optimizer/backward/save seam (`SingleDevice`; DeepSpeed in ``deepspeed_strategy``);
- ``rollout``, ``vllm_worker``, ``logprobs``: engines, in-place weight sync, logprob recomputation;
- ``value_model``, ``sampler``, ``checkpoint``, ``tracking``, ``plot``, ``sft``, ``tiny``: the parts.
"""
