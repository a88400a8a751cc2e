"""Trainers layer: PPO math, rollout engines (HF, vLLM), the tiny test model.

Needs torch and transformers (vLLM for `VLLMEngine`). Submodules are imported
explicitly (``from rlvr_gym.trainers.ppo_math import gae``) so that importing
this package pulls in nothing heavy.
"""
