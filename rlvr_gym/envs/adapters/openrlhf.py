"""OpenRLHF's reward call: ``(queries, prompts, labels) -> {"rewards", "scores", "extra_logs"}``.

Read from OpenRLHF v0.11.2, ``openrlhf/utils/agent.py``: ``SingleTurnAgentExecutor.execute``
decodes prompt + response tokens with ``skip_special_tokens=False`` (so ``<|im_end|>`` and the
chat template's markers stay in the text) and asks for the reward of **one sample per call**,
either by HTTP (``_fetch_rewards_via_http``: POST ``{"query": [q], "prompts": [p], "labels": [l]}``,
5 tries, then ``None``) or through a ``.py`` file's ``reward_func(queries, prompts, labels)``
(``_fetch_rewards_via_func``, on a thread). It reads ``rewards``, ``scores`` (``rewards`` when
absent) and ``extra_logs``; ``samples_generator.py`` (``_process_response_into_experience``)
then runs ``torch.tensor([value])`` on every ``extra_logs`` value, so each must be numbers, one
per sample. ``scores`` feed dynamic filtering, documented as 0-1 values.

The prompt may have been truncated from the left (``prompt_token_ids[-max_prompt_length:]``), so
the query need not start with the prompt. `isolate_response` finds where the prompt ends; when it
cannot, the sample scores 0 with reason ``invalid_response`` and is counted in ``not_isolated``:
prompt text is never verified.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...verifiers import Reason, Verdict, get_verifier, make_verdict
from .workers import SharedVerifier

__all__ = ["ASSISTANT_MARKERS", "END_TOKENS", "REWARD_FUNC_FILE", "Isolation", "IsolationMethod", "OpenRLHFReward", "isolate_response"]

REWARD_FUNC_FILE = Path(__file__).with_name("openrlhf_reward_func.py")
"""The file for OpenRLHF's ``--reward.remote_url /path/to/file.py`` mode."""

_TAIL_CHARS = 16
"""How many of the prompt's last characters are searched for to find where a left-truncated prompt ends (each hit is
then checked: the query up to it must be a suffix of the prompt, so a short tail only costs more checks)."""
_BOUNDARY_SLACK = 8
"""Characters at the head of a left-truncated query that may differ from the prompt: a token cut
inside a UTF-8 character decodes to U+FFFD, and SentencePiece drops the first token's leading space."""

ASSISTANT_MARKERS: tuple[str, ...] = (
    "<|im_start|>assistant\n",  # ChatML: Qwen, SmolLM
    "<|start_header_id|>assistant<|end_header_id|>\n\n",  # Llama 3
    "<start_of_turn>model\n",  # Gemma
    "<|assistant|>\n",  # Phi-3, Zephyr
    "<｜Assistant｜>",  # DeepSeek-R1 (fullwidth bars)
    "[/INST]",  # Llama 2, Mistral
)
"""Chat templates' opening of the assistant turn (the end of a prompt built with ``add_generation_prompt``)."""

END_TOKENS: tuple[str, ...] = (
    "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>", "<|end|>",
    "<end_of_turn>", "<eos>", "</s>", "<｜end▁of▁sentence｜>",
)
"""End-of-turn tokens that decoding with special tokens leaves at the end of a response; removed before verifying."""

_MAX_GENERATION_PREFIX = 64
"""Longest text a chat template may put after its assistant marker (e.g. Qwen3's empty ``<think></think>``)."""


class IsolationMethod(str, enum.Enum):
    """How the response was cut out of the query."""

    PREFIX = "prefix"  # the query starts with the whole prompt
    PROMPT_TAIL = "prompt_tail"  # the query starts with a left-truncated prompt
    ASSISTANT_MARKER = "assistant_marker"  # after the chat template's last assistant marker
    NONE = "none"  # not found: the sample is not verified


@dataclass(frozen=True)
class Isolation:
    response: str | None
    """The response text, end-of-turn tokens removed; None when it could not be isolated."""
    method: IsolationMethod
    error: str = ""
    """Why it could not be isolated (method NONE)."""


def _strip_end_tokens(text: str) -> str:
    while True:
        trimmed = text.rstrip()
        token = next((t for t in END_TOKENS if trimmed.endswith(t)), None)
        if token is None:
            return text
        text = trimmed[: -len(token)]


def _after_prompt_tail(query: str, prompt: str) -> int | None:
    """End of the longest head of ``query`` (give or take `_BOUNDARY_SLACK` leading characters) that is a suffix of ``prompt``."""
    tail = prompt[-_TAIL_CHARS:]
    best = None
    found = query.find(tail)
    # The head is a suffix of the prompt, so it ends within len(prompt) + slack characters.
    while found != -1 and found + len(tail) <= len(prompt) + _BOUNDARY_SLACK:
        end = found + len(tail)
        if any(prompt.endswith(query[j:end]) for j in range(min(_BOUNDARY_SLACK, found) + 1)):
            best = end
        found = query.find(tail, found + 1)
    return best


def _after_assistant_marker(query: str, prompt: str) -> int | None:
    """End of the query's last assistant marker plus the generation prefix, when the prompt ends with that marker."""
    for marker in ASSISTANT_MARKERS:
        at = prompt.rfind(marker)
        if at == -1:
            continue
        generation_prefix = prompt[at + len(marker) :]
        if len(generation_prefix) > _MAX_GENERATION_PREFIX or any(m in generation_prefix for m in ASSISTANT_MARKERS):
            continue  # the prompt does not end with this assistant turn
        q_at = query.rfind(marker)
        if q_at == -1:
            continue
        end = q_at + len(marker)
        if not query.startswith(generation_prefix, end):
            continue
        return end + len(generation_prefix)
    return None


