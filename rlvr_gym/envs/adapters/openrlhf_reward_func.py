"""The file for OpenRLHF's ``.py`` reward mode: ``--reward.remote_url /path/to/openrlhf_reward_func.py``.

OpenRLHF (v0.11.2, ``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor.__init__``) loads a
``remote_url`` ending in ``.py`` with ``spec_from_file_location`` and calls its
``reward_func(queries, prompts, labels)`` once per sample, on threads. Settings come from the
environment of OpenRLHF's workers, read when the file loads (so a missing one stops the run at
start-up instead of turning every reward into ``None``):

- ``RLVR_GYM_VERIFIER`` (required): ``gsm8k``, ``math``, ``ifeval``, ``ifeval_loose``, ``countdown``;
- ``RLVR_GYM_ALPHA`` (default 1): the reward of a correct response;
- ``RLVR_GYM_WORKERS`` (default 2): verifier processes per OpenRLHF worker process;
- ``RLVR_GYM_TIMEOUT`` (default 10): seconds per response.

Print this file's path with ``python -c "from rlvr_gym.envs.adapters.openrlhf import REWARD_FUNC_FILE; print(REWARD_FUNC_FILE)"``.
"""

# Absolute import: OpenRLHF loads this file by path, outside its package.
from rlvr_gym.envs.adapters.openrlhf import OpenRLHFReward

reward_func = OpenRLHFReward.from_env()
