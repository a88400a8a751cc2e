"""The critic: a scalar value head on a transformer backbone (a copy of the policy's, by default).

``values[:, t]`` is read from the hidden state at ``t - 1``, the state in which token ``t`` is
chosen, so values align with tokens the way `rlvr_gym.trainers.logprobs.gather_logprobs` aligns
logprobs, and `rlvr_gym.trainers.algorithms.ppo.gae` can take both with the same response mask.

Saved as a Hugging Face folder: the backbone's ``save_pretrained`` (``AutoModel`` reloads it)
plus ``value_head.safetensors``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .models import dropout_free_config

__all__ = ["VALUE_HEAD_FILE", "ValueModel"]

VALUE_HEAD_FILE = "value_head.safetensors"
"""The head's weights beside the backbone's checkpoint: ``weight`` ``# (1, H)`` and ``bias`` ``# (1,)``."""


class ValueModel(torch.nn.Module):
    """``backbone`` (a transformers base model, e.g. ``Qwen2Model``) + ``Linear(hidden_size, 1)``."""

    def __init__(self, backbone: torch.nn.Module, hidden_size: int):
        super().__init__()
        self.backbone = backbone
        self.value_head = torch.nn.Linear(hidden_size, 1)
        torch.nn.init.zeros_(self.value_head.weight)  # V = 0 everywhere at the start: no bias in the first advantages
        torch.nn.init.zeros_(self.value_head.bias)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> ValueModel:
        """The backbone of the causal LM (or base model) at ``path`` (dropout off), and its value head when one is saved there."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        path = Path(path)
        backbone = AutoModel.from_pretrained(path, config=dropout_free_config(path), dtype=torch.float32)
        model = cls(backbone, backbone.config.hidden_size)
        head_file = path / VALUE_HEAD_FILE
        if head_file.is_file():
            model.value_head.load_state_dict(load_file(str(head_file)))
        return model

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Values ``# (B, T)``: column ``t`` estimates the return before token ``t`` is emitted (column 0 is 0)."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state  # (B, T, H)
        values = self.value_head(hidden).squeeze(-1).float()  # (B, T): after token t
        return torch.nn.functional.pad(values[:, :-1], (1, 0))  # (B, T): before token t

    def save_pretrained(self, path: str | Path) -> None:
        """Write the backbone (``save_pretrained``) and ``value_head.safetensors`` to ``path``."""
        from safetensors.torch import save_file

        path = Path(path)
        self.backbone.save_pretrained(path)
        head = {name: tensor.detach().to("cpu").contiguous() for name, tensor in self.value_head.state_dict().items()}
        save_file(head, str(path / VALUE_HEAD_FILE))
