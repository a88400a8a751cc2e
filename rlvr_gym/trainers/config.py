"""The trainer's configuration: one frozen dataclass per component, one docstring per field.

``load_train_config("run.yaml", ["ppo.clip_coef=0.1"])`` reads a YAML file (optional) and
``key=value`` overrides into a `TrainConfig` with `rlvr_gym.config.load_config`; every value is
checked, before any model is loaded, and a bad one raises `ConfigError` naming its key
(``ppo.clip_coef: must lie in (0, 1), got -1.0``). `TrainConfig()` is the embedded default that
``rlvr-gym train`` runs with no arguments; the same values ship as
``rlvr_gym/trainers/configs/default.yaml``. Nothing here imports torch: the sections of the
rollout engine and of the strategy come from ``rlvr_gym.rollout.config`` and
``rlvr_gym.trainers.strategies.config``.

Each variant is chosen once, by an enum (`rlvr_gym.trainers.choices`, re-exported here):
`AdvantageEstimator` (gae/grpo/dr_grpo/rloo/reinforce_pp), `LossAggregation`, `KLMode`
(reward/loss), `KLEstimator` (k1/k2/k3), `KLControl` (fixed/adaptive), `RefUpdate` (frozen/ema),
`MissingEOSPenalty`, `OverlongHandling`, `TISLevel`; and `Scheduler`, `DType`, `Distributed`,
`EngineKind` of the other sections.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..config import ConfigError, check, commented_default, load_config
from ..envs.tasks import PromptFormat
from ..rollout.config import EngineKind, HFEngineConfig, RolloutConfig, SamplingConfig
from .choices import (
    AdvantageEstimator,
    KLControl,
    KLEstimator,
    KLMode,
    LossAggregation,
    MissingEOSPenalty,
    OverlongHandling,
    RefUpdate,
    TISLevel,
)
from .strategies.config import OptimizerConfig, StrategyConfig
from .tiny import TinyModelConfig

__all__ = [
    "AdvantageEstimator",
    "CheckpointConfig",
    "DEFAULT_CONFIG_PATH",
    "EvalConfig",
    "KLControl",
    "KLControlConfig",
    "KLEstimator",
    "KLMode",
    "LogConfig",
    "LossAggregation",
    "MissingEOSPenalty",
    "ModelConfig",
    "OverlongHandling",
    "PPOConfig",
    "PPO_RECIPE",
    "RefUpdate",
    "SFTConfig",
    "TISLevel",
    "TaskConfig",
    "TrainConfig",
    "VerifyConfig",
    "check_world_size",
    "load_train_config",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("configs") / "default.yaml"
"""The embedded default as YAML: the values of `TrainConfig()`, with comments."""


@dataclass(frozen=True)
class KLControlConfig:
    """The KL coefficient's controller."""

    kind: KLControl = KLControl.FIXED
    """`KLControl.FIXED` keeps ``init_kl_coef``; `KLControl.ADAPTIVE` steers the KL towards ``target``."""
    init_kl_coef: float = 0.05
    """The coefficient at step 0 (``beta`` in Ziegler et al.)."""
    target: float = 6.0
    """Adaptive only: the KL (nats per sequence, as measured by the caller) to hold."""
    horizon: float = 10_000.0
    """Adaptive only: samples over which the error is corrected (``K_beta`` in Ziegler et al.)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", KLControl(self.kind))
        check(self.init_kl_coef >= 0, "init_kl_coef", f"must be >= 0, got {self.init_kl_coef}")
        adaptive = self.kind is KLControl.ADAPTIVE
        check(not adaptive or self.target > 0, "target", f"adaptive control needs target > 0, got {self.target}")
        check(not adaptive or self.horizon > 0, "horizon", f"adaptive control needs horizon > 0, got {self.horizon}")


@dataclass(frozen=True)
class ModelConfig:
    """Where the policy and the value model start."""

    path: str | None = None
    """A Hugging Face causal-LM folder (an SFT or DPO checkpoint). null: build the tiny model in code
    and give it the short SFT of the sft section first (the embedded default; no download)."""
    value_path: str | None = None
    """The value model's start: null copies the policy's backbone; else a folder holding a causal LM or a
    backbone (a value head saved beside it, value_head.safetensors, is loaded too; otherwise it starts at 0)."""

    def __post_init__(self) -> None:
        for name in ("path", "value_path"):
            value = getattr(self, name)
            check(value is None or bool(value.strip()), name, "empty path (leave it out or give a folder)")


@dataclass(frozen=True)
class TaskConfig:
    """The task whose verifier gives the reward."""

    name: str = "arithmetic"
    """Registered task (rlvr-gym tasks); its train split feeds rollouts, its test split the held-out accuracy."""
    source_options: dict[str, Any] | None = field(default_factory=lambda: {"digits": 2, "operators": "+"})
    """Fields of the task's item source to replace, as in rlvr-gym eval --task-option (arithmetic: digits,
    operators); null: the task's own. A partial override keeps the others; set null before changing the task."""
    prompt_format: PromptFormat = PromptFormat.PLAIN
    """plain (the bare question; the embedded default's SFT teaches the answer format, and on its byte-level
    tokenizer the instruction would make every sequence 2.5x longer), step_by_step (plus the task's instruction
    naming the answer format its verifier reads: #### N for arithmetic; for a real checkpoint) or chat (that text
    as a user turn of the chat template)."""
    alpha: float = 10.0
    """Verifier score of a correct response (Tülu 3: 10); a wrong one scores 0."""
    rewards: dict[str, float] = field(default_factory=lambda: {"correct": 1.0})
    """The sequence reward: a weighted sum of verifiers' scores, each logged apart as rewards/<name>. correct: the
    task's verifier (alpha when correct); format: alpha when that verifier could read an answer, right or wrong;
    any other name: that registered verifier (rlvr-gym verifiers), scored against the same ground truth."""

    def __post_init__(self) -> None:
        check(self.alpha > 0, "alpha", f"must be > 0, got {self.alpha}")
        check(isinstance(self.rewards, dict) and bool(self.rewards), "rewards", f"must map verifier names to weights, got {self.rewards!r}")
        for name, weight in self.rewards.items():
            number = isinstance(weight, (int, float)) and not isinstance(weight, bool) and math.isfinite(weight)
            check(number, f"rewards.{name}", f"the weight must be a finite number, got {weight!r}")


