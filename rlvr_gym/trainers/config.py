"""The trainer's configuration: one frozen dataclass per component, one docstring per field.

``load_train_config("run.yaml", ["ppo.clip_coef=0.1"])`` reads a YAML file (optional) and
``key=value`` overrides into a `TrainConfig` with `rlvr_gym.config.load_config`; every value is
checked, before any model is loaded, and a bad one raises `ConfigError` naming its key
(``ppo.clip_coef: must be > 0, got -1``). `TrainConfig()` is the embedded default that
``rlvr-gym train`` runs with no arguments; the same values ship as
``rlvr_gym/trainers/configs/default.yaml``. Nothing here imports torch: the sections of the
rollout engine and of the strategy come from ``rlvr_gym.rollout.config`` and
``rlvr_gym.trainers.strategies.config``.

Each variant is chosen once, by an enum: `KLEstimator` (k1/k2/k3), `KLControl` (fixed/adaptive),
`RefUpdate` (frozen/ema), `MissingEOSPenalty` (none/replace/subtract), `Scheduler`
(constant/linear), `DType`, `Distributed`, `EngineKind`. The critic-free estimators and loss knobs of
``rlvr_gym.trainers.algorithms`` have theirs here too (`AdvantageEstimator`, `LossAggregation`, `KLMode`,
`OverlongHandling`, `TISLevel`), each value naming the equivalent option of TRL 1.16, open-instruct, veRL and
OpenRLHF as read in their sources; they are not fields of `TrainConfig` yet.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..config import ConfigError, check, load_config, render_yaml
from ..enums import StrEnum
from ..envs.tasks import PromptFormat
from ..rollout.config import EngineKind, HFEngineConfig, RolloutConfig, SamplingConfig
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


class RefUpdate(StrEnum):
    """How the reference policy of the KL penalty evolves."""

    FROZEN = "frozen"
    """The starting policy, fixed for the whole run (Tülu 3, Ziegler et al.)."""
    EMA = "ema"
    """After each step's updates: ``ref = decay * ref + (1 - decay) * policy`` (`PPOConfig.ref_ema_decay`)."""


class MissingEOSPenalty(StrEnum):
    """What happens to the score of a response that hit ``max_new_tokens`` without emitting EOS."""

    NONE = "none"
    """Keep the verifier's score."""
    REPLACE = "replace"
    """Score it `PPOConfig.missing_eos_penalty` (negative), whatever the verifier said (Tülu 3's ``non_stop_penalty``)."""
    SUBTRACT = "subtract"
    """Subtract `PPOConfig.missing_eos_penalty` from the verifier's score (TRL's ``missing_eos_penalty``)."""


class KLEstimator(StrEnum):
    """Per-token estimators of ``KL(pi || pi_ref)`` from samples of ``pi`` (Schulman's note).

    With ``log_ratio = logprobs - ref_logprobs`` and ``r = exp(-log_ratio) = pi_ref / pi``:

    - ``k1``: ``log_ratio``. Unbiased, high variance, can be negative per token.
    - ``k2``: ``log_ratio ** 2 / 2``. Biased, low variance, never negative.
    - ``k3``: ``(r - 1) - log r``. Unbiased, low variance, never negative.
    """

    K1 = "k1"
    K2 = "k2"
    K3 = "k3"


class KLControl(StrEnum):
    """How the KL coefficient evolves: ``fixed`` or ``adaptive`` (Ziegler et al. 2019)."""

    FIXED = "fixed"
    ADAPTIVE = "adaptive"


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


# ------------------------------------------- critic-free estimators and loss knobs (TRL 1.16, open-instruct, veRL, OpenRLHF)


