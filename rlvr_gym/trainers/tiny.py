"""A tiny causal LM and tokenizer built in code: no hub, no download.

`build_tiny_model` writes an ordinary Hugging Face checkpoint folder
(``config.json``, ``model.safetensors``, ``generation_config.json``,
``tokenizer.json``, ``tokenizer_config.json``) that ``AutoModelForCausalLM``,
``AutoTokenizer`` and ``vllm.LLM`` load as they are. Tests, benchmarks and smoke
runs use it in place of a real checkpoint.

The tokenizer is byte-level with no merges: every UTF-8 byte is one token, so it
can spell any prompt (digits, ``+ - * / =``, letters, punctuation, any Unicode)
in a 256-byte vocabulary plus four special tokens. Token id of byte ``b`` is
``len(SPECIAL_TOKENS) + b``. Text is NFC-normalised first, as Qwen2's tokenizer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import check

__all__ = [
    "CHAT_TEMPLATE",
    "EOS_TOKEN",
    "IM_END_TOKEN",
    "IM_START_TOKEN",
    "PAD_TOKEN",
    "SPECIAL_TOKENS",
    "TinyModelConfig",
    "build_tiny_model",
    "build_tiny_tokenizer",
]

PAD_TOKEN = "<|pad|>"
EOS_TOKEN = "<|endoftext|>"
IM_START_TOKEN = "<|im_start|>"
IM_END_TOKEN = "<|im_end|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD_TOKEN, EOS_TOKEN, IM_START_TOKEN, IM_END_TOKEN)
"""Special tokens, in id order: ``<|pad|>`` = 0, ``<|endoftext|>`` = 1, ``<|im_start|>`` = 2, ``<|im_end|>`` = 3."""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML, as Qwen2 uses it. A reply ends with ``<|im_end|>`` or ``<|endoftext|>``: both stop generation."""


@dataclass(frozen=True)
class TinyModelConfig:
    """Shape of the tiny Qwen2 model. Defaults give about 0.1M parameters."""

    hidden_size: int = 64
    """Width of the residual stream."""
    num_attention_heads: int = 2
    """Query heads; ``hidden_size / num_attention_heads`` is the head dim, which vLLM wants >= 32."""
    num_key_value_heads: int = 2
    """Key/value heads (grouped-query attention when fewer than the query heads)."""
    num_hidden_layers: int = 2
    """Transformer blocks."""
    intermediate_size: int = 128
    """Width of the SwiGLU MLP."""
    max_position_embeddings: int = 1024
    """Longest prompt + response the model is configured for."""
    tie_word_embeddings: bool = True
    """Share the input embedding with the LM head, as Qwen2.5-0.5B does."""
    initializer_range: float = 0.02
    """Std of the normal init; larger values give peakier, less uniform next-token distributions."""

    def __post_init__(self) -> None:
        heads, kv_heads = self.num_attention_heads, self.num_key_value_heads
        check(self.hidden_size % heads == 0, "hidden_size", f"{self.hidden_size} is not a multiple of num_attention_heads {heads}")
        check(heads % kv_heads == 0, "num_attention_heads", f"{heads} is not a multiple of num_key_value_heads {kv_heads}")
        head_dim = self.hidden_size // heads
        check(head_dim >= 32, "hidden_size", f"head dim hidden_size / num_attention_heads must be >= 32 for vLLM, got {head_dim}")


_QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
"""Qwen2's pre-tokenizer split (from ``transformers.models.qwen2.tokenization_qwen2``)."""


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map, the alphabet of ``tokenizers``' ByteLevel."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


def build_tiny_tokenizer(model_max_length: int = TinyModelConfig.max_position_embeddings):
    """A byte-level ``PreTrainedTokenizerFast`` with `SPECIAL_TOKENS` and the ChatML `CHAT_TEMPLATE`.

    No BOS is added; ``eos_token`` is ``<|endoftext|>`` and ``pad_token`` is ``<|pad|>``.
    ``AutoTokenizer`` reloads the saved folder as transformers' ``Qwen2Tokenizer``
    (it does so for every qwen2 checkpoint), which encodes exactly the same.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_chars = _bytes_to_unicode()
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({byte_chars[b]: len(SPECIAL_TOKENS) + b for b in range(256)})
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], continuing_subword_prefix="", end_of_word_suffix=""))
    # The same pipeline as transformers' Qwen2Tokenizer, which AutoTokenizer rebuilds for any qwen2 checkpoint:
    # with it, the tokenizer built here and the one reloaded from disk (by transformers or vLLM) agree exactly.
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=None,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[IM_START_TOKEN, IM_END_TOKEN],
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(out_dir: str | Path, config: TinyModelConfig = TinyModelConfig(), seed: int = 0) -> Path:
    """Write a randomly initialised tiny Qwen2 checkpoint and its tokenizer to ``out_dir``.

    The same ``config`` and ``seed`` give the same weights. Weights are float32.
    Returns ``out_dir`` as a `Path`.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(config.max_position_embeddings)
    eos_id = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    im_end_id = tokenizer.convert_tokens_to_ids(IM_END_TOKEN)
    model_config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=config.tie_word_embeddings,
        initializer_range=config.initializer_range,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(model_config).to(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=[eos_id, im_end_id], pad_token_id=tokenizer.pad_token_id, do_sample=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
