"""Tasks: a source of items per split + a verifier + a prompt format.

``register_task(TaskSpec(...))`` adds a task to the registry and registers its
Gymnasium id ``rlvr_gym/<EnvName>-v<version>``. Bump ``version`` whenever a change
alters scores (a different verifier, instruction or data).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..enums import StrEnum
from ..verifiers import Verifier, get_verifier
from .data import Item, ItemSource

__all__ = [
    "PromptFormat",
    "TaskSpec",
    "register_task",
    "get_task",
    "held_out_items",
    "list_tasks",
    "load_items",
    "format_prompt",
    "gym_id",
    "TaskBinding",
    "bind_task",
]


class PromptFormat(StrEnum):
    """How an item's prompt is shown to the model."""

    PLAIN = "plain"
    """The item's prompt as it is."""
    STEP_BY_STEP = "step_by_step"
    """The prompt followed by the task's instruction, which states the answer format its verifier reads."""
    CHAT = "chat"
    """The step-by-step text as a user message, rendered with the tokenizer's chat template."""


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class TaskSpec:
    """A verifiable task."""

    name: str
    """Registry name: lower case, digits and ``_`` (e.g. ``"gsm8k"``)."""
    splits: Mapping[str, ItemSource] = field(hash=False)
    """Item source per split name, e.g. ``{"train": ..., "test": ...}``."""
    verifier: str
    """Registered verifier name (see ``rlvr_gym.verifiers.list_verifiers()``)."""
    version: int = 0
    """Bumped whenever a change alters scores; part of the Gymnasium id."""
    env_name: str | None = None
    """Gymnasium name (CamelCase, e.g. ``"GSM8K"``); default: the name in CamelCase."""
    default_split: str = "train"
    """Split used when none is asked for."""
    alpha: float = 1.0
    """Score of a correct response (Tülu 3 uses 10)."""
    prompt_format: PromptFormat = PromptFormat.STEP_BY_STEP
    """Default prompt format."""
    instruction: str = ""
    """Text appended by the step-by-step format; it must state the answer format the verifier reads."""
    description: str = ""
    """One line for ``rlvr-gym tasks``."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"task name must match {_NAME.pattern}, got {self.name!r}")
        if not isinstance(self.splits, Mapping) or not self.splits:
            raise ValueError(f"task {self.name!r}: splits must be a non-empty mapping of split name -> item source")
        for split, source in self.splits.items():
            if not callable(getattr(source, "load", None)):
                raise TypeError(f"task {self.name!r}: split {split!r} source has no load() method: {source!r}")
        if self.default_split not in self.splits:
            raise ValueError(f"task {self.name!r}: default_split {self.default_split!r} is not one of {sorted(self.splits)}")
        if not isinstance(self.version, int) or self.version < 0:
            raise ValueError(f"task {self.name!r}: version must be an int >= 0, got {self.version!r}")
        env_name = self.env_name or "".join(part.capitalize() for part in self.name.split("_"))
        if not _ENV_NAME.match(env_name):
            raise ValueError(f"task {self.name!r}: env_name must match {_ENV_NAME.pattern}, got {env_name!r}")
        object.__setattr__(self, "env_name", env_name)
        object.__setattr__(self, "prompt_format", PromptFormat(self.prompt_format))
        object.__setattr__(self, "splits", dict(self.splits))

    @property
    def gym_id(self) -> str:
        return gym_id(self)

    def build_verifier(self, alpha: float | None = None) -> Verifier:
        return get_verifier(self.verifier, alpha=self.alpha if alpha is None else alpha)


def gym_id(spec: TaskSpec) -> str:
    return f"rlvr_gym/{spec.env_name}-v{spec.version}"


_TASKS: dict[str, TaskSpec] = {}
_ITEMS: dict[tuple[str, int, str], Sequence[Item]] = {}
_ITEMS_LOCK = threading.Lock()


def register_task(spec: TaskSpec, *, gymnasium_env: bool = True) -> TaskSpec:
    """Add ``spec`` to the registry (and Gymnasium's, as ``rlvr_gym/<EnvName>-v<version>``).

    Duplicate names are rejected; so is a verifier name nobody registered.
    """
    from ..verifiers import list_verifiers

    if not isinstance(spec, TaskSpec):
        raise TypeError(f"register_task expects a TaskSpec, got {type(spec).__name__}")
    if spec.name in _TASKS:
        raise ValueError(f"task {spec.name!r} is already registered")
    if spec.verifier not in list_verifiers():
        raise ValueError(f"task {spec.name!r}: unknown verifier {spec.verifier!r}; registered: {', '.join(list_verifiers())}")
    _TASKS[spec.name] = spec
    if gymnasium_env:
        import gymnasium

        gymnasium.register(id=spec.gym_id, entry_point="rlvr_gym.envs.env:RLVREnv", kwargs={"task": spec.name})
    return spec


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The registered task called ``name`` (a `TaskSpec` is returned as it is)."""
    if isinstance(name, TaskSpec):
        return name
    try:
        return _TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; registered: {', '.join(sorted(_TASKS))}") from None


def list_tasks() -> list[TaskSpec]:
    """All registered tasks, sorted by name."""
    return [_TASKS[name] for name in sorted(_TASKS)]


def load_items(spec: TaskSpec, split: str | None = None, source_options: Mapping[str, Any] | None = None) -> Sequence[Item]:
    """The items of one split (loaded once per process and cached).

    ``source_options`` replace fields of the split's source dataclass (e.g. ``{"digits": 3}``).
    """
    split = split or spec.default_split
    if split not in spec.splits:
        raise KeyError(f"task {spec.name!r} has no split {split!r}; splits: {', '.join(sorted(spec.splits))}")
    source = spec.splits[split]
    if source_options:
        if not dataclasses.is_dataclass(source):
            raise TypeError(f"task {spec.name!r}: source options need a dataclass source, got {type(source).__name__}")
        try:
            source = dataclasses.replace(source, **source_options)
        except TypeError as exc:
            raise ValueError(f"task {spec.name!r}: bad source option for {type(source).__name__}: {exc}") from None
    key = (spec.name, id(spec), repr(source))
    with _ITEMS_LOCK:
        if key not in _ITEMS:
            items = source.load()
            if len(items) == 0:
                raise ValueError(f"task {spec.name!r} split {split!r} has no items")
            _ITEMS[key] = items
        return _ITEMS[key]


def held_out_items(spec: TaskSpec, source_options: Mapping[str, Any] | None, size: int | None, split: str = "test") -> list[Item]:
    """The first ``size`` distinct prompts of ``split`` (all of them for None; procedural splits repeat problems)."""
    if size == 0:
        return []
    seen: dict[str, Item] = {}
    for item in load_items(spec, split, source_options):
        seen.setdefault(item.prompt, item)
        if len(seen) == size:
            break
    return list(seen.values())


def format_prompt(
    spec: TaskSpec, item: Item, prompt_format: PromptFormat | str | None = None, tokenizer: Any = None
) -> tuple[str, list[dict[str, str]]]:
    """The text shown to the model and the same content as chat messages."""
    prompt_format = PromptFormat(prompt_format or spec.prompt_format)
    if prompt_format is PromptFormat.PLAIN or not spec.instruction:
        content = item.prompt
    else:
        content = f"{item.prompt}\n\n{spec.instruction}"
    messages = [{"role": "user", "content": content}]
    if prompt_format is not PromptFormat.CHAT:
        return content, messages
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"task {spec.name!r}: the chat prompt format needs a tokenizer with a chat template")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), messages


