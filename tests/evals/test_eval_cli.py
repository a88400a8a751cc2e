"""``rlvr-gym eval`` without a model: scoring response files, run directories, --compare, errors.

The IFEval regression scores the official GPT-4 responses (google-research, 2023-11-07) against
the prompt file they pair with. Our verifier, like the current google-research code, gives
strict 417/541 prompts and 698/834 instructions; the paper's 416 / 697 came from the 2023
reference code, which replaced the non-letter characters '#' and '!' of two letter_frequency
instructions (keys 1122 and 1129) with a random letter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_gym.cli import main
from tests.conftest import REPO_ROOT, data_dir, require_data

GPT4_RESPONSES = "ifeval/input_response_data_gpt4_20231107_145030.jsonl"
GPT4_PROMPTS = "ifeval/input_data_gpt4_20231107_145030.jsonl"
BLANKED_KEYS = ("1000", "1005", "1012", "1019")
"""IFEval items whose GPT-4 response the second run blanks: 1005 and 1019 passed (strict), 1000 and 1012 did not."""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = shutil.which("rlvr-gym", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "rlvr_gym.cli"]
    env = {**os.environ, "RLVR_GYM_DATA": str(data_dir()), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([*command, "eval", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def gpt4_runs(tmp_path_factory) -> dict[str, Path]:
    """Run A: the official GPT-4 responses; run B: the same with four responses blanked."""
    responses, prompts = require_data(GPT4_RESPONSES), require_data(GPT4_PROMPTS)
    root = tmp_path_factory.mktemp("eval")
    key_of = {json.loads(line)["prompt"]: str(json.loads(line)["key"]) for line in prompts.read_text(encoding="utf-8").splitlines()}
    blanked = root / "blanked.jsonl"
    with open(blanked, "w", encoding="utf-8") as out:
        for line in responses.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if key_of[row["prompt"]] in BLANKED_KEYS:
                row["response"] = ""
            out.write(json.dumps(row) + "\n")
    runs = {}
    for name, file in (("a", responses), ("b", blanked)):
        result = _cli(
            "--responses", str(file), "--tasks", "ifeval", "--task-file", f"ifeval={prompts}", "--out", str(root / name), cwd=root
        )
        assert result.returncode == 0, result.stderr
        runs[name] = root / name
        runs[f"{name}_stdout"] = result.stdout  # type: ignore[assignment]
    return runs


def test_official_gpt4_ifeval_scores(gpt4_runs):
    summary = json.loads((gpt4_runs["a"] / "summary.json").read_text())
    metrics = summary["tasks"]["ifeval"]
    assert metrics["items"] == 541
    assert metrics["prompt_count_strict"] == [417, 541] and metrics["inst_count_strict"] == [698, 834]
    assert metrics["prompt_count_loose"] == [431, 541] and metrics["inst_count_loose"] == [714, 834]
    assert metrics["prompt_level_strict"] == pytest.approx(417 / 541) and metrics["inst_level_strict"] == pytest.approx(698 / 834)
    assert summary["meta"]["source"] == "responses" and summary["meta"]["per_task"]["ifeval"]["scored"] == 541

    printed = gpt4_runs["a_stdout"]
    for row in (
        "| ifeval | prompt_level_strict | 77.08% (417/541) |",
        "| ifeval | inst_level_strict | 83.69% (698/834) |",
        "| ifeval | prompt_level_loose | 79.67% (431/541) |",
        "| ifeval | inst_level_loose | 85.61% (714/834) |",
    ):
        assert row in printed
    assert printed == (gpt4_runs["a"] / "summary.md").read_text()

    records = [json.loads(line) for line in (gpt4_runs["a"] / "ifeval.jsonl").read_text().splitlines()]
    assert len(records) == 541 and records[0]["id"] == "1000"
    assert set(records[0]) >= {"id", "prompt", "ground_truth", "responses", "verdicts", "verdicts_loose"}
    assert sum(r["verdicts"][0]["correct"] for r in records) == 417


def test_current_prompt_file_misses_the_edited_prompt(tmp_path):
    """Without --task-file the GPT-4 file's old Shinto prompt (key 2785) matches nothing: 540 items."""
    result = _cli("--responses", str(require_data(GPT4_RESPONSES)), "--tasks", "ifeval", "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| ifeval | items | 540 |" in result.stdout
    assert "1 line(s) match no ifeval item" in result.stderr


def test_compare_runs(gpt4_runs, tmp_path):
    result = _cli("--compare", str(gpt4_runs["a"]), str(gpt4_runs["b"]), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # Blanking loses the two passing prompts (strict and loose) and 5 followed instructions.
    assert "| ifeval | prompt_level_strict | 77.08% (417/541) | 76.71% (415/541) | -0.37 pts (-2) |" in out
    assert "| ifeval | inst_level_strict | 83.69% (698/834) | 83.09% (693/834) | -0.60 pts (-5) |" in out
    assert "| ifeval | items | 541 | 541 | +0 |" in out
    # per instruction: 1012's title was followed; nothing else in the title column changed
    assert "| ifeval | strict: detectable_format:title | 100.00% (37/37) | 97.30% (36/37) | -2.70 pts (-1) |" in out
    assert "| ifeval | strict: change_case:english_lowercase |" in out
    assert "| ifeval | strict: keywords:existence | 97.44% (38/39) | 97.44% (38/39) | +0.00 pts (+0) |" in out
    assert "ifeval: 541 items in both; right in A, wrong in B: 2; wrong in A, right in B: 0" in out

    # the same numbers, derived from run A's per-item verdicts
    records = {r["id"]: r for r in map(json.loads, (gpt4_runs["a"] / "ifeval.jsonl").read_text().splitlines())}
    lost_prompts = sum(records[k]["verdicts"][0]["correct"] for k in BLANKED_KEYS)
    lost_instructions = sum(i["followed"] for k in BLANKED_KEYS for i in records[k]["verdicts"][0]["details"]["instructions"])
    assert (lost_prompts, lost_instructions) == (2, 5)


def test_responses_with_k_samples_give_pass_at_k(tmp_path, capsys):
    test = [json.loads(line) for line in require_data("gsm8k/test.jsonl").read_text().splitlines()[:4]]
    gold = [row["answer"].rsplit("#### ", 1)[1].strip() for row in test]
    # item 0: 2/3 right, item 1: 0/3, item 2: 1/3 (matched by problem text), item 3: 3/3
    samples = [
        [f"So the answer is {gold[0]}.", "The answer is 0.5", f"#### {gold[0]}"],
        ["no idea", "-1", "0.25"],
        ["42424242", "nothing", f"The answer is {gold[2]}"],
        [f"{gold[3]}"] * 3,
    ]
    path = tmp_path / "responses.jsonl"
    lines = [
        {"id": "0", "response": samples[0]},
        {"id": "1", "task": "gsm8k", "response": samples[1]},
        {"prompt": test[2]["question"], "response": samples[2]},
    ]
    lines += [{"id": "3", "response": s} for s in samples[3]]  # one line per sample works too
    lines.append({"id": "0", "task": "ifeval", "response": "skipped: another benchmark"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert (
        main(["eval", "--responses", str(path), "--tasks", "gsm8k", "--limit", "4", "--workers", "0", "--out", str(tmp_path / "run")]) == 0
    )
    printed = capsys.readouterr().out
    metrics = json.loads((tmp_path / "run" / "summary.json").read_text())["tasks"]["gsm8k"]
    assert metrics["samples_per_item"] == 3 and metrics["accuracy_count"] == [6, 12]
    # pass@2 per item: 1 - C(n-c, 2)/C(3, 2): 1, 0, 2/3, 1
    assert metrics["pass@2"] == pytest.approx((1 + 0 + 2 / 3 + 1) / 4)
    assert metrics["pass@3"] == pytest.approx(3 / 4)
    assert "| gsm8k | accuracy | 50.00% (6/12) |" in printed and "| gsm8k | pass@3 | 75.00% |" in printed


# --------------------------------------------------------------------------- errors: exit 2, a clear message, no traceback
def _error(capsys, *args: str) -> str:
    assert main(["eval", *args]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def test_unknown_task_via_subprocess(tmp_path):
    result = _cli("--responses", "x.jsonl", "--tasks", "gsm8k,gsm9k", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown task(s): gsm9k" in result.stderr and "gsm8k" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_responses_file(capsys, tmp_path):
    require_data("ifeval/input_data.jsonl")
    err = _error(capsys, "--responses", str(tmp_path / "nope.jsonl"), "--tasks", "ifeval", "--out", str(tmp_path / "run"))
    assert f"responses file not found: {tmp_path / 'nope.jsonl'}" in err
    assert not (tmp_path / "run").exists()


def test_responses_matching_nothing(capsys, tmp_path):
    require_data("gsm8k/test.jsonl")
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "no-such-id", "response": "7"}\n{"prompt": "not a GSM8K question", "response": "7"}\n')
    err = _error(capsys, "--responses", str(path), "--tasks", "gsm8k", "--out", str(tmp_path / "run"))
    assert f"{path}: no line matches an item of gsm8k" in err and "2 line(s) were tried" in err


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"id": "0", "response": "1"}\nnot json\n', "line 2 is not valid JSON"),
        ('{"id": "0", "answer": "1"}\n', "line 1 needs a JSON object with a 'response' field"),
        ('{"response": "1"}\n', "line 1 needs an 'id' or a 'prompt'"),
        ('{"id": "0", "response": 7}\n', "'response' must be a string or a list of strings"),
        ('{"id": "0", "response": ["a", "b"]}\n{"id": "1", "response": "c"}\n', "every item needs the same number"),
    ],
)
def test_malformed_responses(capsys, tmp_path, content, message):
    require_data("gsm8k/test.jsonl")
    path = tmp_path / "r.jsonl"
    path.write_text(content)
    assert message in _error(capsys, "--responses", str(path), "--tasks", "gsm8k", "--workers", "0", "--out", str(tmp_path / "run"))


def test_task_file_errors(capsys, tmp_path):
    require_data("ifeval/input_data.jsonl")
    responses = tmp_path / "r.jsonl"
    responses.write_text('{"id": "0", "response": "1"}\n')
    err = _error(capsys, "--responses", str(responses), "--tasks", "countdown", "--task-file", f"countdown={responses}")
    assert "task 'countdown' split 'test' is not read from a file (its source is CountdownSource)" in err
    err = _error(capsys, "--responses", str(responses), "--tasks", "ifeval", "--task-file", f"ifeval={tmp_path / 'missing.jsonl'}")
    assert "--task-file ifeval=" in err and "file not found" in err
    assert "task 'gsm8k' is not in --tasks" in _error(
        capsys, "--responses", str(responses), "--tasks", "ifeval", "--task-file", f"gsm8k={responses}"
    )
    assert "expects TASK=PATH" in _error(capsys, "--responses", str(responses), "--tasks", "ifeval", "--task-file", str(responses))
    # a file without IFEval's fields
    assert "has no field 'instruction_id_list'" in _error(
        capsys, "--responses", str(responses), "--tasks", "ifeval", "--task-file", f"ifeval={responses}"
    )


def test_other_user_errors(capsys, tmp_path):
    assert "--tasks is required" in _error(capsys, "--responses", "r.jsonl")
    assert "--n apply only with --model" in _error(capsys, "--responses", "r.jsonl", "--tasks", "ifeval", "--n", "4")
    assert "not found: is" in _error(capsys, "--compare", str(tmp_path), str(tmp_path))
    assert "model not found" in _error(capsys, "--model", str(tmp_path / "no-model"), "--tasks", "gsm8k")
    assert "say which task it is for" in _error(capsys, "--model", str(tmp_path), "--tasks", "gsm8k,math500", "--exemplars", "shots.jsonl")


def test_task_option_sets_the_procedural_source_like_a_training_run(tmp_path):
    from rlvr_gym.envs import get_task, held_out_items

    items = held_out_items(get_task("arithmetic"), {"digits": 1, "operators": "+"}, 5)  # what --limit 5 evaluates
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps({"id": item.id, "response": f"#### {item.ground_truth}"}) + "\n" for item in items))
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlvr_gym.cli",
            "eval",
            "--responses",
            str(responses),
            "--tasks",
            "arithmetic",
            "--limit",
            "5",
            "--task-option",
            "arithmetic.digits=1",
            "--task-option",
            "arithmetic.operators=+",
            "--out",
            str(out),
            "--workers",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"]["arithmetic"]["items"] == 5 and summary["tasks"]["arithmetic"]["accuracy"] == 1.0
    bad = subprocess.run(
        [sys.executable, "-m", "rlvr_gym.cli", "eval", "--responses", str(responses), "--tasks", "arithmetic", "--task-option", "digits=1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "expected TASK.KEY=VALUE" in bad.stderr
