"""``rlvr-gym study``: the DPO-vs-PPO study (Xu et al. 2024) on the embedded default task, in one command.

- `config`: `StudyConfig` and the `Arm` enum (one member per row of the table);
- `cells`: what each arm runs (``rlvr-gym train`` / ``iterate-dpo`` with its overrides) at an equal budget;
- `run`: the runner (SFT per seed, every cell as a subprocess, resume);
- `report`: ``results.md`` / ``results.json`` / ``study.png`` and the verdict on each claim.
"""

from .config import Arm, StudyConfig, load_study_config

__all__ = ["Arm", "StudyConfig", "load_study_config"]
