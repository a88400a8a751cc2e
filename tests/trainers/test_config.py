"""The trainer's config: the embedded default, its YAML twin, and errors that name the key (no model loaded)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlvr_gym.config import ConfigError, field_docs, load_config
from rlvr_gym.trainers.config import DEFAULT_CONFIG_PATH, TrainConfig, default_yaml, load_train_config


def test_default_yaml_is_the_embedded_default():
    assert DEFAULT_CONFIG_PATH.read_text() == default_yaml(), "regenerate configs/default.yaml with default_yaml()"
    assert load_config(TrainConfig, DEFAULT_CONFIG_PATH) == TrainConfig()


def test_every_field_has_a_docstring():
    import dataclasses

    def walk(cls: type) -> None:
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            assert docs.get(f.name), f"{cls.__name__}.{f.name} has no docstring"
            default = getattr(cls(), f.name)
            if dataclasses.is_dataclass(default):
                walk(type(default))

    walk(TrainConfig)


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("total_steps: 7\nppo:\n  clip_coef: 0.1\n  kl:\n    kind: adaptive\n")
    config = load_train_config(path, ["ppo.kl_estimator=k3", "ppo.ref_update=ema", "optim.scheduler=linear"])
    assert config.total_steps == 7 and config.ppo.clip_coef == 0.1
    assert config.ppo.kl.kind.value == "adaptive" and config.ppo.kl_estimator.value == "k3"
    assert config.ppo.ref_update.value == "ema" and config.optim.scheduler.value == "linear"


@pytest.mark.parametrize(
    "override, key",
    [
        ("ppo.clip_coef=-1", "ppo.clip_coef"),
        ("ppo.mini_batch_size=48", "ppo.mini_batch_size"),
        ("ppo.micro_batch_size=5", "ppo.micro_batch_size"),
        ("ppo.gae_lambda=1.5", "ppo.gae_lambda"),
        ("ppo.kl_estimator=k9", "ppo.kl_estimator"),
        ("ppo.kl.kind=pid", "ppo.kl.kind"),
        ("ppo.kl.init_kl_coef=-0.1", "ppo.kl.init_kl_coef"),
        ("ppo.kl.kind=adaptive", None),  # valid: the defaults of target and horizon are > 0
        ("ppo.kl.target=0", None),  # valid while the control is fixed
        ("ppo.rollout_batch_size=0", "ppo.rollout_batch_size"),
        ("ppo.group_size=1", "ppo.group_size"),  # grpo, the default, needs two samples per prompt
        ("ppo.estimator=ppo", "ppo.estimator"),
        ("ppo.loss_aggregation=sum", "ppo.loss_aggregation"),
        ("ppo.clip_coef_high=-0.1", "ppo.clip_coef_high"),
        ("ppo.tis_cap=1", "ppo.tis_cap"),
        ("ppo.dynamic_sampling_max_rounds=0", "ppo.dynamic_sampling_max_rounds"),
        ("task.rewards={correct: 1, style: 1}", "task.rewards.style"),  # no such verifier
        ("ppo.missing_eos=drop", "ppo.missing_eos"),
        ("ppo.ref_ema_decay=2", "ppo.ref_ema_decay"),
        ("optim.lr=0", "optim.lr"),
        ("optim.betas=[0.9]", "optim.betas"),
        ("optim.scheduler=cosine", "optim.scheduler"),
        ("sampling.temperature=0", "sampling.temperature"),
        ("strategy.dtype=float8", "strategy.dtype"),
        ("strategy.distributed=zero4", "strategy.distributed"),
        ("strategy.device=gpu", "strategy.device"),
        ("rollout.engine=tgi", "rollout.engine"),
        ("rollout.hf.max_batch_size=0", "rollout.hf.max_batch_size"),
        ("rollout.vllm.gpu_memory_utilization=1.5", "rollout.vllm.gpu_memory_utilization"),
        ("rollout.vllm.in_process=true", "rollout.vllm.in_process"),  # evaluation only
        ("ppo.shared_prompt_forward=maybe", "ppo.shared_prompt_forward"),
        ("sampling.top_p=0", "sampling.top_p"),
        ("task.name=nope", "task.name"),
        ("task.digits=2", "task.digits"),  # source fields live under task.source_options
        ("task.source_options.digits=12", "task.source_options"),  # the arithmetic source refuses it
        ("task.source_options.digitz=2", "task.source_options"),
        ("task.source_options=7", "task.source_options"),
        ("task.name=gsm8k", "task.source_options"),  # the default options are arithmetic's
        ("sft.target_accuracy=0", "sft.target_accuracy"),
        ("eval.size=-1", "eval.size"),
        ("total_steps=0", "total_steps"),
        ("model.path=/no/such/model", "model.path"),
        ("ppo.no_such_key=1", "ppo.no_such_key"),
    ],
)
def test_invalid_values_name_their_key(override, key):
    if key is None:
        load_train_config(None, [override])
        return
    with pytest.raises(ConfigError, match="^" + key.replace(".", r"\.") + ": "):  # one style: the key, then what is wrong
        load_train_config(None, [override])


def test_source_options_partial_override_and_null():
    assert load_train_config(None, ["task.source_options.digits=3"]).task.source_options == {"digits": 3, "operators": "+"}
    assert load_train_config(None, ["task.source_options=null"]).task.source_options is None  # the task's own


def test_loading_a_config_imports_no_torch():
    code = (
        "import sys; from rlvr_gym.trainers.config import load_train_config; "
        "load_train_config(None, ['ppo.clip_coef=0.1', 'strategy.distributed=none']); "
        "heavy = sorted(m for m in ('torch', 'transformers', 'vllm', 'deepspeed') if m in sys.modules); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_rejects_a_bad_value_fast_before_any_model(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.run(  # -X importtime lists every module imported, on stderr
        [sys.executable, "-X", "importtime", "-m", "rlvr_gym.cli", "train", "--run-dir", str(run_dir), "--set", "ppo.clip_coef=-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "ppo.clip_coef" in proc.stderr and "must lie in (0, 1), got -1.0" in proc.stderr
    assert not run_dir.exists(), "nothing may be written before the config is valid"
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "rlvr_gym.config" in imported
    assert not {"torch", "transformers"} & imported, "config errors must come before torch or a model loads"


def test_cli_print_config():
    proc = subprocess.run(
        [sys.executable, "-m", "rlvr_gym.cli", "train", "--set", "ppo.kl.kind=adaptive", "--print-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "kind: adaptive" in proc.stdout and "clip_coef: 0.2" in proc.stdout


def _member_docs(enum_class: type) -> dict[str, str]:
    """The docstring under each member of an enum class (read from its source), lines joined."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(enum_class))).body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if isinstance(node, ast.Assign) and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            docs[node.targets[0].id] = " ".join(str(following.value.value).split())  # type: ignore[attr-defined]
    return docs


def test_every_estimator_and_loss_knob_names_the_peers_option():
    from rlvr_gym.trainers.config import AdvantageEstimator, KLMode, LossAggregation, OverlongHandling, TISLevel

    for enum_class in (AdvantageEstimator, LossAggregation, KLMode, OverlongHandling, TISLevel):
        docs = _member_docs(enum_class)
        for member in enum_class:
            doc = docs.get(member.name, "")
            for peer in ("TRL", "open-instruct", "veRL"):
                assert peer in doc, f"{enum_class.__name__}.{member.name}: its docstring names no {peer} equivalent (or 'none')"
    assert [str(member) for member in AdvantageEstimator] == ["gae", "grpo", "dr_grpo", "rloo", "reinforce_pp"]
    assert AdvantageEstimator("dr_grpo") is AdvantageEstimator.DR_GRPO
