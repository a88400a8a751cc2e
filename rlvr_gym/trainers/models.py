"""Loading the models a trainer runs from a Hugging Face folder: tokenizer and causal LM (dropout off).

The value model (`rlvr_gym.trainers.value_model`) loads its backbone the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

__all__ = ["dropout_free_config", "load_causal_lm", "load_tokenizer"]


def load_tokenizer(path: str | Path) -> Any:
    """The checkpoint's tokenizer; it must have a pad or an EOS token (padding uses one of them)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is None:
        raise ValueError(f"{path}: the tokenizer has neither a pad nor an EOS token")
    return tokenizer


def load_causal_lm(path: str | Path) -> torch.nn.Module:
    """The checkpoint's causal LM in float32 with dropout off (see `dropout_free_config`)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, config=dropout_free_config(path), dtype=torch.float32)


def dropout_free_config(path: str | Path):
    """The checkpoint's transformers config with every dropout probability set to 0.

    PPO compares logprobs (and values) computed at rollout time with those of the update's forward
    passes: both must come from the same function, so RLHF trainers (TRL, OpenRLHF) turn dropout off.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    for key, value in config.to_dict().items():
        if isinstance(value, float) and ("dropout" in key or key.endswith("_pdrop")):
            setattr(config, key, 0.0)
    return config
