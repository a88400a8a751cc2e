"""Frozen config dataclasses from one YAML file plus ``--set key=value`` overrides.

``load_config(TrainConfig, "run.yaml", ["ppo.kl.init_kl_coef=0.05", "seed=3"])`` reads the YAML,
applies the overrides (values parsed as YAML scalars), and builds the nested frozen
dataclasses, checking every value against its field's type. An unknown key, a value of the
wrong type or a value a ``__post_init__`` rejects raises `ConfigError` naming the key,
before anything heavy (a model) is loaded. `render_yaml` writes a config back as YAML, each
field's docstring as its comment. Nothing here imports torch.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import re
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Mapping, Sequence, TypeVar

import yaml

__all__ = [
    "ConfigError", "apply_overrides", "check", "commented_default", "deep_merge", "field_docs", "from_dict", "load_config",
    "flag_overrides", "print_config", "render_yaml", "to_dict",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing, unknown or invalid; the message names the key: ``"ppo.clip_coef: must lie in (0, 1), got -1.0"``."""


def check(ok: bool, key: str, problem: str) -> None:
    """Raise ``ConfigError("key: problem")`` unless ``ok``: the one message style of every config check.

    ``key`` is the field's name in its own dataclass; `from_dict` puts the section path in front
    (``clip_coef`` raised by ``PPOConfig`` reads ``ppo.clip_coef``).
    """
    if not ok:
        raise ConfigError(f"{key}: {problem}")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} matches none of {annotation}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: must be one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, Sequence) or annotation is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        key_type, value_type = args if args else (str, Any)
        return {_coerce(k, key_type, key): _coerce(v, value_type, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping for {annotation.__name__}, got {value!r}")
        return from_dict(annotation, value, prefix=f"{key}.")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, annotation):
            return value
        try:
            return annotation(value)
        except ValueError:
            raise ConfigError(f"{key}: must be one of {[m.value for m in annotation]}, got {value!r}") from None
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if annotation is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{key}: expected a path, got {value!r}")
        return Path(value)
    raise ConfigError(f"{key}: unsupported field type {annotation!r}")


def from_dict(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, recursively, checking types and unknown keys."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown config key; valid keys here: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        default = _field_default(fields[name])
        if isinstance(value, Mapping) and dataclasses.is_dataclass(default):
            # A partial section keeps the enclosing default's other values, not the section class's.
            value = deep_merge(to_dict(default), value)
        kwargs[name] = _coerce(value, hints[name], f"{prefix}{name}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # raised by `check`: the key is relative to ``cls``
        raise ConfigError(f"{prefix}{exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {exc}") from None


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in: nested mappings key by key, anything else replaced (inputs unchanged)."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def to_dict(config: Any) -> Any:
    """A YAML/JSON-ready dict of a config dataclass (enums as their values)."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, enum.Enum):
        return config.value
    if isinstance(config, tuple):
        return [to_dict(v) for v in config]
    if isinstance(config, Path):
        return str(config)
    return config


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as a YAML scalar) to a nested dict copy."""
    data = yaml.safe_load(yaml.safe_dump(data)) or {}
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {override!r} must look like key=value (e.g. ppo.clip_coef=0.1)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {override!r}: value is not valid YAML ({exc})") from None
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {override!r}: {part} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """``cls`` from a YAML file (optional) and ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping, got {type(loaded).__name__}")
        data = loaded or {}
    return from_dict(cls, apply_overrides(data, overrides))


# --------------------------------------------------------------------------- a config as commented YAML


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of dataclass ``cls`` (read from its source), its lines joined into one."""

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _plain(doc: str) -> str:
    """A docstring as a YAML comment reads: no reST/Markdown quotes, YAML's null/true/false for Python's."""
    doc = doc.replace("``", "").replace("`", "")
    return re.sub(r"\b(None|True|False)\b", lambda m: {"None": "null", "True": "true", "False": "false"}[m.group(1)], doc)


def render_yaml(config: object, indent: int = 0) -> str:
    """``config`` as YAML, each key preceded by its field's docstring as a comment."""
    docs = {name: _plain(doc) for name, doc in field_docs(type(config)).items()}
    pad = "  " * indent
    lines = []
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        for line in textwrap.wrap(docs.get(f.name, ""), width=100 - len(pad) - 2, break_on_hyphens=False):
            lines.append(f"{pad}# {line}")
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{f.name}:")
            lines.append(render_yaml(value, indent + 1))
        else:
            dumped = yaml.safe_dump({f.name: to_dict(value)}, default_flow_style=True, width=1000).strip()
            lines.append(f"{pad}{dumped[1:-1] if dumped.startswith('{') else dumped}")
    return "\n".join(lines)


def commented_default(config: object, commands: str, writer: str, example: str) -> str:
    """The text of a shipped default YAML: a header naming the ``commands`` that read it and its ``writer``
    function, then ``render_yaml(config)``."""
    name = type(config).__name__
    header = (
        f"# The embedded default of {commands} (the values of {name}()), written by\n"
        f"# {writer}(); tests check the two agree.\n"
        f"# Use: {example}\n"
    )
    return header + render_yaml(config) + "\n"


def print_config(config: object) -> None:
    """``--print-config``: the validated config as YAML on stdout."""
    print(yaml.safe_dump(to_dict(config), sort_keys=False), end="")


def flag_overrides(args: Any, flags: Sequence[tuple[str, str]]) -> list[str]:
    """A command's ``--set`` values, then one ``key=value`` per convenience flag that was given:
    ``flags`` pairs an attribute of the parsed ``args`` (``run_dir``) with the key it sets (``run_dir``)."""
    overrides = list(getattr(args, "set", None) or [])
    for flag, key in flags:
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={value}")
    return overrides
