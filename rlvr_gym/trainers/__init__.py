"""Trainers layer: RLVR training loops, their maths, placement strategies, checkpoints.

Needs torch and transformers. Submodules are imported explicitly
(``from rlvr_gym.trainers.algorithms.ppo import gae``) so that importing this package pulls in
nothing heavy; the config modules (``config``, ``strategies.config``) import no torch at all.

- ``algorithms/``: training maths as pure functions on ``(B, T)`` tensors (``ppo``: GAE, KL, losses);
- ``strategies/``: the optimizer/backward/save seam (``single``: `SingleDevice`; ``deepspeed``: ZeRO-2/3);
- ``ppo``: the PPO loop (`PPOTrainer`), one step = rollout, verify, rewards, advantages, update, sync, log;
- ``stop``: Ctrl-C and SIGTERM over one or several processes (`StopVote`);
- ``config``: `TrainConfig` and its sections (frozen dataclasses), ``configs/default.yaml``;
- ``train``: ``rlvr-gym train`` end to end (SFT start, PPO, held-out accuracy, ``summary.json``);
- DPO: ``dpo_config`` (`DPOConfig`, ``configs/dpo.yaml``), ``preference_data`` (the JSONL), ``pairs`` (verifier-labelled
  pairs), ``task_engine`` (engine + verifier pool over a task), ``dpo`` (`DPOTrainer`), ``dpo_run`` (the three commands);
- ``logprobs``, ``models``, ``value_model``, ``sampler``, ``checkpoint``, ``tracking``, ``plot``, ``sft``, ``tiny``: the parts.

Rollout engines live beside this package, in `rlvr_gym.rollout`.
"""
