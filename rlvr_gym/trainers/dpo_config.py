"""The configuration of ``rlvr-gym dpo``, ``rlvr-gym pairs`` and ``rlvr-gym iterate-dpo``: `DPOConfig`.

Like `rlvr_gym.trainers.config` (and sharing its sections for the task, the SFT of the embedded default,
held-out evaluation, checkpoints and the verifier pool): frozen dataclasses, one docstring per field,
``load_dpo_config("run.yaml", ["dpo.beta=0.2"])`` through `rlvr_gym.config.load_config`, every value
checked before any model loads, errors naming their key. `DPOConfig()` is the embedded default: the
tiny model's short SFT on ``arithmetic``, then on-policy DPO rounds (no download). Nothing here imports torch.

One enum per choice: `DPOLoss` (sigmoid / ipo / dpo_norm) and `RefReset` (the reference of each round).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..config import ConfigError, check, commented_default, load_config
from ..enums import StrEnum
from ..rollout.config import RolloutConfig, SamplingConfig
from .config import CheckpointConfig, EvalConfig, SFTConfig, TaskConfig, VerifyConfig, default_rollout
from .strategies.config import Distributed, OptimizerConfig, StrategyConfig

__all__ = [
    "DPO_DEFAULT_CONFIG_PATH",
    "DPOAlgoConfig",
    "DPOConfig",
    "DPOLogConfig",
    "DPOLoss",
    "DPOModelConfig",
    "IterateConfig",
    "PairFilterConfig",
    "PairsConfig",
    "PreferenceDataConfig",
    "RefReset",
    "dpo_default_yaml",
    "load_dpo_config",
]

DPO_DEFAULT_CONFIG_PATH = Path(__file__).with_name("configs") / "dpo.yaml"
"""The embedded default as YAML: the values of `DPOConfig()`, with comments."""


class DPOLoss(StrEnum):
    """The preference loss (formulas: `rlvr_gym.trainers.algorithms.dpo`)."""

    SIGMOID = "sigmoid"
    """DPO (Rafailov et al. 2023) on summed log-ratios, optional label smoothing. TRL ``loss_type="sigmoid"``;
    open-instruct ``loss_type=dpo``."""
    IPO = "ipo"
    """IPO (Azar et al. 2023): ``(h - 1/(2 beta))^2`` on per-token average log-ratios. TRL ``loss_type="ipo"``."""
    DPO_NORM = "dpo_norm"
    """DPO on per-token average log-ratios (Tülu 3). open-instruct ``loss_type=dpo_norm``; TRL ``"sigmoid_norm"``."""


class RefReset(StrEnum):
    """The reference policy of each round of iterative DPO."""

    RESET = "reset"
    """The policy the round starts from (on-policy iterative DPO: each round regularises towards the last)."""
    KEEP = "keep"
    """The run's starting policy for every round (or ``model.ref_path`` when given)."""


@dataclass(frozen=True)
class DPOModelConfig:
    """Where the policy and the reference start."""

    path: str | None = None
    """A Hugging Face causal-LM folder to train. null: build the tiny model in code and give it the short SFT of the
    sft section first (the embedded default; no download)."""
    ref_path: str | None = None
    """The frozen reference policy; null: the starting policy (``path``, or the SFT checkpoint)."""

    def __post_init__(self) -> None:
        for name in ("path", "ref_path"):
            value = getattr(self, name)
            check(value is None or bool(value.strip()), name, "empty path (leave it out or give a folder)")


@dataclass(frozen=True)
class PreferenceDataConfig:
    """The preference pairs of ``rlvr-gym dpo``: JSONL with ``prompt``, ``chosen``, ``rejected`` (TRL's format)."""

    path: str | None = None
    """Training pairs (plain text, or chat messages); required by ``rlvr-gym dpo``, unused by ``iterate-dpo`` (it labels its own)."""
    eval_path: str | None = None
    """Held-out pairs whose accuracy and margin are measured before training and after it; null: none."""
    max_length: int | None = None
    """Drop (and count) pairs whose prompt + longer response exceed this many tokens; null: keep all."""

    def __post_init__(self) -> None:
        for name in ("path", "eval_path"):
            value = getattr(self, name)
            check(value is None or bool(value.strip()), name, "empty path (leave it out or give a file)")
        check(self.max_length is None or self.max_length >= 2, "max_length", f"must be >= 2, got {self.max_length}")


