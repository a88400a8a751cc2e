"""The maths against TRL 1.16's own functions, where TRL exposes them outside its trainer (an external reference).

Importing TRL takes seconds (it loads transformers), hence ``slow``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from trl.rewards import get_soft_overlong_punishment  # noqa: E402
from trl.trainer.utils import nanstd  # noqa: E402

from rlvr_gym.trainers.algorithms.estimators import grpo_advantages  # noqa: E402
from rlvr_gym.trainers.algorithms.rewards import soft_overlong_penalty  # noqa: E402

pytestmark = pytest.mark.slow


def test_soft_overlong_penalty_matches_trl():
    # TRL's reward function takes completion ids; every length from 0 to the maximum
    for max_length, buffer in ((20, 4), (100, 20), (8, 8), (12, 1)):
        lengths = list(range(max_length + 1))
        expected = get_soft_overlong_punishment(max_length, buffer)([[0] * n for n in lengths])
        ours = soft_overlong_penalty(torch.tensor(lengths), max_length, buffer)
        torch.testing.assert_close(ours, torch.tensor(expected, dtype=ours.dtype), atol=1e-6, rtol=0)


def test_grpo_advantages_match_trls_group_scaling():
    # GRPOTrainer._generate_and_score_completions with scale_rewards="group":
    #   (r - group mean) / (nanstd(group) + 1e-4), nanstd with Bessel's correction
    rewards = torch.tensor([10.0, 0.0, 0.0, 10.0, 1.0, 0.0, 0.0, 0.0, 3.0, 3.0, 3.0, 3.0, 0.2, 0.9, 0.4, 0.7])
    grouped = rewards.view(-1, 4)
    mean = grouped.mean(dim=1).repeat_interleave(4)
    std = nanstd(grouped, dim=1).repeat_interleave(4)
    expected = (rewards - mean) / (std + 1e-4)
    torch.testing.assert_close(grpo_advantages(rewards, 4, eps=1e-4), expected, atol=1e-6, rtol=0)
