"""Config overrides shared by the trainer tests."""

PPO_WITH_CRITIC = ("ppo.estimator=gae", "ppo.group_size=1", "ppo.kl.init_kl_coef=0.05")
"""PPO as before the default became GRPO: a value model, one sample per prompt, beta 0.05 (a reference model)."""
