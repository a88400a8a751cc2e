"""The configuration of ``rlvr-gym study``: `StudyConfig` and the `Arm` enum.

The study (Xu et al. 2024, "Is DPO Superior to PPO for LLM Alignment?", on the embedded default task) trains
every arm from the same SFT checkpoint per seed, at an equal budget of sampled responses, and compares their
held-out accuracy. An arm is one enum member; what it runs is `rlvr_gym.study.cells`. Like the other configs:
frozen dataclasses, one docstring per field, errors naming their key, nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..config import check, commented_default, load_config
from ..enums import StrEnum

__all__ = ["STUDY_DEFAULT_CONFIG_PATH", "Arm", "StudyConfig", "load_study_config", "study_default_yaml"]

STUDY_DEFAULT_CONFIG_PATH = Path(__file__).parent.parent / "trainers" / "configs" / "study.yaml"
"""The embedded default as YAML: the values of `StudyConfig()`, with comments."""


class Arm(StrEnum):
    """One row of the study's table: a method, or PPO with one of the paper's factors changed."""

    OFFLINE_DPO = "offline_dpo"
    """DPO on verifier-labelled pairs sampled once from the SFT model (one round of ``iterate-dpo``)."""
    ITERATIVE_DPO = "iterative_dpo"
    """``iterate-dpo``: ``dpo_rounds`` rounds of fresh pairs from the current policy, the reference reset each round."""
    ITERATIVE_DPO_UNFILTERED = "iterative_dpo_unfiltered"
    """``iterative_dpo`` without the noisy-pair filters (same-answer pairs and unfinished chosen responses kept)."""
    PPO = "ppo"
    """``rlvr-gym train``'s default: PPO with a value model, advantages whitened, mini-batches of 16 (4 updates per
    step of 64), a frozen reference."""
    PPO_NO_WHITENING = "ppo_no_whitening"
    """``ppo`` with ``ppo.whiten_advantages=false``."""
    PPO_LARGE_BATCH = "ppo_large_batch"
    """``ppo`` with one update per step of 64 (``ppo.mini_batch_size=64``, 4 accumulated micro-batches of 16)."""
    PPO_EMA_REF = "ppo_ema_ref"
    """``ppo`` with the reference an EMA of the policy (``ppo.ref_update=ema``, decay ``ppo.ref_ema_decay``)."""
    GRPO = "grpo"
    """Critic-free GRPO: 8 prompts x 8 samples per step, 4 updates, no KL (the recipe measured in the README)."""
    DPO_THEN_PPO = "dpo_then_ppo"
    """Tülu 3's order SFT -> DPO -> RLVR: offline DPO on half the budget, then ``ppo`` from its checkpoint on the
    other half."""


@dataclass(frozen=True)
class StudyConfig:
    """One study: every arm x every seed, each a plain ``rlvr-gym train`` or ``iterate-dpo`` run in ``RUN_DIR``."""

    run_dir: str | None = None
    """Where the SFT checkpoints, every cell's run, ``results.json``, ``results.md`` and ``study.png`` go; null:
    ``runs/study-<date>-<time>``. Running the same command again resumes: finished cells are kept, an interrupted
    one continues from its newest checkpoint."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds: each gets its own SFT checkpoint (the embedded default's), shared by all its arms."""
    arms: tuple[Arm, ...] = tuple(Arm)
    """The arms to run, in this order within each seed."""
    budget: int = 6400
    """Sampled responses per run (greedy held-out answers not counted): PPO's steps are budget / 64, GRPO's budget /
    (8 x 8), DPO's pair prompts budget / samples_per_prompt, split evenly over the rounds."""
    dpo_rounds: int = 4
    """Rounds of the iterative DPO arms."""
    device: str | None = None
    """Torch device of every run (training and the transformers engine); null: cuda when a GPU is visible, else cpu."""
    train_overrides: tuple[str, ...] = ()
    """``key=value`` overrides given to every ``rlvr-gym train`` run after the arm's own (e.g. ``optim.lr=1e-4``)."""
    dpo_overrides: tuple[str, ...] = ()
    """``key=value`` overrides given to every ``rlvr-gym iterate-dpo`` run after the arm's own (e.g. ``dpo.beta=2``)."""
    cell_timeout_s: float | None = None
    """Most seconds one run may take before it is stopped (Ctrl-C: it saves) and the study fails; null: no limit."""

    def __post_init__(self) -> None:
        check(len(self.seeds) >= 1, "seeds", "give at least one seed")
        check(len(set(self.seeds)) == len(self.seeds), "seeds", f"repeated seed in {list(self.seeds)}")
        check(len(self.arms) >= 1, "arms", f"give at least one of {[a.value for a in Arm]}")
        check(len(set(self.arms)) == len(self.arms), "arms", f"repeated arm in {[a.value for a in self.arms]}")
        check(self.budget >= 1, "budget", f"must be >= 1, got {self.budget}")
        check(self.dpo_rounds >= 1, "dpo_rounds", f"must be >= 1, got {self.dpo_rounds}")
        check(self.device is None or bool(self.device.strip()), "device", "empty (leave it out for cuda-if-present)")
        check(self.cell_timeout_s is None or self.cell_timeout_s > 0, "cell_timeout_s", f"must be > 0, got {self.cell_timeout_s}")
        check(self.run_dir is None or bool(self.run_dir.strip()), "run_dir", "empty path (leave it out for runs/study-<time>)")
        for name in ("train_overrides", "dpo_overrides"):
            for item in getattr(self, name):
                key, sep, _ = item.partition("=")
                check(bool(sep) and bool(key.strip()), name, f"{item!r} must look like key=value")
                check(key.strip() not in ("run_dir", "seed", "model.path"), name, f"{key.strip()} is set by the study per cell")


def load_study_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> StudyConfig:
    """`StudyConfig` from a YAML file (optional) and ``key=value`` overrides. The cells' own configs are checked
    by `rlvr_gym.study.cells.plan` (before anything runs)."""
    return load_config(StudyConfig, path, overrides)


def study_default_yaml() -> str:
    """The text of ``configs/study.yaml``: `StudyConfig()` with every field's docstring as a comment."""
    writer = "rlvr_gym.study.config.study_default_yaml"
    return commented_default(StudyConfig(), "rlvr-gym study", writer, "rlvr-gym study --config study.yaml --set key=value ...")