class AdvantageEstimator(StrEnum):
    """How each response's advantage is estimated; all but ``gae`` need no value model (groups: n consecutive rows)."""

    GAE = "gae"
    """GAE with a value model (today's PPO). veRL ``algorithm.adv_estimator=gae``; OpenRLHF ``gae``;
    TRL's experimental ``PPOTrainer``; open-instruct: none (its PPO trainer was removed)."""
    GRPO = "grpo"
    """``(r - group mean) / (group std + eps)``, the unbiased (n - 1) std. TRL ``scale_rewards="group"``;
    veRL ``adv_estimator=grpo`` with ``norm_adv_by_std_in_grpo=true``; OpenRLHF ``group_norm``;
    open-instruct ``advantage_normalization_type="standard"`` (but with the population std)."""
    DR_GRPO = "dr_grpo"
    """``r - group mean``, no std (Liu et al. 2025, Dr. GRPO). TRL ``scale_rewards="none"``; veRL
    ``adv_estimator=grpo`` with ``norm_adv_by_std_in_grpo=false``; OpenRLHF ``dr_grpo``; open-instruct
    ``advantage_normalization_type="centered"``. Its length part is `LossAggregation.SEQ_MEAN_TOKEN_SUM_NORM`."""
    RLOO = "rloo"
    """``r_i - mean of the other n - 1 samples`` (Ahmadian et al. 2024). TRL ``RLOOTrainer``
    (``normalize_advantages=false``); veRL ``adv_estimator=rloo``; OpenRLHF ``rloo``; open-instruct: none."""
    REINFORCE_PP = "reinforce_pp"
    """REINFORCE++ (Hu 2025): the KL penalty in the per-token reward, returns to go, whitened over the batch.
    OpenRLHF ``reinforce``; veRL ``adv_estimator=reinforce_plus_plus``; TRL and open-instruct: none."""


class LossAggregation(StrEnum):
    """How a ``(B, T)`` matrix of per-token losses becomes one number."""

    TOKEN_MEAN = "token_mean"
    """Sum over every unmasked token of the batch, divided by their count (today's PPO; DAPO). TRL
    ``loss_type="dapo"`` (its default; ``"bnpo"`` per micro-batch); veRL ``loss_agg_mode=token-mean``;
    open-instruct ``loss_denominator="token"``."""
    SEQ_MEAN_TOKEN_MEAN = "seq_mean_token_mean"
    """Each sequence's token mean, averaged over the sequences (GRPO's paper). TRL ``loss_type="grpo"``;
    veRL ``loss_agg_mode=seq-mean-token-mean``; open-instruct: none."""
    SEQ_MEAN_TOKEN_SUM_NORM = "seq_mean_token_sum_norm"
    """Each sequence's token sum divided by a constant (the maximum response length), averaged over the
    sequences (Dr. GRPO). TRL ``loss_type="dr_grpo"``; veRL ``loss_agg_mode=seq-mean-token-sum-norm`` (which
    divides by the constant only, not by the number of sequences); open-instruct ``loss_denominator=<number>``."""


class KLMode(StrEnum):
    """Where the KL to the reference policy enters the objective."""

    REWARD = "reward"
    """``-beta * KL`` on every token's reward (Ziegler et al.; today's PPO). veRL ``algorithm.use_kl_in_reward=true``;
    TRL's experimental ``PPOTrainer``; OpenRLHF without ``--use_kl_loss``; open-instruct: none."""
    LOSS = "loss"
    """``beta * KL`` (k3) added to the policy loss, per token (GRPO). TRL ``beta``; open-instruct ``beta`` with
    ``kl_estimator=2``; veRL ``actor.use_kl_loss=true``, ``kl_loss_type=low_var_kl``; OpenRLHF ``--use_kl_loss``."""


class OverlongHandling(StrEnum):
    """What happens to responses that reach the maximum length (beside `MissingEOSPenalty`)."""

    NONE = "none"
    """Train on them like any other response (the default of TRL, open-instruct and veRL)."""
    MASK = "mask"
    """Drop truncated responses (no EOS) from the loss (DAPO's overlong filtering). TRL and open-instruct
    ``mask_truncated_completions=true``; veRL: none."""
    SOFT_PENALTY = "soft_penalty"
    """DAPO's soft overlong punishment: 0, then linear down to ``-factor`` over the last ``buffer`` tokens before the
    maximum length. veRL ``reward_model.overlong_buffer.{enable,len,penalty_factor}``; TRL the reward function
    ``trl.rewards.get_soft_overlong_punishment``; OpenRLHF ``--overlong_buffer_len``; open-instruct: none."""


