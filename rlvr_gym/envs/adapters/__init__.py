"""Our verifiers inside other RL trainers: TRL reward functions, veRL ``compute_score``,
OpenRLHF's ``reward_func`` (``.py`` mode) and an HTTP reward server for its remote reward
option (``rlvr-gym serve``)."""

from .openrlhf import OpenRLHFReward, isolate_response
from .trl import make_trl_reward
from .verl import compute_score, compute_score_value

__all__ = ["OpenRLHFReward", "compute_score", "compute_score_value", "isolate_response", "make_trl_reward"]
