"""Grouped-query attention without copying the KV cache: transformers' SDPA attention, with torch's ``enable_gqa``.

With a padding mask (every left-padded batch the HF engine decodes), transformers' ``sdpa`` attention
repeats each key/value head for its query heads before calling ``scaled_dot_product_attention``
(``use_gqa_in_sdpa`` allows torch's own grouped-query support only without a mask, for the CUDA
kernels' sake). For SmolLM2-135M (9 query, 3 key/value heads) that is a copy of three times the
whole KV cache, in every layer at every decoded token: 55% of decode time on 8-shot GSM8K prompts
(profiled). torch's CPU kernels take grouped queries with a mask, and give the same numbers (max
difference 0.0 on a 16 x 1,600-token cache, one layer: 212 ms with the copy, 22 ms without).

`use_gqa_attention` switches a GQA model to `ATTENTION`, registered under that name with transformers'
attention and mask interfaces (the mask is SDPA's own); models without GQA, or not on SDPA, keep what
they have.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

__all__ = ["ATTENTION", "gqa_sdpa_attention", "use_gqa_attention"]

ATTENTION = "rlvr_gym_sdpa_gqa"


def gqa_sdpa_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """``sdpa_attention_forward`` for ``query`` ``# (B, H, q, D)`` and ``key``/``value`` ``# (B, KV, k, D)`` with
    ``H`` a multiple of ``KV``, passing the groups to torch instead of repeating the heads. Cases that function
    treats specially (a position bias, a paged cache, attention weights asked for) go to it unchanged."""
    if kwargs.get("position_bias") is not None or kwargs.get("cache") is not None or kwargs.get("output_attentions"):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)
    is_causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    is_causal = query.shape[2] > 1 and attention_mask is None and is_causal  # as transformers decides it
    out = torch.nn.functional.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=attention_mask,
        dropout_p=dropout,
        scale=scaling,
        is_causal=is_causal,
        enable_gqa=key.shape[1] != query.shape[1],
    )  # (B, H, q, D)
    return out.transpose(1, 2).contiguous(), None  # (B, q, H, D)


AttentionInterface.register(ATTENTION, gqa_sdpa_attention)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)


def use_gqa_attention(model: torch.nn.Module) -> bool:
    """Switch ``model`` to `ATTENTION` when it uses SDPA with fewer key/value heads than query heads; True if it did."""
    config = getattr(model, "config", None)
    heads = getattr(config, "num_attention_heads", None)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa" or not heads or kv_heads == heads:
        return False
    model.set_attn_implementation(ATTENTION)
    return True