@dataclass(frozen=True)
class SFTConfig:
    """The short SFT that makes the embedded default's starting checkpoint (used only when ``model.path`` is None)."""

    tiny: TinyModelConfig = field(
        default_factory=lambda: TinyModelConfig(
            hidden_size=128,
            num_attention_heads=4,
            num_key_value_heads=4,
            num_hidden_layers=4,
            intermediate_size=256,
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
        check(self.steps >= 0, "steps", f"must be >= 0, got {self.steps}")
        check(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        check(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        check(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        accuracy = self.target_accuracy
        check(accuracy is None or 0.0 < accuracy <= 1.0, "target_accuracy", f"must lie in (0, 1] or be null, got {accuracy}")
        check(self.probe_size >= 1, "probe_size", f"must be >= 1, got {self.probe_size}")
        check(self.probe_every >= 1, "probe_every", f"must be >= 1, got {self.probe_every}")


@dataclass(frozen=True)
class PPOConfig:
    """The policy-gradient algorithm: PPO's clipped surrogate with GAE and a value model (Ziegler et al. 2019;
    Tülu 3's RLVR), or one of the critic-free estimators over ``group_size`` samples per prompt (GRPO, Dr. GRPO,
    RLOO, REINFORCE++), and the loss knobs those projects converged on. The README's "Critic-free estimators"
    table names each field's equivalent in TRL, open-instruct, veRL and OpenRLHF."""

    estimator: AdvantageEstimator = AdvantageEstimator.GAE
    """gae (a value model, GAE, whitening), grpo (group mean and std), dr_grpo (group mean), rloo (leave-one-out
    mean) or reinforce_pp (KL in the reward, returns whitened over the batch). All but gae build no value model."""
    group_size: int = 1
    """Samples per prompt (``n``; TRL ``num_generations``): a step trains on ``rollout_batch_size * group_size``
    completions. grpo, dr_grpo and rloo need >= 2; the group of a prompt never spans processes."""
    shared_prompt_forward: bool = True
    """With group_size >= 2: the trainer's forwards (update, reference, old logprobs) run each distinct prompt
    of a micro-batch once and its samples on its KV cache, the same logprobs and gradients to float rounding
    (micro-batches then hold whole groups; the mini-batches keep their rows). false: every row in full."""
    rollout_batch_size: int = 64
    """Prompts per step, over all processes (each takes an equal share)."""
    mini_batch_size: int = 16
    """Completions per optimizer update, over all processes; ``rollout_batch_size * group_size / mini_batch_size``
    updates per epoch. With one update per step (and ``ppo_epochs`` 1) the rollout policy is the policy being
    updated, and its separate logprob forward pass is skipped (TRL does the same)."""
    micro_batch_size: int = 16
    """Completions per forward/backward on each process; ``mini_batch_size / (processes * micro_batch_size)``
    is the gradient accumulation."""
    ppo_epochs: int = 1
    """Passes over the rollout batch per step (TRL ``num_iterations``)."""
    gamma: float = 1.0
    """Discount of GAE and of REINFORCE++'s returns."""
    gae_lambda: float = 0.95
    """GAE's lambda: 1 is Monte Carlo returns, 0 one-step TD."""
    clip_coef: float = 0.2
    """PPO's ratio clip: ``clip(ratio, 1 - clip_coef, 1 + clip_coef_high)`` (TRL ``epsilon``)."""
    clip_coef_high: float | None = None
    """The upper clip (DAPO's clip-higher, e.g. 0.28; TRL ``epsilon_high``); null: ``clip_coef``."""
    dual_clip: float | None = None
    """Dual clip ``c > 1``: a token with negative advantage loses at most ``-A * c`` (veRL ``clip_ratio_c``); null: off."""
    loss_aggregation: LossAggregation = LossAggregation.TOKEN_MEAN
    """token_mean (every token of the mini-batch weighs the same), seq_mean_token_mean (every response does) or
    seq_mean_token_sum_norm (token sums over sampling.max_new_tokens, Dr. GRPO)."""
    clip_coef_value: float = 0.2
    """gae only: the value loss clips ``V - V_old`` to ``[-clip_coef_value, clip_coef_value]``."""
    whiten_advantages: bool = True
    """gae only: whiten the advantages over the rollout batch's response tokens (mean 0, variance 1)."""
    kl_mode: KLMode = KLMode.REWARD
    """Where ``beta * KL`` to the reference enters: reward (a per-token penalty on the reward; for the group
    estimators its sum over the response lowers the sequence reward) or loss (a term of the loss, GRPO)."""
    kl_estimator: KLEstimator = KLEstimator.K1
    """Per-token estimator of ``KL(pi || pi_ref)``: ``k1`` (log ratio), ``k2`` or ``k3`` (GRPO's loss uses k3)."""
    kl: KLControlConfig = field(default_factory=lambda: KLControlConfig(kind=KLControl.FIXED, init_kl_coef=0.05))
    """The KL coefficient beta: ``kind`` fixed or adaptive, ``init_kl_coef``, and the adaptive ``target``/``horizon``.
    beta 0 with fixed control builds no reference model at all."""
    ref_update: RefUpdate = RefUpdate.FROZEN
    """``frozen`` reference, or ``ema`` of the policy, updated once per step after the policy's updates."""
    ref_ema_decay: float = 0.99
    """EMA only: ``ref = decay * ref + (1 - decay) * policy``; 0 makes the reference the current policy."""
    missing_eos: MissingEOSPenalty = MissingEOSPenalty.REPLACE
    """What a response without EOS scores: ``none`` (the verifier's score), ``replace`` or ``subtract``."""
    missing_eos_penalty: float = 1.0
    """``replace``: such a response scores ``-missing_eos_penalty``; ``subtract``: its score drops by this much."""
    overlong: OverlongHandling = OverlongHandling.NONE
    """none, mask (truncated responses leave the loss) or soft_penalty (DAPO: a penalty growing linearly to
    ``overlong_penalty`` over the last ``overlong_buffer`` tokens of sampling.max_new_tokens)."""
    overlong_buffer: int = 4
    """soft_penalty only: tokens before the limit where the penalty starts."""
    overlong_penalty: float = 1.0
    """soft_penalty only: the penalty (in score units) of a response of sampling.max_new_tokens tokens."""
    tis: TISLevel = TISLevel.NONE
    """Truncated importance sampling against the engine/trainer mismatch: none, token or sequence; the weight
    ``min(pi_trainer / pi_engine, tis_cap)`` multiplies the policy loss. The mismatch is logged in any case."""
    tis_cap: float = 2.0
    """The truncation C of the importance weights (veRL ``rollout_is_threshold``, open-instruct ``rho_clamp_upper_bound``)."""
    dynamic_sampling: bool = False
    """DAPO's dynamic sampling: a group whose samples all score the same carries no signal; draw further prompts
    (up to ``dynamic_sampling_max_rounds`` generations per step) until the step has ``rollout_batch_size`` groups
    with signal, then fill any shortfall with no-signal groups. Needs group_size >= 2."""
    dynamic_sampling_max_rounds: int = 3
    """Most generation rounds per step under dynamic sampling (1 only filters the order of groups)."""

    def __post_init__(self) -> None:
        for name, kind in (
            ("estimator", AdvantageEstimator),
            ("loss_aggregation", LossAggregation),
            ("kl_mode", KLMode),
            ("overlong", OverlongHandling),
            ("tis", TISLevel),
        ):
            object.__setattr__(self, name, kind(getattr(self, name)))
        check(self.group_size >= 1, "group_size", f"must be >= 1, got {self.group_size}")
        check(
            self.group_size >= 2 or not self.is_group_estimator,
            "group_size",
            f"estimator {self.estimator.value} compares the samples of a prompt: needs group_size >= 2, got {self.group_size}",
        )
        check(self.rollout_batch_size >= 1, "rollout_batch_size", f"must be >= 1, got {self.rollout_batch_size}")
        check(self.completions_per_step >= 2, "rollout_batch_size", "a step needs >= 2 completions (rollout_batch_size * group_size)")
        check(self.mini_batch_size >= 1, "mini_batch_size", f"must be >= 1, got {self.mini_batch_size}")
        check(self.micro_batch_size >= 1, "micro_batch_size", f"must be >= 1, got {self.micro_batch_size}")
        check(
            self.completions_per_step % self.mini_batch_size == 0,
            "mini_batch_size",
            f"{self.mini_batch_size} must divide the step's completions "
            f"(ppo.rollout_batch_size * ppo.group_size = {self.completions_per_step})",
        )
        check(
            self.mini_batch_size % self.micro_batch_size == 0,
            "micro_batch_size",
            f"{self.micro_batch_size} must divide ppo.mini_batch_size {self.mini_batch_size}",
        )
        check(self.ppo_epochs >= 1, "ppo_epochs", f"must be >= 1, got {self.ppo_epochs}")
        check(0.0 <= self.gamma <= 1.0, "gamma", f"must lie in [0, 1], got {self.gamma}")
        check(0.0 <= self.gae_lambda <= 1.0, "gae_lambda", f"must lie in [0, 1], got {self.gae_lambda}")
        check(0.0 < self.clip_coef < 1.0, "clip_coef", f"must lie in (0, 1), got {self.clip_coef}")
        high = self.clip_coef_high
        check(high is None or high > 0, "clip_coef_high", f"must be > 0 (or null), got {high}")
        check(self.dual_clip is None or self.dual_clip > 1.0, "dual_clip", f"must be > 1 (or null), got {self.dual_clip}")
        check(self.clip_coef_value > 0, "clip_coef_value", f"must be > 0, got {self.clip_coef_value}")
        check(0.0 <= self.ref_ema_decay <= 1.0, "ref_ema_decay", f"must lie in [0, 1], got {self.ref_ema_decay}")
        check(self.missing_eos_penalty >= 0, "missing_eos_penalty", f"must be >= 0, got {self.missing_eos_penalty}")
        check(self.overlong_buffer >= 1, "overlong_buffer", f"must be >= 1, got {self.overlong_buffer}")
        check(self.overlong_penalty >= 0, "overlong_penalty", f"must be >= 0, got {self.overlong_penalty}")
        check(self.tis_cap > 1.0, "tis_cap", f"must be > 1, got {self.tis_cap}")
        check(
            not self.dynamic_sampling or self.group_size >= 2,
            "dynamic_sampling",
            f"filters groups of samples of one prompt: needs ppo.group_size >= 2, got {self.group_size}",
        )
        check(
            self.dynamic_sampling_max_rounds >= 1,
            "dynamic_sampling_max_rounds",
            f"must be >= 1, got {self.dynamic_sampling_max_rounds}",
        )

    @property
    def is_group_estimator(self) -> bool:
        """grpo, dr_grpo or rloo: advantages from the ``group_size`` samples of each prompt."""
        return self.estimator in (AdvantageEstimator.GRPO, AdvantageEstimator.DR_GRPO, AdvantageEstimator.RLOO)

    @property
    def uses_value_model(self) -> bool:
        """Only gae has a critic; the other estimators build, load, update and save no value model."""
        return self.estimator is AdvantageEstimator.GAE

    @property
    def uses_reference(self) -> bool:
        """False when beta is 0: no reference model is built, loaded or run."""
        return self.kl.init_kl_coef > 0  # an adaptive coefficient scales beta: from 0 it stays 0

    @property
    def completions_per_step(self) -> int:
        """Completions trained on per step, over all processes: ``rollout_batch_size * group_size``."""
        return self.rollout_batch_size * self.group_size

    @property
    def updates_per_step(self) -> int:
        """Optimizer updates per step (each of the policy and, with gae, the value model)."""
        return self.ppo_epochs * (self.completions_per_step // self.mini_batch_size)


@dataclass(frozen=True)
class VerifyConfig:
    """The long-lived verifier pool that scores every step's responses."""

    workers: int = 1
    """Verifier worker processes (kept for the whole run)."""
    timeout_s: float = 5.0
    """Seconds per response before it scores 0 as a timeout."""

    def __post_init__(self) -> None:
        check(self.workers >= 1, "workers", f"must be >= 1, got {self.workers}")
        check(self.timeout_s > 0, "timeout_s", f"must be > 0, got {self.timeout_s}")


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
        check(self.size >= 0, "size", f"must be >= 0, got {self.size}")
        check(self.every >= 0, "every", f"must be >= 0, got {self.every}")
        check(self.max_new_tokens is None or self.max_new_tokens >= 1, "max_new_tokens", f"must be >= 1, got {self.max_new_tokens}")


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
        check(self.save_every >= 0, "save_every", f"must be >= 0, got {self.save_every}")
        check(self.keep_last is None or self.keep_last >= 1, "keep_last", f"must be >= 1, got {self.keep_last}")


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
        check(self.samples >= 0, "samples", f"must be >= 0, got {self.samples}")
        check(
            not self.wandb or importlib.util.find_spec("wandb") is not None,
            "wandb",
            "true needs the wandb package (pip install wandb), or set it to false",
        )


def default_rollout() -> RolloutConfig:
    """The trainers' rollout section: ``auto`` engine, transformers chunks of 512 prompts (train and DPO alike)."""
    return RolloutConfig(engine=EngineKind.AUTO, hf=HFEngineConfig(num_threads=None, max_batch_size=512))


def _default_algorithm() -> PPOConfig:
    """The embedded default's algorithm, chosen by measurement against PPO (README, "The embedded default")."""
    return PPOConfig(
        estimator=AdvantageEstimator.GRPO,
        group_size=4,
        rollout_batch_size=32,
        dynamic_sampling=True,
        kl=KLControlConfig(kind=KLControl.FIXED, init_kl_coef=0.0),
    )


PPO_RECIPE = (
    "ppo.estimator=gae",
    "ppo.group_size=1",
    "ppo.rollout_batch_size=64",
    "ppo.dynamic_sampling=false",
    "ppo.kl.init_kl_coef=0.05",
)
"""``--set`` overrides that make the default run PPO as Tülu 3 runs it (and Xu et al.): a value model and GAE,
64 prompts x 1 sample per step, beta 0.05 to a reference; the fields where `_default_algorithm` differs."""


@dataclass(frozen=True)
class TrainConfig:
    """One PPO run: ``rlvr-gym train`` with no arguments runs these defaults on CPU, with no download."""

    run_dir: str | None = None
    """Where metrics, checkpoints and the summary go; None: ``runs/ppo-<date>-<time>``."""
    seed: int = 0
    """Seeds model init, SFT, the prompt order, sampling and mini-batch shuffles."""
    total_steps: int = 250
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
    rollout: RolloutConfig = field(default_factory=default_rollout)
    """Which rollout engine (``auto``: vLLM with a CUDA GPU, else HF; ``hf``; ``vllm``) and its settings."""
    ppo: PPOConfig = field(default_factory=_default_algorithm)
    """The estimator (the default: GRPO, 32 prompts x 4 samples, dynamic sampling, no KL term; chosen by
    measurement against PPO, README) and the loss knobs."""
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
        check(self.total_steps >= 1, "total_steps", f"must be >= 1, got {self.total_steps}")
        check(self.num_threads is None or self.num_threads >= 1, "num_threads", f"must be >= 1, got {self.num_threads}")
        check(self.run_dir is None or bool(self.run_dir.strip()), "run_dir", "empty path (leave it out for runs/ppo-<time>)")
        check(
            self.checkpoint.resume != "latest" or self.run_dir is not None,
            "checkpoint.resume",
            "'latest' looks in RUN_DIR/checkpoints: give run_dir (--run-dir) too",
        )
        check(self.sampling.temperature > 0, "sampling.temperature", "PPO needs sampled rollouts, got 0 (greedy)")
        check(self.sampling.n == 1, "sampling.n", f"set ppo.group_size for samples per prompt, got sampling.n={self.sampling.n}")
        check(not self.rollout.vllm.in_process, "rollout.vllm.in_process", "evaluation only: vLLM would take over the trainer's threads")
        check(
            self.model.value_path is None or self.ppo.uses_value_model,
            "model.value_path",
            f"only estimator gae has a value model; ppo.estimator is {self.ppo.estimator.value}",
        )
        check(
            self.ppo.overlong is not OverlongHandling.SOFT_PENALTY or self.ppo.overlong_buffer <= self.sampling.max_new_tokens,
            "ppo.overlong_buffer",
            f"{self.ppo.overlong_buffer} is longer than sampling.max_new_tokens {self.sampling.max_new_tokens}",
        )


def check_world_size(config: TrainConfig, world_size: int) -> None:
    """Raise `ConfigError` unless the batch sizes split evenly over ``world_size`` processes.

    ``rollout_batch_size`` and ``mini_batch_size`` count completions over all processes;
    ``micro_batch_size`` is per process and must divide each process's mini-batch share.
    """
    ppo = config.ppo
    for name in ("rollout_batch_size", "mini_batch_size"):
        value = getattr(ppo, name)
        check(value % world_size == 0, f"ppo.{name}", f"{value} is not a multiple of the number of processes ({world_size})")
    # the mini-batches must not straddle a process's rows unevenly: each process holds completions_per_step / world
    local = ppo.completions_per_step // world_size
    share = ppo.mini_batch_size // world_size
    check(local % share == 0, "ppo.mini_batch_size", f"each process's share {share} must divide its {local} completions per step")
    share = ppo.mini_batch_size // world_size
    check(
        share % ppo.micro_batch_size == 0,
        "ppo.micro_batch_size",
        f"{ppo.micro_batch_size} must divide each process's share of the mini-batch "
        f"(ppo.mini_batch_size / processes = {ppo.mini_batch_size} / {world_size} = {share})",
    )


def validate_task(config: TrainConfig) -> None:
    """Checks that need the task registry (no model): the task exists, has the splits used, takes the options."""
    from ..envs import get_task, load_items

    try:
        spec = get_task(config.task.name)
    except KeyError as exc:
        raise ConfigError(f"task.name: {exc.args[0]}") from None
    check("train" in spec.splits, "task.name", f"{spec.name!r} has no train split (splits: {', '.join(sorted(spec.splits))})")
    check(not config.eval.size or "test" in spec.splits, "eval.size", f"task {spec.name!r} has no test split; set eval.size=0")
    check(
        config.model.path is not None or spec.verifier == "gsm8k",
        "model.path",
        "the built-in SFT writes '#### <answer>' demonstrations, which only a gsm8k-style verifier reads; "
        f"task {spec.name!r} uses {spec.verifier!r}: give model.path",
    )
    from ..verifiers import list_verifiers

    known = {"correct", "format", *list_verifiers()}
    for name in config.task.rewards:
        check(name in known, f"task.rewards.{name}", f"unknown; use correct, format or a registered verifier ({', '.join(sorted(known))})")
    try:
        load_items(spec, "train", config.task.source_options)
    except FileNotFoundError as exc:
        raise ConfigError(f"task.name: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"task.source_options: {exc} (null: the task's own)") from None
    for key in ("path", "value_path"):
        folder = getattr(config.model, key)
        check(
            folder is None or (Path(folder) / "config.json").is_file(),
            f"model.{key}",
            f"{folder} is not a Hugging Face model folder (no config.json)",
        )


def load_train_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """`TrainConfig` from a YAML file (optional) and ``key=value`` overrides, fully validated (no model loaded)."""
    config = load_config(TrainConfig, path, overrides)
    validate_task(config)
    return config


def default_yaml() -> str:
    """The text of ``configs/default.yaml``: `TrainConfig()` with every field's docstring as a comment."""
    return commented_default(
        TrainConfig(), "rlvr-gym train", "rlvr_gym.trainers.config.default_yaml", "rlvr-gym train --config default.yaml --set key=value ..."
    )
