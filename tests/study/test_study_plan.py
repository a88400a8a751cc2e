"""``rlvr-gym study``'s config and plan: the embedded default, the equal-budget arithmetic by hand, every error naming
its key (and arm) before anything runs. Nothing here loads torch or a model."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_gym.config import ConfigError, field_docs, load_config
from rlvr_gym.study.cells import plan, sft_dir
from rlvr_gym.study.config import STUDY_DEFAULT_CONFIG_PATH, Arm, StudyConfig, load_study_config, study_default_yaml


def test_default_yaml_is_the_embedded_default():
    assert STUDY_DEFAULT_CONFIG_PATH.read_text() == study_default_yaml(), "regenerate configs/study.yaml with study_default_yaml()"
    assert load_config(StudyConfig, STUDY_DEFAULT_CONFIG_PATH) == StudyConfig()
    docs = field_docs(StudyConfig)
    assert all(docs.get(f.name) for f in dataclasses.fields(StudyConfig))


def _stage_values(stage) -> dict[str, str]:
    return dict(o.split("=", 1) for o in stage.overrides)  # later overrides win, as in --set


# ---- equal budget: 6400 sampled responses per cell, worked out by hand
def test_default_plan_splits_the_budget_evenly(tmp_path):
    cells = plan(StudyConfig(), tmp_path, "cpu")
    assert len(cells) == 9 * 3
    by = {(c.arm, c.seed): c for c in cells}
    assert [c.arm for c in cells[:9]] == list(Arm) and {c.seed for c in cells} == {0, 1, 2}
    for cell in cells:
        assert cell.responses == 6400, cell.arm
    # PPO arms: 64 prompts x 1 sample per step -> 6400 / 64 = 100 steps
    for arm in (Arm.PPO, Arm.PPO_NO_WHITENING, Arm.PPO_LARGE_BATCH, Arm.PPO_EMA_REF):
        (stage,) = by[(arm, 1)].stages
        assert stage.command == "train" and _stage_values(stage)["total_steps"] == "100"
        assert _stage_values(stage)["seed"] == "1" and stage.run_dir == tmp_path / "seed-1" / arm.value
        # PPO with a value model, whatever rlvr-gym train's default estimator is
        assert (_stage_values(stage)["ppo.estimator"], _stage_values(stage)["ppo.kl.init_kl_coef"]) == ("gae", "0.05")
    assert _stage_values(by[(Arm.PPO_NO_WHITENING, 0)].stages[0])["ppo.whiten_advantages"] == "false"
    assert _stage_values(by[(Arm.PPO_LARGE_BATCH, 0)].stages[0])["ppo.mini_batch_size"] == "64"
    assert _stage_values(by[(Arm.PPO_EMA_REF, 0)].stages[0])["ppo.ref_update"] == "ema"
    # GRPO: 8 prompts x 8 samples = 64 per step -> 100 steps
    grpo = _stage_values(by[(Arm.GRPO, 0)].stages[0])
    assert (grpo["ppo.estimator"], grpo["ppo.group_size"], grpo["ppo.rollout_batch_size"], grpo["total_steps"]) == ("grpo", "8", "8", "100")
    assert grpo["ppo.dynamic_sampling"] == "false"  # the study's GRPO is plain GRPO
    # offline DPO: one round of 6400 / 8 samples per prompt = 800 prompts; iterative: 4 rounds of 200
    offline = _stage_values(by[(Arm.OFFLINE_DPO, 0)].stages[0])
    assert (offline["iterate.rounds"], offline["pairs.prompts"]) == ("1", "800")
    iterative = _stage_values(by[(Arm.ITERATIVE_DPO, 0)].stages[0])
    assert (iterative["iterate.rounds"], iterative["pairs.prompts"]) == ("4", "200")
    unfiltered = _stage_values(by[(Arm.ITERATIVE_DPO_UNFILTERED, 0)].stages[0])
    assert unfiltered["pairs.filters.drop_same_answer"] == "false" and unfiltered["pairs.prompts"] == "200"
    # SFT -> DPO -> RLVR: 3200 responses of offline DPO (400 prompts x 8), then 3200 of PPO (50 steps) from its checkpoint
    dpo, ppo = by[(Arm.DPO_THEN_PPO, 2)].stages
    assert (dpo.command, _stage_values(dpo)["pairs.prompts"], dpo.responses) == ("iterate-dpo", "400", 3200)
    assert (ppo.command, _stage_values(ppo)["total_steps"], ppo.responses, ppo.after_previous) == ("train", "50", 3200, True)
    assert _stage_values(ppo)["ppo.estimator"] == "gae" and "ppo.estimator" not in _stage_values(dpo)
    assert by[(Arm.DPO_THEN_PPO, 2)].run_dir == tmp_path / "seed-2" / "dpo_then_ppo"
    assert sft_dir(tmp_path, 2) == tmp_path / "seed-2" / "sft"


def test_user_overrides_come_last_and_change_the_arithmetic(tmp_path):
    config = load_study_config(None, ["budget=3200", "train_overrides=[ppo.rollout_batch_size=32, optim.lr=0.0001]", "arms=[ppo]"])
    (ppo,) = plan(config, tmp_path, "cuda:1")[:1]
    values = _stage_values(ppo.stages[0])
    assert values["total_steps"] == "100" and values["optim.lr"] == "0.0001"  # 3200 / 32
    assert values["strategy.device"] == "cuda:1" and values["rollout.hf.device"] == "cuda:1"
    # the user's 32 prompts replace GRPO's 8 too: 32 x 8 = 256 per step, and 3200 / 256 is not whole
    with pytest.raises(ConfigError, match=r"budget: 3200 responses is not a whole number of grpo steps \(256 responses each\)"):
        plan(dataclasses.replace(config, arms=(Arm.GRPO,)), tmp_path, "cpu")


def test_a_budget_that_does_not_split_is_refused_naming_the_arm(tmp_path):
    with pytest.raises(ConfigError, match=r"budget: 100 responses is not a whole number of ppo steps \(64 responses each\)"):
        plan(load_study_config(None, ["budget=100", "arms=[ppo]"]), tmp_path, "cpu")
    with pytest.raises(ConfigError, match=r"budget: 6400 responses is not a whole number of iterative_dpo rounds"):
        plan(load_study_config(None, ["dpo_rounds=3", "arms=[iterative_dpo]"]), tmp_path, "cpu")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["seeds=[0, 0]"], "seeds: repeated seed"),
        (["seeds=[]"], "seeds: give at least one seed"),
        (["arms=[ppo, dpo]"], "arms[1]: must be one of"),
        (["arms=[ppo, ppo]"], "arms: repeated arm"),
        (["budget=0"], "budget: must be >= 1"),
        (["dpo_rounds=0"], "dpo_rounds: must be >= 1"),
        (["train_overrides=[lr]"], "train_overrides: 'lr' must look like key=value"),
        (["train_overrides=[seed=3]"], "train_overrides: seed is set by the study per cell"),
        (["dpo_overrides=[model.path=/x]"], "dpo_overrides: model.path is set by the study per cell"),
        (["cell_timeout_s=0"], "cell_timeout_s: must be > 0"),
        (["budjet=10"], "budjet: unknown config key"),
    ],
)
def test_bad_study_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_study_config(None, overrides)


def test_a_bad_run_override_names_the_arm_and_key(tmp_path):
    with pytest.raises(ConfigError, match=r"arm ppo: ppo.clip_kof: unknown config key"):
        plan(load_study_config(None, ["train_overrides=[ppo.clip_kof=0.1]", "arms=[ppo]"]), tmp_path, "cpu")
    with pytest.raises(ConfigError, match=r"arm offline_dpo: dpo.beta: must be > 0"):
        plan(load_study_config(None, ["dpo_overrides=[dpo.beta=-1]", "arms=[offline_dpo]"]), tmp_path, "cpu")


def test_task_overrides_must_reach_both_kinds_of_run(tmp_path):
    config = load_study_config(None, ["train_overrides=[task.source_options.digits=3]", "arms=[ppo]"])
    with pytest.raises(ConfigError, match="the task section differs between the train and the DPO runs"):
        plan(config, tmp_path, "cpu")
    both = load_study_config(None, ["train_overrides=[task.source_options.digits=3]", "dpo_overrides=[task.source_options.digits=3]"])
    assert len(plan(both, tmp_path, "cpu")) == 27


def test_an_override_valid_only_with_the_arms_own_is_accepted(tmp_path):
    # dynamic sampling needs groups: valid for the grpo arm (group_size 8), not for train's default alone
    config = load_study_config(None, ["arms=[grpo]", "train_overrides=[ppo.dynamic_sampling=true]"])
    (cell,) = plan(config, tmp_path, "cpu")[:1]
    assert _stage_values(cell.stages[0])["ppo.dynamic_sampling"] == "true"
    with pytest.raises(ConfigError, match="arm ppo: ppo.dynamic_sampling"):
        plan(dataclasses.replace(config, arms=(Arm.PPO,)), tmp_path, "cpu")


def test_dry_run_prints_every_command_without_torch(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "rlvr_gym.cli", "study", "--dry-run", "--run-dir", str(tmp_path), "--set", "device=cpu",
         "--set", "seeds=[4]", "--set", "arms=[ppo, offline_dpo]"],
        capture_output=True, text=True, check=True,
    ).stdout
    commands = [line for line in out.splitlines() if line.startswith("rlvr-gym ")]
    assert commands == [
        f"rlvr-gym train --run-dir {tmp_path}/seed-4/ppo --set seed=4 --set strategy.device=cpu --set rollout.hf.device=cpu "
        "--set log.progress_bar=false --set checkpoint.save_every=25 --set checkpoint.keep_last=1 --set ppo.estimator=gae "
            "--set ppo.group_size=1 --set ppo.rollout_batch_size=64 --set ppo.dynamic_sampling=false --set ppo.kl.init_kl_coef=0.05 "
            "--set total_steps=100",
        f"rlvr-gym iterate-dpo --run-dir {tmp_path}/seed-4/offline_dpo --set seed=4 --set strategy.device=cpu "
        "--set rollout.hf.device=cpu --set log.progress_bar=false --set iterate.rounds=1 --set pairs.prompts=800",
    ]
    assert not Path(tmp_path / "study.yaml").exists(), "a dry run writes nothing"
    bad = subprocess.run([sys.executable, "-m", "rlvr_gym.cli", "study", "--dry-run", "--set", "budget=100"], capture_output=True, text=True)
    assert bad.returncode == 2 and "config error: budget: 100 responses" in bad.stderr