@dataclass(frozen=True)
class TaskBinding:
    """A task resolved for use: its items of one split, its verifier, its prompt format."""

    spec: TaskSpec
    """The task."""
    split: str
    """The split the items come from."""
    prompt_format: PromptFormat
    """How prompts are shown."""
    tokenizer: Any
    """The tokenizer for the chat format (or None)."""
    items: Sequence[Item]
    """The split's items."""
    verifier: Verifier
    """The task's verifier, with the alpha asked for."""

    def prompt(self, item: Item) -> tuple[str, list[dict[str, str]]]:
        return format_prompt(self.spec, item, self.prompt_format, self.tokenizer)


def bind_task(
    task: str | TaskSpec,
    *,
    split: str | None = None,
    prompt_format: PromptFormat | str | None = None,
    tokenizer: Any = None,
    alpha: float | None = None,
    source_options: Mapping[str, Any] | None = None,
) -> TaskBinding:
    """Resolve a task name to its items, verifier and prompt format (defaults: the task's own)."""
    spec = get_task(task)
    split = split or spec.default_split
    return TaskBinding(
        spec=spec,
        split=split,
        prompt_format=PromptFormat(prompt_format or spec.prompt_format),
        tokenizer=tokenizer,
        items=load_items(spec, split, source_options),
        verifier=spec.build_verifier(alpha),
    )
