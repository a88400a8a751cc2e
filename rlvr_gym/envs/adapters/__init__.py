"""Our verifiers inside other RL trainers: TRL reward functions, veRL ``compute_score``,
and an HTTP reward server for OpenRLHF's remote reward option (``rlvr-gym serve``)."""

from .trl import make_trl_reward
from .verl import compute_score

__all__ = ["compute_score", "make_trl_reward"]
