"""`rlvr-gym verify` run as a real subprocess."""

import json
import subprocess
import sys


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "rlvr_gym.cli", *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_verify_writes_one_verdict_per_line_in_order(tmp_path):
    lines = [
        json.dumps({"response": "#### 72", "ground_truth": "72"}),
        "{not json",
        json.dumps({"response": "the answer is 5", "ground_truth": "6"}),
        json.dumps({"response": "x"}),
        json.dumps([1, 2]),
        json.dumps({"response": "", "ground_truth": "6"}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    proc = run_cli("verify", "--task", "gsm8k", "--input", str(src), "--output", str(out), "--alpha", "10", "--workers", "2")
    assert proc.returncode == 1, proc.stderr  # malformed lines make the exit status 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 6
    assert records[0]["score"] == 10.0 and records[0]["reason"] == "correct" and records[0]["extracted"] == "72"
    assert records[1] == {"error": records[1]["error"], "line": 2} and "line 2: not valid JSON" in records[1]["error"]
    assert records[2]["reason"] == "wrong_answer" and records[2]["score"] == 0.0
    assert "line 4: missing key(s) ground_truth" in records[3]["error"]
    assert "line 5: expected a JSON object, got list" in records[4]["error"]
    assert records[5]["reason"] == "no_answer"
    assert "error: line 2: not valid JSON" in proc.stderr
    assert "verified 3 items with gsm8k: accuracy 0.3333" in proc.stderr
    assert "correct=1, wrong_answer=1, no_answer=1; 3 malformed line(s)" in proc.stderr


def test_verify_stdin_to_stdout():
    proc = run_cli(
        "verify", "--task", "gsm8k", "--input", "-", "--workers", "0", stdin=json.dumps({"response": "7", "ground_truth": 7}) + "\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["correct"] is True


def test_unknown_task_is_a_clear_error(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("")
    proc = run_cli("verify", "--task", "gsm9k", "--input", str(src))
    assert proc.returncode == 2
    assert "unknown verifier 'gsm9k'; registered: code, countdown, gsm8k, ifeval, ifeval_loose, math" in proc.stderr


def test_missing_input_file_is_a_clear_error(tmp_path):
    proc = run_cli("verify", "--task", "gsm8k", "--input", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2 and "nope.jsonl" in proc.stderr
