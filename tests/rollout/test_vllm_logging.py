"""The vLLM log filter, with plain `logging` (no vLLM needed): one line per dtype pair, other records untouched."""

from __future__ import annotations

import logging

from rlvr_gym.rollout.vllm_logging import OncePerKindFilter


def emit(logger: logging.Logger, message: str, *args: object) -> None:
    logger.warning(message, *args)


def test_the_dtype_warning_passes_once_per_dtype_pair(caplog):
    logger = logging.getLogger("rlvr_gym.test.vllm_dtype")
    logger.addFilter(OncePerKindFilter())
    template = "Attempted to load weight %s with dtype %s into parameter with dtype %s"
    with caplog.at_level(logging.WARNING, logger=logger.name):
        for name in ("model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "model.norm.weight"):
            emit(logger, template, name, "torch.float32", "torch.bfloat16")
        emit(logger, template, "model.norm.weight", "torch.float64", "torch.float32")
        emit(logger, "something else entirely")
        emit(logger, "something else entirely")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Attempted to load weight * with dtype torch.float32 into parameter with dtype torch.bfloat16"
        " (shown once; the copy casts; further tensors not listed)",
        "Attempted to load weight * with dtype torch.float64 into parameter with dtype torch.float32"
        " (shown once; the copy casts; further tensors not listed)",
        "something else entirely",
        "something else entirely",
    ]
