"""The tiny model is an ordinary HF checkpoint: transformers reloads it as it is."""

from __future__ import annotations

import json
import unicodedata

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from rlvr_gym.trainers.tiny import (  # noqa: E402
    EOS_TOKEN,
    IM_END_TOKEN,
    PAD_TOKEN,
    SPECIAL_TOKENS,
    TinyModelConfig,
    build_tiny_model,
    build_tiny_tokenizer,
)

SAMPLES = [
    "12 + 34 = 46",
    "What is 7*8-3? Answer: 53.",
    "  two  spaces\tand a tab\nnewline",
    unicodedata.normalize("NFD", "café, naïve, 3€, ∑x²"),
    "<|im_start|>user\n2+2?<|im_end|>\n",
]


def test_files_and_config(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    } <= names
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2"
    assert config["hidden_size"] // config["num_attention_heads"] >= 32  # vLLM refuses head_dim 16
    assert config["vocab_size"] == 256 + len(SPECIAL_TOKENS)


def test_tokenizer_reloads_identically(tiny_model_dir):
    built = build_tiny_tokenizer()
    loaded = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert (
        json.loads(built.backend_tokenizer.to_str())["pre_tokenizer"]
        == json.loads(loaded.backend_tokenizer.to_str())["pre_tokenizer"]
    )
    for text in SAMPLES:
        ids = built(text, add_special_tokens=False)["input_ids"]
        assert loaded(text, add_special_tokens=False)["input_ids"] == ids
        assert loaded.decode(ids) == unicodedata.normalize("NFC", text)
    assert loaded.eos_token == EOS_TOKEN and loaded.pad_token == PAD_TOKEN
    assert [loaded.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert loaded("7")["input_ids"] == [len(SPECIAL_TOKENS) + ord("7")]  # byte b -> id 4 + b, no BOS


def test_chat_template(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "1+1?"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.convert_tokens_to_ids(IM_END_TOKEN) in ids


def test_model_reloads_with_the_same_weights_and_generation_config(tiny_model_dir, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.tie_word_embeddings
    assert set(model.generation_config.eos_token_id) == {1, 3}  # <|endoftext|>, <|im_end|>
    again = build_tiny_model(tmp_path / "again", TinyModelConfig(), seed=0)
    other = build_tiny_model(tmp_path / "other", TinyModelConfig(), seed=1)
    same = AutoModelForCausalLM.from_pretrained(again).state_dict()
    different = AutoModelForCausalLM.from_pretrained(other).state_dict()
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, same[name], atol=0, rtol=0)
    assert not torch.equal(model.state_dict()["model.embed_tokens.weight"], different["model.embed_tokens.weight"])
    logits = model(torch.tensor([[4 + ord("1"), 4 + ord("+")]])).logits
    assert logits.shape == (1, 2, model.config.vocab_size) and torch.isfinite(logits).all()


def test_config_rejects_head_dim_below_32():
    with pytest.raises(ValueError, match="head dim"):
        TinyModelConfig(hidden_size=64, num_attention_heads=4)
