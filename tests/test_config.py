"""Config loading: YAML + --set overrides -> frozen dataclasses, clear errors."""

import enum
from dataclasses import dataclass, field

import pytest

from rlvr_gym.config import ConfigError, check, load_config, to_dict


class Kind(str, enum.Enum):
    K1 = "k1"
    K3 = "k3"


@dataclass(frozen=True)
class Inner:
    kl_coef: float = 0.05
    """KL coefficient."""
    kind: Kind = Kind.K1
    """Estimator."""

    def __post_init__(self):
        check(self.kl_coef >= 0, "kl_coef", f"must be >= 0, got {self.kl_coef}")


@dataclass(frozen=True)
class Outer:
    seed: int = 0
    """Seed."""
    name: str | None = None
    """Name."""
    tags: tuple[str, ...] = ()
    """Tags."""
    ppo: Inner = field(default_factory=Inner)
    """PPO."""
    options: dict[str, int] = field(default_factory=lambda: {"digits": 2})
    """Free-form options."""


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\nppo:\n  kl_coef: 0.1\n")
    config = load_config(Outer, path, ["ppo.kind=k3", "tags=[a, b]", "name=run"])
    assert config == Outer(seed=3, name="run", tags=("a", "b"), ppo=Inner(kl_coef=0.1, kind=Kind.K3))
    assert to_dict(config) == {
        "seed": 3, "name": "run", "tags": ["a", "b"], "ppo": {"kl_coef": 0.1, "kind": "k3"}, "options": {"digits": 2}
    }
    assert load_config(Outer, None, ["options.size=5"]).options == {"size": 5}  # a mapping field is replaced whole


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["ppo.kl_cof=0.1"], "^ppo.kl_cof: unknown config key; valid keys here: kind, kl_coef"),
        (["seed=abc"], "seed: expected an integer, got 'abc'"),
        (["seed=1.5"], "seed: expected an integer"),
        (["ppo.kind=k2"], "ppo.kind: must be one of \\['k1', 'k3'\\], got 'k2'"),
        (["ppo.kl_coef=-1"], "^ppo.kl_coef: must be >= 0, got -1.0"),
        (["options.digits=two"], "^options.digits: expected an integer, got 'two'"),
        (["options=[1]"], "^options: expected a mapping"),
        (["seed"], "must look like key=value"),
        (["seed.x=1"], "seed: expected an integer, got {.x.: 1}"),
    ],
)
def test_bad_values_are_rejected_with_the_key_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, None, overrides)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Outer, bad)


@dataclass(frozen=True)
class WithCustomDefault:
    ppo: Inner = field(default_factory=lambda: Inner(kl_coef=0.3, kind=Kind.K3))
    """A section whose default differs from the section class's defaults."""


def test_a_partial_section_keeps_the_enclosing_default():
    config = load_config(WithCustomDefault, None, ["ppo.kind=k1"])
    assert config.ppo == Inner(kl_coef=0.3, kind=Kind.K1)  # kl_coef stays the enclosing default's 0.3
