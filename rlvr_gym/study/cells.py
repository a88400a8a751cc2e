"""What each arm of the study runs: `plan` turns a `StudyConfig` into cells (arm x seed), each one or two stages,
each stage a plain ``rlvr-gym train`` or ``rlvr-gym iterate-dpo`` command with its ``--set`` overrides.

Equal budget: every cell samples ``budget`` responses in all (greedy held-out answers aside).

- PPO arms: ``total_steps = budget / (rollout_batch_size * group_size)`` (64 per step by default);
- GRPO: 8 prompts x 8 samples per step, so ``budget / 64`` steps;
- DPO arms: ``pairs.prompts`` per round ``= budget / (samples_per_prompt * rounds)`` (offline DPO: one round,
  its pairs sampled once from the SFT model);
- ``dpo_then_ppo``: half the budget to offline DPO, half to PPO from the DPO checkpoint.

Every stage's config is loaded and validated here, so a bad override fails before the first run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, to_dict
from ..trainers.config import PPO_RECIPE, SFTConfig, TaskConfig, load_train_config
from ..trainers.dpo_config import load_dpo_config
from .config import Arm, StudyConfig

__all__ = ["ARM_OVERRIDES", "TRAIN_STAGE_OVERRIDES", "Cell", "Stage", "plan", "sft_dir", "shared_task"]

# The arm's own overrides of the command's defaults (before the study's train_overrides / dpo_overrides).
ARM_OVERRIDES: dict[Arm, tuple[str, ...]] = {
    Arm.OFFLINE_DPO: (),
    Arm.ITERATIVE_DPO: (),
    Arm.ITERATIVE_DPO_UNFILTERED: ("pairs.filters.drop_same_answer=false", "pairs.filters.chosen_must_finish=false"),
    Arm.PPO: PPO_RECIPE,
    Arm.PPO_NO_WHITENING: (*PPO_RECIPE, "ppo.whiten_advantages=false"),
    Arm.PPO_LARGE_BATCH: (*PPO_RECIPE, "ppo.mini_batch_size=64", "ppo.micro_batch_size=16"),
    Arm.PPO_EMA_REF: (*PPO_RECIPE, "ppo.ref_update=ema"),
    Arm.GRPO: ("ppo.estimator=grpo", "ppo.group_size=8", "ppo.rollout_batch_size=8", "ppo.dynamic_sampling=false", "ppo.kl.init_kl_coef=0"),
    Arm.DPO_THEN_PPO: (),
}
TRAIN_STAGE_OVERRIDES: dict[Arm, tuple[str, ...]] = {Arm.DPO_THEN_PPO: PPO_RECIPE}
"""The train stage's own overrides of an arm whose first stage is DPO (those keys are not DPO's)."""

# What every run of the study sets: no progress bar (the study prints a line per run; each run's console goes to
# its RUN_DIR/console.log), a checkpoint every 25 steps so that an interrupted run resumes close to where it was.
_TRAIN_COMMON = ("log.progress_bar=false", "checkpoint.save_every=25", "checkpoint.keep_last=1")
_DPO_COMMON = ("log.progress_bar=false",)


@dataclass(frozen=True)
class Stage:
    """One command of a cell."""

    command: str
    """``train`` or ``iterate-dpo``."""
    run_dir: Path
    overrides: tuple[str, ...]
    """``--set`` values, in order (later ones win); ``model.path`` is added at run time when ``after_previous``."""
    responses: int
    """Responses this stage samples."""
    after_previous: bool = False
    """Start from the previous stage's final checkpoint (``model.path``) instead of the seed's SFT checkpoint."""


@dataclass(frozen=True)
class Cell:
    """One arm at one seed."""

    arm: Arm
    seed: int
    stages: tuple[Stage, ...]

    @property
    def run_dir(self) -> Path:
        return self.stages[0].run_dir.parent if len(self.stages) > 1 else self.stages[0].run_dir

    @property
    def responses(self) -> int:
        return sum(stage.responses for stage in self.stages)


def sft_dir(study_dir: Path, seed: int) -> Path:
    """The seed's SFT checkpoint, shared by every arm of that seed: ``RUN_DIR/seed-S/sft``."""
    return study_dir / f"seed-{seed}" / "sft"


def _split(budget: int, per_unit: int, what: str) -> int:
    if budget % per_unit or budget < per_unit:
        raise ConfigError(f"budget: {budget} responses is not a whole number of {what} ({per_unit} responses each)")
    return budget // per_unit