def isolate_response(query: str, prompt: str) -> Isolation:
    """The response inside ``query`` (prompt + response as OpenRLHF decodes it), never any prompt text.

    In order: the query starts with the prompt; the query starts with the prompt's tail (the
    prompt was truncated from the left); the text after the chat template's assistant marker
    that ends the prompt. Otherwise ``Isolation(None, NONE, error)``.
    """
    if not prompt:
        return Isolation(None, IsolationMethod.NONE, "the prompt is empty, so the response cannot be told apart from it")
    if query.startswith(prompt):
        return Isolation(_strip_end_tokens(query[len(prompt) :]), IsolationMethod.PREFIX)
    end = _after_prompt_tail(query, prompt)
    if end is not None:
        return Isolation(_strip_end_tokens(query[end:]), IsolationMethod.PROMPT_TAIL)
    end = _after_assistant_marker(query, prompt)
    if end is not None:
        return Isolation(_strip_end_tokens(query[end:]), IsolationMethod.ASSISTANT_MARKER)
    return Isolation(
        None,
        IsolationMethod.NONE,
        f"response not isolated: the query neither starts with the prompt, nor with its last {_TAIL_CHARS} "
        "characters, nor holds the assistant marker the prompt ends with",
    )


def _string_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__}")
    for i, entry in enumerate(value):
        if not isinstance(entry, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(entry).__name__}")
    return list(value)


class OpenRLHFReward:
    """``reward_func(queries, prompts, labels)`` for OpenRLHF, also behind ``rlvr-gym serve``'s ``/get_reward``.

    Answer, one entry per sample: ``rewards`` (alpha or 0), ``scores`` (1.0 or 0.0),
    ``extra_logs`` (``{reason: [1.0 or 0.0], ..., "not_isolated": [...]}``, every `Reason`
    a key) and ``reasons`` (the verdict reasons; OpenRLHF ignores this key).
    """

    def __init__(self, shared: SharedVerifier):
        self.shared = shared

    @classmethod
    def build(cls, verifier: str, alpha: float = 1.0, workers: int = 2, timeout_s: float = 10.0) -> OpenRLHFReward:
        return cls(SharedVerifier(get_verifier(verifier, alpha=alpha), workers=workers, timeout_s=timeout_s))

    @classmethod
    def from_env(cls) -> OpenRLHFReward:
        """Settings from ``RLVR_GYM_VERIFIER`` (required), ``RLVR_GYM_ALPHA``, ``RLVR_GYM_WORKERS``, ``RLVR_GYM_TIMEOUT``."""
        name = os.environ.get("RLVR_GYM_VERIFIER")
        if not name:
            raise RuntimeError(
                "set RLVR_GYM_VERIFIER (e.g. gsm8k, math, ifeval) in the environment of OpenRLHF's workers, "
                "e.g. ray job submit --runtime-env-json='{\"env_vars\": {\"RLVR_GYM_VERIFIER\": \"math\"}}'"
            )
        settings = {"RLVR_GYM_ALPHA": "1", "RLVR_GYM_WORKERS": "2", "RLVR_GYM_TIMEOUT": "10"}
        values = {key: os.environ.get(key, default) for key, default in settings.items()}
        try:
            alpha, workers, timeout_s = float(values["RLVR_GYM_ALPHA"]), int(values["RLVR_GYM_WORKERS"]), float(values["RLVR_GYM_TIMEOUT"])
        except ValueError as exc:
            raise RuntimeError(f"bad RLVR_GYM_* setting {values}: {exc}") from None
        return cls.build(name, alpha=alpha, workers=workers, timeout_s=timeout_s)

    def __call__(self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]) -> dict[str, Any]:
        queries = _string_list("queries", queries)
        prompts = _string_list("prompts", prompts)
        if not isinstance(labels, (list, tuple)):
            raise TypeError(f"labels must be a list, got {type(labels).__name__}")
        if not len(queries) == len(prompts) == len(labels):
            raise ValueError(f"queries, prompts and labels differ in length: {len(queries)}, {len(prompts)}, {len(labels)}")
        isolations = [isolate_response(q, p) for q, p in zip(queries, prompts)]
        to_verify = [i for i, iso in enumerate(isolations) if iso.response is not None]
        result = self.shared.verify([(isolations[i].response, labels[i]) for i in to_verify])
        alpha = self.shared.verifier.alpha
        verdicts: list[Verdict] = [make_verdict(alpha, Reason.INVALID_RESPONSE, details={"error": iso.error}) for iso in isolations]
        for i, verdict in zip(to_verify, result.verdicts):
            verdicts[i] = verdict
        extra_logs = {reason.value: [1.0 if v.reason is reason else 0.0 for v in verdicts] for reason in Reason}
        extra_logs["not_isolated"] = [1.0 if iso.response is None else 0.0 for iso in isolations]
        return {
            "rewards": [v.score for v in verdicts],
            "scores": [1.0 if v.correct else 0.0 for v in verdicts],
            "extra_logs": extra_logs,
            "reasons": [v.reason.value for v in verdicts],
        }

    def close(self) -> None:
        self.shared.close()
