"""Config overrides and small helpers shared by the trainer tests."""

from rlvr_gym.trainers.config import PPO_RECIPE

PPO_WITH_CRITIC = PPO_RECIPE
"""PPO as before the default became GRPO: a value model, one sample per prompt (so no dynamic sampling, which
filters groups), beta 0.05 (a reference model); the tests set their own batch sizes after it."""


def silent(*args: object) -> None:
    """A `run_training` log that prints nothing."""


def without_timings(records: list[dict]) -> list[dict]:
    """Metric records less their ``time/*`` values (which differ between runs)."""
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in records]
