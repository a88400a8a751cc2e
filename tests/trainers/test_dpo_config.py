"""The DPO commands' config: the embedded default and its YAML twin, errors naming the key, no torch to load it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from rlvr_gym.config import ConfigError, field_docs, load_config
from rlvr_gym.trainers.dpo_config import DPO_DEFAULT_CONFIG_PATH, DPOConfig, DPOLoss, RefReset, dpo_default_yaml, load_dpo_config


def test_default_yaml_is_the_embedded_default():
    assert DPO_DEFAULT_CONFIG_PATH.read_text() == dpo_default_yaml(), "regenerate configs/dpo.yaml with dpo_default_yaml()"
    assert load_config(DPOConfig, DPO_DEFAULT_CONFIG_PATH) == DPOConfig()


def test_every_field_has_a_docstring():
    def walk(cls: type) -> None:
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            assert docs.get(f.name), f"{cls.__name__}.{f.name} has no docstring"
            default = getattr(cls(), f.name)
            if dataclasses.is_dataclass(default):
                walk(type(default))

    walk(DPOConfig)


def test_overrides_and_enums(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    config = load_dpo_config(None, [f"data.path={data}", "dpo.loss=dpo_norm", "dpo.beta=5", "iterate.ref=keep"], "dpo")
    assert config.dpo.loss is DPOLoss.DPO_NORM and config.dpo.beta == 5.0 and config.iterate.ref is RefReset.KEEP


@pytest.mark.parametrize(
    "command, override, key",
    [
        # --- the loss
        ("iterate-dpo", "dpo.loss=kto", "dpo.loss"),
        ("iterate-dpo", "dpo.beta=0", "dpo.beta"),
        ("iterate-dpo", "dpo.label_smoothing=0.5", "dpo.label_smoothing"),
        ("iterate-dpo", "dpo.loss=ipo,dpo.label_smoothing=0.1", "dpo.label_smoothing"),
        ("iterate-dpo", "dpo.epochs=0", "dpo.epochs"),
        ("iterate-dpo", "dpo.micro_batch_size=0", "dpo.micro_batch_size"),
        # --- pairs and rounds
        ("pairs", "pairs.samples_per_prompt=1", "pairs.samples_per_prompt"),
        ("pairs", "pairs.sampling.temperature=0", "pairs.sampling.temperature"),
        ("pairs", "pairs.sampling.n=4", "pairs.sampling.n"),
        ("pairs", "pairs.filters.max_length_ratio=0.5", "pairs.filters.max_length_ratio"),
        ("iterate-dpo", "iterate.rounds=0", "iterate.rounds"),
        ("iterate-dpo", "iterate.ref=ema", "iterate.ref"),
        ("iterate-dpo", "checkpoint.resume=/some/step-3,run_dir=/tmp/x", "checkpoint.resume"),
        # --- data and models
        ("dpo", "eval.size=0", "data.path"),
        ("dpo", "data.path=/no/such.jsonl", "data.path"),
        ("iterate-dpo", "model.path=/no/such/model", "model.path"),
        ("iterate-dpo", "model.ref_path=/no/such/model", "model.ref_path"),
        ("iterate-dpo", "task.name=nope", "task.name"),
        ("iterate-dpo", "strategy.distributed=zero2", "strategy.distributed"),
        ("iterate-dpo", "rollout.vllm.in_process=true", "rollout.vllm.in_process"),  # evaluation only
        ("iterate-dpo", "data.max_length=1", "data.max_length"),
        ("iterate-dpo", "dpo.no_such_key=1", "dpo.no_such_key"),
    ],
)
def test_invalid_values_name_their_key(command, override, key):
    with pytest.raises(ConfigError, match="^" + key.replace(".", r"\.") + ": "):
        load_dpo_config(None, override.split(","), command)


def test_loading_the_config_imports_no_torch():
    code = (
        "import sys; from rlvr_gym.trainers.dpo_config import load_dpo_config; "
        "load_dpo_config(None, ['dpo.beta=0.2'], 'iterate-dpo'); "
        "heavy = sorted(m for m in ('torch', 'transformers', 'vllm', 'deepspeed') if m in sys.modules); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_config_errors_exit_2_naming_the_key(tmp_path):
    for argv, needle in (
        (["dpo", "--run-dir", str(tmp_path / "r")], "data.path: rlvr-gym dpo trains on a preference JSONL"),
        (["iterate-dpo", "--set", "dpo.beta=-1"], "dpo.beta: must be > 0"),
        (["pairs", "--set", "pairs.samples_per_prompt=1"], "pairs.samples_per_prompt: must be >= 2"),
    ):
        proc = subprocess.run([sys.executable, "-m", "rlvr_gym.cli", *argv], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert not (tmp_path / "r").exists()


def test_cli_bad_preference_file_names_the_line_before_anything_is_written(tmp_path, tiny_model_dir):
    data = tmp_path / "pairs.jsonl"
    good = json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"})
    data.write_text(good + "\n" + json.dumps({"prompt": "p", "chosen": "a"}) + "\n" + good + "\n" + json.dumps({"prompt": "p", "chosen": "a", "rejected": "a"}) + "\n")
    run_dir = tmp_path / "r"
    proc = subprocess.run(
        [sys.executable, "-m", "rlvr_gym.cli", "dpo", "--data", str(data), "--run-dir", str(run_dir), "--set", f"model.path={tiny_model_dir}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{data}: 2 bad preference record(s): line 2: missing field(s) rejected" in proc.stderr
    assert "line 4: chosen and rejected are identical" in proc.stderr
    assert not run_dir.exists()


def test_cli_print_config():
    proc = subprocess.run(
        [sys.executable, "-m", "rlvr_gym.cli", "iterate-dpo", "--set", "dpo.loss=ipo", "--print-config"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "loss: ipo" in proc.stdout and "rounds: 3" in proc.stdout