def _train_stage(config: StudyConfig, arm: Arm, seed: int, run_dir: Path, budget: int, device: str, after: bool) -> Stage:
    device_sets = (f"strategy.device={device}", f"rollout.hf.device={device}")
    arm_sets = TRAIN_STAGE_OVERRIDES.get(arm, ARM_OVERRIDES[arm])
    overrides = (f"seed={seed}", *device_sets, *_TRAIN_COMMON, *arm_sets, *config.train_overrides)
    try:
        train = load_train_config(None, overrides)
    except ConfigError as exc:
        raise ConfigError(f"arm {arm.value}: {exc}") from None
    steps = _split(budget, train.ppo.completions_per_step, f"{arm.value} steps")
    return Stage("train", run_dir, (*overrides, f"total_steps={steps}"), budget, after)


def _dpo_stage(config: StudyConfig, arm: Arm, seed: int, run_dir: Path, budget: int, device: str, rounds: int) -> Stage:
    device_sets = (f"strategy.device={device}", f"rollout.hf.device={device}")
    overrides = (f"seed={seed}", *device_sets, *_DPO_COMMON, f"iterate.rounds={rounds}", *ARM_OVERRIDES[arm], *config.dpo_overrides)
    try:
        dpo = load_dpo_config(None, overrides, "iterate-dpo")
    except ConfigError as exc:
        raise ConfigError(f"arm {arm.value}: {exc}") from None
    prompts = _split(budget, dpo.pairs.samples_per_prompt * rounds, f"{arm.value} rounds of prompts x pairs.samples_per_prompt")
    final = (*overrides, f"pairs.prompts={prompts}")
    try:
        load_dpo_config(None, final, "iterate-dpo")
    except ConfigError as exc:
        raise ConfigError(f"arm {arm.value}: {exc}") from None
    return Stage("iterate-dpo", run_dir, final, budget)


def plan(config: StudyConfig, study_dir: Path, device: str) -> list[Cell]:
    """Every cell of the study, seed by seed in ``config.arms`` order; raises `ConfigError` naming the arm and key
    of any stage whose config is invalid, or a budget that does not split evenly."""
    cells = []
    for seed in config.seeds:
        for arm in config.arms:
            base = study_dir / f"seed-{seed}" / arm.value
            if arm in (Arm.OFFLINE_DPO, Arm.ITERATIVE_DPO, Arm.ITERATIVE_DPO_UNFILTERED):
                rounds = 1 if arm is Arm.OFFLINE_DPO else config.dpo_rounds
                stages: tuple[Stage, ...] = (_dpo_stage(config, arm, seed, base, config.budget, device, rounds),)
            elif arm is Arm.DPO_THEN_PPO:
                half = _split(config.budget, 2, "halves")
                stages = (
                    _dpo_stage(config, arm, seed, base / "dpo", half, device, 1),
                    _train_stage(config, arm, seed, base / "ppo", half, device, after=True),
                )
            else:
                stages = (_train_stage(config, arm, seed, base, config.budget, device, after=False),)
            cells.append(Cell(arm, seed, stages))
    _check_same_task(config)
    return cells


def _task_overrides(overrides: tuple[str, ...]) -> tuple[str, ...]:
    """The ``task.*`` and ``sft.*`` overrides of a list: what decides the seed's SFT checkpoint."""
    return tuple(o for o in overrides if o.split("=", 1)[0].strip().split(".")[0] in ("task", "sft"))


def shared_task(config: StudyConfig) -> tuple[TaskConfig, SFTConfig]:
    """The task and the SFT of the embedded default that every arm shares (``plan`` checks train and DPO runs agree)."""
    train = load_train_config(None, _task_overrides(config.train_overrides))
    return train.task, train.sft


def _check_same_task(config: StudyConfig) -> None:
    """Every arm must train on one task from one SFT: the task and sft sections of train and DPO runs agree."""
    task, sft = shared_task(config)
    dpo = load_dpo_config(None, _task_overrides(config.dpo_overrides), "iterate-dpo")
    for section, value in (("task", task), ("sft", sft)):
        if to_dict(value) != to_dict(getattr(dpo, section)):
            raise ConfigError(
                f"train_overrides / dpo_overrides: the {section} section differs between the train and the DPO runs; "
                f"give {section}.* overrides in both lists"
            )
