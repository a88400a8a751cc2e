"""Item sources: JSONL, Parquet, a local `datasets` folder; prompt formats; the tasks/sample CLI."""

import json
import subprocess
import sys

import pytest

from rlvr_gym.envs import FileSource, HFDatasetSource, RLVREnv, TaskSpec, format_prompt

ROWS = [{"q": "What is 2 + 2?", "a": "4", "key": "k0", "level": 1}, {"q": "What is 3 * 3?", "a": "9", "key": "k1", "level": 2}]


def test_jsonl_and_parquet_give_the_same_items(tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'rlvr-gym[parquet]')")
    import pyarrow.parquet as pq

    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "d.parquet")
    kwargs = dict(prompt_field="q", ground_truth_field="a", id_field="key", metadata_fields=("level",))
    from_jsonl = FileSource(str(tmp_path / "d.jsonl"), **kwargs).load()
    from_parquet = FileSource(str(tmp_path / "d.parquet"), **kwargs).load()
    assert from_jsonl == from_parquet
    assert [(i.id, i.prompt, i.ground_truth, dict(i.metadata)) for i in from_jsonl] == [
        ("k0", "What is 2 + 2?", "4", {"level": 1}),
        ("k1", "What is 3 * 3?", "9", {"level": 2}),
    ]


def test_bad_rows_are_named(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"d.jsonl: line 2 is not valid JSON"):
        FileSource(str(path), prompt_field="q", ground_truth_field="a").load()
    path.write_text(json.dumps({"q": "x"}) + "\n")
    with pytest.raises(KeyError, match=r"row 1 has no field 'a' \(fields: q\)"):
        FileSource(str(path), prompt_field="q", ground_truth_field="a").load()


def test_hf_dataset_source_reads_a_local_folder_offline(tmp_path, monkeypatch):
    pytest.importorskip("datasets", reason="datasets is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    items = HFDatasetSource(str(folder), split="train", prompt_field="q", ground_truth_field=("a", "level")).load()
    assert [(i.id, i.prompt, i.ground_truth) for i in items] == [
        ("0", "What is 2 + 2?", {"a": "4", "level": 1}),
        ("1", "What is 3 * 3?", {"a": "9", "level": 2}),
    ]


def test_chat_prompt_format_uses_the_tokenizer_template():
    pytest.importorskip("transformers", reason="transformers is not installed")
    from rlvr_gym.trainers.tiny import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    env = RLVREnv("arithmetic", prompt_format="chat", tokenizer=tokenizer)
    obs, info = env.reset(options={"index": 0})
    content = info["messages"][0]["content"]
    assert obs == f"<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n"
    assert content == f"{env.items[0].prompt}\n\nGive the final answer after '#### '."


def test_plain_and_step_by_step_formats():
    spec = TaskSpec(name="fmt_probe", splits={"train": FileSource("x.jsonl", "q", "a")}, verifier="gsm8k", instruction="End with #### N.")
    from rlvr_gym.envs import Item

    item = Item(id="0", prompt="What is 1 + 1?", ground_truth="2")
    assert format_prompt(spec, item, "plain")[0] == "What is 1 + 1?"
    assert format_prompt(spec, item, "step_by_step")[0] == "What is 1 + 1?\n\nEnd with #### N."


def test_register_task_rejects_duplicates_and_unknown_verifiers():
    from rlvr_gym.envs import register_task

    spec = TaskSpec(name="dup_probe", splits={"train": FileSource("x.jsonl", "q", "a")}, verifier="gsm8k")
    register_task(spec, gymnasium_env=False)
    with pytest.raises(ValueError, match="task 'dup_probe' is already registered"):
        register_task(spec, gymnasium_env=False)
    with pytest.raises(ValueError, match="unknown verifier 'nope'"):
        register_task(TaskSpec(name="bad_probe", splits={"train": FileSource("x.jsonl", "q", "a")}, verifier="nope"))
    with pytest.raises(ValueError, match="task name must match"):
        TaskSpec(name="Bad Name", splits={"train": FileSource("x.jsonl", "q", "a")}, verifier="gsm8k")
    with pytest.raises(ValueError, match="default_split 'train' is not one of"):
        TaskSpec(name="split_probe", splits={"test": FileSource("x.jsonl", "q", "a")}, verifier="gsm8k")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rlvr_gym.cli", *args], capture_output=True, text=True, timeout=120)


def test_tasks_and_sample_commands():
    proc = _cli("tasks")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:5] == ["gym", "id", "task", "size", "verifier"]
    row = next(line for line in lines if line.startswith("rlvr_gym/Arithmetic-v0"))
    assert "train=10000 test=10000" in row and " gsm8k " in row and " v0 " in row
    proc = _cli("sample", "--task", "arithmetic", "-n", "3", "--split", "test", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("=== arithmetic [test] item ") == 3 and proc.stdout.count("--- ground truth: ") == 3
    assert (
        _cli("sample", "--task", "arithmetic", "-n", "3", "--seed", "1").stdout
        == _cli("sample", "--task", "arithmetic", "-n", "3", "--seed", "1").stdout
    )
    proc = _cli("sample", "--task", "nope")
    assert proc.returncode == 2 and "unknown task 'nope'" in proc.stderr