class TISLevel(StrEnum):
    """Truncated importance sampling against the mismatch between the rollout engine and the trainer.

    The weight is ``min(pi_trainer / pi_engine, C)`` of the sampled tokens, multiplied into the policy loss.
    """

    NONE = "none"
    """No correction (the mismatch is still measured). TRL ``vllm_importance_sampling_correction=false``;
    open-instruct ``use_rho_correction=false``; veRL ``rollout_is=null``."""
    TOKEN = "token"
    """One weight per token. TRL ``vllm_importance_sampling_mode="token_truncate"``; veRL ``rollout_is=token``
    with ``rollout_is_threshold``; open-instruct ``rho_clamp_upper_bound``."""
    SEQUENCE = "sequence"
    """One weight per response: the product of its token ratios. TRL ``vllm_importance_sampling_mode=
    "sequence_truncate"``; veRL ``rollout_is=sequence``; open-instruct: none (it masks by sequence, never clamps)."""


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
    prompt_format: PromptFormat = PromptFormat.STEP_BY_STEP
    """plain (the bare question), step_by_step (plus the task's instruction naming the answer format its
    verifier reads: #### N for arithmetic) or chat (that text as a user turn of the chat template)."""
    alpha: float = 10.0
    """Verifier score of a correct response (Tülu 3: 10); a wrong one scores 0."""

    def __post_init__(self) -> None:
        check(self.alpha > 0, "alpha", f"must be > 0, got {self.alpha}")


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
        check(self.rollout_batch_size >= 2, "rollout_batch_size", f"must be >= 2, got {self.rollout_batch_size}")
        check(self.mini_batch_size >= 1, "mini_batch_size", f"must be >= 1, got {self.mini_batch_size}")
        check(self.micro_batch_size >= 1, "micro_batch_size", f"must be >= 1, got {self.micro_batch_size}")
        check(
            self.rollout_batch_size % self.mini_batch_size == 0,
            "mini_batch_size",
            f"{self.mini_batch_size} must divide ppo.rollout_batch_size {self.rollout_batch_size}",
        )
        check(
            self.mini_batch_size % self.micro_batch_size == 0,
            "micro_batch_size",
            f"{self.micro_batch_size} must divide ppo.mini_batch_size {self.mini_batch_size}",
        )
        check(self.ppo_epochs >= 1, "ppo_epochs", f"must be >= 1, got {self.ppo_epochs}")
        check(0.0 <= self.gamma <= 1.0, "gamma", f"must lie in [0, 1], got {self.gamma}")
        check(0.0 <= self.gae_lambda <= 1.0, "gae_lambda", f"must lie in [0, 1], got {self.gae_lambda}")
        check(self.clip_coef > 0, "clip_coef", f"must be > 0, got {self.clip_coef}")
        check(self.clip_coef_value > 0, "clip_coef_value", f"must be > 0, got {self.clip_coef_value}")
        check(0.0 <= self.ref_ema_decay <= 1.0, "ref_ema_decay", f"must lie in [0, 1], got {self.ref_ema_decay}")
        check(self.missing_eos_penalty >= 0, "missing_eos_penalty", f"must be >= 0, got {self.missing_eos_penalty}")

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
        check(self.total_steps >= 1, "total_steps", f"must be >= 1, got {self.total_steps}")
        check(self.num_threads is None or self.num_threads >= 1, "num_threads", f"must be >= 1, got {self.num_threads}")
        check(self.run_dir is None or bool(self.run_dir.strip()), "run_dir", "empty path (leave it out for runs/ppo-<time>)")
        check(
            self.checkpoint.resume != "latest" or self.run_dir is not None,
            "checkpoint.resume",
            "'latest' looks in RUN_DIR/checkpoints: give run_dir (--run-dir) too",
        )
        check(self.sampling.temperature > 0, "sampling.temperature", "PPO needs sampled rollouts, got 0 (greedy)")


def check_world_size(config: TrainConfig, world_size: int) -> None:
    """Raise `ConfigError` unless the batch sizes split evenly over ``world_size`` processes.

    ``rollout_batch_size`` and ``mini_batch_size`` count completions over all processes;
    ``micro_batch_size`` is per process and must divide each process's mini-batch share.
    """
    ppo = config.ppo
    for name in ("rollout_batch_size", "mini_batch_size"):
        value = getattr(ppo, name)
        check(value % world_size == 0, f"ppo.{name}", f"{value} is not a multiple of the number of processes ({world_size})")
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
    header = (
        "# The embedded default of rlvr-gym train (the values of TrainConfig()), written by\n"
        "# rlvr_gym.trainers.config.default_yaml(); tests check the two agree.\n"
        "# Use: rlvr-gym train --config default.yaml --set key=value ...\n"
    )
    return header + render_yaml(TrainConfig()) + "\n"