@dataclass(frozen=True)
class DPOAlgoConfig:
    """The preference loss and how the pairs are batched."""

    loss: DPOLoss = DPOLoss.DPO_NORM
    """sigmoid (DPO), ipo, or dpo_norm (length-normalised DPO, Tülu 3's and open-instruct's default)."""
    beta: float = 5.0
    """The KL strength: DPO's beta, IPO's tau. dpo_norm's log-ratios are per token, so its beta is larger
    (Tülu 3 and open-instruct: 5); sigmoid's usual value is 0.1 (TRL's default)."""
    label_smoothing: float = 0.0
    """sigmoid and dpo_norm: the assumed probability that a label is flipped (conservative DPO), in [0, 0.5)."""
    epochs: int = 1
    """Passes over the pairs (each a fresh seeded shuffle). One per round measured best for iterative DPO (README)."""
    batch_size: int = 16
    """Pairs per optimizer update (the last one of an epoch may hold fewer)."""
    micro_batch_size: int = 16
    """Pairs per forward/backward (chosen and rejected run together: 2x rows); gradients accumulate up to batch_size."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "loss", DPOLoss(self.loss))
        check(self.beta > 0, "beta", f"must be > 0, got {self.beta}")
        check(0.0 <= self.label_smoothing < 0.5, "label_smoothing", f"must lie in [0, 0.5), got {self.label_smoothing}")
        check(
            self.loss is not DPOLoss.IPO or self.label_smoothing == 0.0,
            "label_smoothing",
            f"applies to sigmoid and dpo_norm only; set it to 0 with ipo (got {self.label_smoothing})",
        )
        check(self.epochs >= 1, "epochs", f"must be >= 1, got {self.epochs}")
        check(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        check(self.micro_batch_size >= 1, "micro_batch_size", f"must be >= 1, got {self.micro_batch_size}")


@dataclass(frozen=True)
class PairFilterConfig:
    """Optional filters against noisy verifier-labelled pairs; every dropped pair is counted by reason."""

    drop_same_answer: bool = True
    """Drop a pair whose two responses yield the same extracted answer (the verdicts then differ for another reason,
    e.g. formatting: a weak preference signal)."""
    max_length_ratio: float | None = None
    """Drop a pair whose longer response has more than this many times the characters of the shorter; null: keep."""
    drop_no_answer_rejected: bool = False
    """Drop a pair whose rejected response has no answer at all (keep only wrong answers as rejected)."""
    chosen_must_finish: bool = True
    """Only responses that ended (EOS or a stop string) can be chosen: a truncated correct response is not a model answer."""

    def __post_init__(self) -> None:
        ratio = self.max_length_ratio
        check(ratio is None or ratio >= 1.0, "max_length_ratio", f"must be >= 1 (or null), got {ratio}")


@dataclass(frozen=True)
class PairsConfig:
    """Preference pairs labelled by the task's verifier: K samples per prompt, chosen = correct, rejected = wrong."""

    prompts: int = 256
    """Train prompts sampled per round (a seeded order over the train split; round k takes the k-th block)."""
    samples_per_prompt: int = 8
    """K responses per prompt."""
    pairs_per_prompt: int = 4
    """Most pairs made from one prompt's group (correct i with wrong i, in sample order, after the filters)."""
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=12, temperature=1.0, seed=0))
    """How the K responses are drawn; round k draws with seed ``sampling.seed + 1_000_003 * k`` (null: unseeded)."""
    filters: PairFilterConfig = field(default_factory=PairFilterConfig)
    """Filters against noisy pairs."""

    def __post_init__(self) -> None:
        check(self.prompts >= 1, "prompts", f"must be >= 1, got {self.prompts}")
        k = self.samples_per_prompt
        check(k >= 2, "samples_per_prompt", f"must be >= 2 (a pair needs two responses), got {k}")
        check(self.pairs_per_prompt >= 1, "pairs_per_prompt", f"must be >= 1, got {self.pairs_per_prompt}")
        check(self.sampling.temperature > 0, "sampling.temperature", "K samples of one prompt need temperature > 0, got 0 (greedy)")
        n = self.sampling.n
        check(n == 1, "sampling.n", f"set pairs.samples_per_prompt (K) instead; the engine is asked for n = K, got {n}")


