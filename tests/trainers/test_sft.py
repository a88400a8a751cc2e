"""The embedded default's SFT: when it stops, what it says on the console and what it keeps for the run log."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.envs import get_task, load_items  # noqa: E402
from rlvr_gym.trainers.config import SFTConfig, TaskConfig  # noqa: E402
from rlvr_gym.trainers.sft import build_sft_checkpoint  # noqa: E402
from rlvr_gym.trainers.tiny import TinyModelConfig  # noqa: E402

TINY = TinyModelConfig(hidden_size=64, num_attention_heads=2, num_key_value_heads=2, num_hidden_layers=1, intermediate_size=64)


def _build(tmp_path, capsys, target_accuracy, progress):
    spec = get_task("arithmetic")
    items = load_items(spec, "train", {"digits": 1, "operators": "+"})
    sft = SFTConfig(tiny=TINY, steps=20, target_accuracy=target_accuracy, probe_size=8, probe_every=10, batch_size=4)
    console, detail = [], []
    out = build_sft_checkpoint(tmp_path / "sft", spec, items, TaskConfig(), sft, seed=0, log=console.append, detail=detail.append, progress=progress)
    return out, console, detail, capsys.readouterr().err


# The probe runs every probe_every steps; its line goes to detail, one closing line to the console.


def test_an_unreached_target_runs_every_step_and_keeps_each_probe_line_for_the_log(tmp_path, capsys):
    out, console, detail, err = _build(tmp_path, capsys, target_accuracy=1.0, progress=False)
    assert (out / "config.json").is_file() and not (tmp_path / "sft.tmp").exists()
    assert [line.split(":")[0] for line in detail] == ["sft step 10", "sft step 20"]
    assert len(console) == 1 and console[0].startswith("sft done: 20 steps, loss ")
    assert "train-probe accuracy" in console[0]
    assert "probe=" not in err  # no bar of ours when progress is off (transformers may show its own here)


def test_progress_shows_a_bar_of_the_steps(tmp_path, capsys):
    _, console, detail, err = _build(tmp_path, capsys, target_accuracy=1.0, progress=True)
    assert "sft:   0%|" in err and "0/20" in err  # tqdm draws the bar as it opens (later redraws depend on timing)
    assert len(console) == 1 and len(detail) == 2  # the bar replaces no line: the log keeps them all
