"""The Gymnasium environment of a task: one prompt per episode, the verifier's score as reward.

Spaces
    Observations and actions are text (`UnicodeText`, a ``gymnasium.spaces.Text`` that admits
    any Unicode character): observations up to ``MAX_PROMPT_CHARS`` characters, actions up to
    ``MAX_RESPONSE_CHARS``. A longer response is still verified (the verifier guards itself);
    the limits describe the spaces, they do not truncate anything.

Episode
    ``reset(seed=..., options={"index": i})`` draws item ``i`` (or a random one from the
    env's generator) and returns its prompt. ``step(response)`` verifies the response and
    ends the episode: ``(obs="", reward=score, terminated=True, truncated=False, info)``.

Multi-turn (``max_attempts=K > 1``)
    A wrong attempt before the K-th returns reward 0, ``terminated=False`` and, as the
    next observation, the prompt followed by feedback naming the verifier's reason. The
    episode ends at the first correct attempt or after K attempts; the reward of the last
    step is the verifier's score for the last attempt.
"""

from __future__ import annotations

import string
from typing import Any, Mapping, SupportsFloat

import gymnasium
from gymnasium import spaces

from ..verifiers import Reason
from .data import Item
from .tasks import PromptFormat, TaskSpec, bind_task

__all__ = ["RLVREnv", "UnicodeText", "MAX_PROMPT_CHARS", "MAX_RESPONSE_CHARS"]

MAX_PROMPT_CHARS = 65_536
"""Largest observation (prompt) length in characters."""
MAX_RESPONSE_CHARS = 1_048_576
"""Largest action (response) length in characters the action space describes."""
_SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n"

_FEEDBACK = {
    Reason.WRONG_ANSWER: "That answer is not correct.",
    Reason.NO_ANSWER: "No final answer could be read from your response.",
    Reason.INVALID_RESPONSE: "Your response could not be read.",
}


class UnicodeText(spaces.Text):
    """A ``Text`` space whose members may hold any Unicode character; samples use printable ASCII."""

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | None = None):
        super().__init__(max_length, min_length=min_length, charset=_SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"


class RLVREnv(gymnasium.Env[str, str]):
    """A verifiable task as a Gymnasium environment (see the module docstring)."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        task: str | TaskSpec,
        *,
        split: str | None = None,
        prompt_format: PromptFormat | str | None = None,
        tokenizer: Any = None,
        alpha: float | None = None,
        max_attempts: int = 1,
        source_options: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ):
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.task = bind_task(
            task, split=split, prompt_format=prompt_format, tokenizer=tokenizer, alpha=alpha, source_options=source_options
        )
        self.spec_task, self.split, self.items, self.verifier = self.task.spec, self.task.split, self.task.items, self.task.verifier
        self.max_attempts = max_attempts
        self.render_mode = render_mode
        self.observation_space = UnicodeText(MAX_PROMPT_CHARS)
        self.action_space = UnicodeText(MAX_RESPONSE_CHARS)
        self._item: Item | None = None
        self._formatted: dict[int, tuple[str, list[dict[str, str]]]] = {}
        """Formatted prompt and messages per item index, built on first use."""
        self._index = -1
        self._prompt = ""
        self._attempt = 0
        self._last: str = ""

    # -- Gymnasium API -----------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        if seed is not None:
            super().reset(seed=seed)
        index = options.get("index") if options else None
        if index is None:
            index = int(self.np_random.integers(len(self.items)))
        elif isinstance(index, bool) or not isinstance(index, int) or not -len(self.items) <= index < len(self.items):
            raise ValueError(f"options['index'] must be an int in [0, {len(self.items)}), got {index!r}")
        self._index = index % len(self.items)
        self._item = item = self.items[self._index]
        formatted = self._formatted.get(self._index)
        if formatted is None:
            formatted = self._formatted[self._index] = self.task.prompt(item)
        self._prompt, messages = formatted
        self._attempt = 0
        self._last = self._prompt
        info = {
            "task": self.spec_task.name,
            "split": self.split,
            "item_id": item.id,
            "index": self._index,
            "messages": [dict(message) for message in messages],
        }
        return self._prompt, info

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._item is None:
            raise RuntimeError("call reset() before step()")
        if self._attempt >= self.max_attempts:
            raise RuntimeError("the episode has ended; call reset() before step()")
        self._attempt += 1
        verdict = self.verifier.verify(action, self._item.ground_truth)
        info = {
            "score": verdict.score,
            "correct": verdict.correct,
            "extracted": verdict.extracted,
            "reason": verdict.reason.value,
            "details": verdict.details,
            "task": self.spec_task.name,
            "item_id": self._item.id,
            "attempt": self._attempt,
        }
        done = verdict.correct or self._attempt >= self.max_attempts
        if done:
            observation = ""
        else:
            feedback = _FEEDBACK.get(verdict.reason, f"The response was not accepted ({verdict.reason.value}).")
            left = self.max_attempts - self._attempt
            observation = f"{self._prompt}\n\n{feedback} Try again ({left} attempt{'s' if left > 1 else ''} left)."
        self._last = observation or action
        return observation, float(verdict.score), done, False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last
        return None