@dataclass(frozen=True)
class IterateConfig:
    """Iterative (on-policy) DPO: rounds of pairs from the current policy, then DPO from it."""

    rounds: int = 3
    """Rounds of (label pairs, DPO)."""
    ref: RefReset = RefReset.RESET
    """reset: each round's reference is the policy it starts from; keep: the run's starting policy throughout."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", RefReset(self.ref))
        check(self.rounds >= 1, "rounds", f"must be >= 1, got {self.rounds}")


@dataclass(frozen=True)
class DPOLogConfig:
    """Where metrics go: ``RUN_DIR/metrics.jsonl`` always; a progress bar, TensorBoard and W&B as chosen."""

    progress_bar: bool = True
    """tqdm bar with the live loss, pair accuracy and margin."""
    tensorboard: bool = True
    """Also write TensorBoard events to ``RUN_DIR/tensorboard``."""
    wandb: bool = False
    """Also log to Weights & Biases (needs ``wandb`` installed and logged in)."""
    wandb_project: str = "rlvr-gym"
    """W&B project name."""

    def __post_init__(self) -> None:
        check(
            not self.wandb or importlib.util.find_spec("wandb") is not None,
            "wandb",
            "true needs the wandb package (pip install wandb), or set it to false",
        )


@dataclass(frozen=True)
class DPOConfig:
    """One DPO run (``rlvr-gym dpo``), pair labelling (``rlvr-gym pairs``) or iterative DPO (``rlvr-gym iterate-dpo``)."""

    run_dir: str | None = None
    """Where metrics, checkpoints and the summary go; None: ``runs/<command>-<date>-<time>``."""
    seed: int = 0
    """Seeds model init, SFT, the prompt order, sampling and the pair shuffles."""
    num_threads: int | None = None
    """Torch CPU threads of the trainer process; None keeps torch's default."""
    model: DPOModelConfig = field(default_factory=DPOModelConfig)
    """Starting checkpoints of the policy and the reference."""
    data: PreferenceDataConfig = field(default_factory=PreferenceDataConfig)
    """The preference file of ``rlvr-gym dpo``."""
    task: TaskConfig = field(default_factory=TaskConfig)
    """The verifiable task: its train prompts feed the pairs, its test prompts the held-out accuracy."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """The embedded default's SFT (only when ``model.path`` is None)."""
    dpo: DPOAlgoConfig = field(default_factory=DPOAlgoConfig)
    """The loss, beta, epochs and batch sizes."""
    optim: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-4, warmup_updates=0))
    """AdamW and the schedule of the policy (``value_lr`` is not used by DPO)."""
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    """Device, dtype, gradient checkpointing (one process: distributed none)."""
    pairs: PairsConfig = field(default_factory=PairsConfig)
    """How ``pairs`` and each round of ``iterate-dpo`` sample and label pairs."""
    iterate: IterateConfig = field(default_factory=IterateConfig)
    """Rounds and the reference of ``iterate-dpo``."""
    rollout: RolloutConfig = field(default_factory=default_rollout)
    """The engine that samples pairs and answers held-out prompts (``auto``: vLLM with a CUDA GPU, else HF)."""
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    """The verifier pool that labels pairs and scores held-out answers."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Held-out accuracy on the task's test prompts (greedy) before and after training; size 0 turns it off."""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Saving (every save_every optimizer steps, and at the end) and resuming."""
    log: DPOLogConfig = field(default_factory=DPOLogConfig)
    """Progress bar, TensorBoard, W&B."""

    def __post_init__(self) -> None:
        check(self.num_threads is None or self.num_threads >= 1, "num_threads", f"must be >= 1, got {self.num_threads}")
        check(self.run_dir is None or bool(self.run_dir.strip()), "run_dir", "empty path (leave it out for runs/dpo-<time>)")
        check(
            self.checkpoint.resume != "latest" or self.run_dir is not None,
            "checkpoint.resume",
            "'latest' looks in RUN_DIR/checkpoints: give run_dir (--run-dir) too",
        )
        check(
            self.strategy.distributed is Distributed.NONE,
            "strategy.distributed",
            f"DPO runs in one process for now (none), got {self.strategy.distributed}",
        )
        check(not self.rollout.vllm.in_process, "rollout.vllm.in_process", "evaluation only: vLLM would take over the trainer's threads")


def _validate(config: DPOConfig, command: str) -> None:
    """Checks that need the file system or the task registry (no model)."""
    from ..envs import get_task, load_items

    needs_task = command != "dpo" or config.eval.size > 0 or config.model.path is None
    if needs_task:
        try:
            spec = get_task(config.task.name)
        except KeyError as exc:
            raise ConfigError(f"task.name: {exc.args[0]}") from None
        check(
            config.model.path is not None or spec.verifier == "gsm8k",
            "model.path",
            "the built-in SFT writes '#### <answer>' demonstrations, which only a gsm8k-style verifier reads; "
            f"task {spec.name!r} uses {spec.verifier!r}: give model.path",
        )
        check(not config.eval.size or "test" in spec.splits, "eval.size", f"task {spec.name!r} has no test split; set eval.size=0")
        try:
            load_items(spec, "train", config.task.source_options)
        except FileNotFoundError as exc:
            raise ConfigError(f"task.name: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"task.source_options: {exc} (null: the task's own)") from None
    check(
        command != "iterate-dpo" or config.checkpoint.resume in (None, "latest"),
        "checkpoint.resume",
        f"iterate-dpo resumes a whole run: latest (--resume with --run-dir), got {config.checkpoint.resume}",
    )
    if command == "dpo":
        check(config.data.path is not None, "data.path", "rlvr-gym dpo trains on a preference JSONL: give data.path (--data)")
    for key in ("path", "eval_path"):
        value = getattr(config.data, key)
        check(value is None or command == "iterate-dpo" or Path(value).is_file(), f"data.{key}", f"{value}: file not found")
    for key in ("path", "ref_path"):
        folder = getattr(config.model, key)
        check(
            folder is None or (Path(folder) / "config.json").is_file(),
            f"model.{key}",
            f"{folder} is not a Hugging Face model folder (no config.json)",
        )


def load_dpo_config(path: str | Path | None = None, overrides: Sequence[str] = (), command: str = "dpo") -> DPOConfig:
    """`DPOConfig` from a YAML file (optional) and ``key=value`` overrides, validated for ``command``
    (``dpo``, ``pairs`` or ``iterate-dpo``); no model is loaded."""
    if command not in ("dpo", "pairs", "iterate-dpo"):
        raise ValueError(f"load_dpo_config: unknown command {command!r}")
    config = load_config(DPOConfig, path, overrides)
    _validate(config, command)
    return config


def dpo_default_yaml() -> str:
    """The text of ``configs/dpo.yaml``: `DPOConfig()` with every field's docstring as a comment."""
    return commented_default(
        DPOConfig(),
        "rlvr-gym dpo / pairs / iterate-dpo",
        "rlvr_gym.trainers.dpo_config.dpo_default_yaml",
        "rlvr-gym iterate-dpo --config dpo.yaml --set key=value ...",
    )
