"""Config overrides and small helpers shared by the trainer tests."""

PPO_WITH_CRITIC = ("ppo.estimator=gae", "ppo.group_size=1", "ppo.dynamic_sampling=false", "ppo.kl.init_kl_coef=0.05")
"""PPO as before the default became GRPO: a value model, one sample per prompt (so no dynamic sampling, which
filters groups), beta 0.05 (a reference model)."""


def silent(*args: object) -> None:
    """A `run_training` log that prints nothing."""


def without_timings(records: list[dict]) -> list[dict]:
    """Metric records less their ``time/*`` values (which differ between runs)."""
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in records]
