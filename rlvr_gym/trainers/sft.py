"""The embedded default's starting point: a tiny model built in code, then a short SFT.

Demonstrations are ``<prompt>`` -> ``#### <ground truth><eos>`` on the task's train split, in the
prompt format the PPO run uses, so the answer is in the form the task's gsm8k-style verifier
reads. The SFT is deliberately short (`SFTConfig.steps`): the policy starts partly correct and RL
has room to improve it. The result is an ordinary Hugging Face folder, like any SFT checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..envs import Item, TaskSpec, format_prompt, get_task, load_items
from .config import SFTConfig, TaskConfig
from .tiny import build_tiny_model
from .tracking import ProgressBar

SFT_BAR_FIELDS = (("loss", "sft/loss", ".3f"), ("probe", "sft/probe_accuracy", ".3f"))
"""``(label, metric, format)`` of the SFT bar's live values (the probe's shows from its first probe on)."""

__all__ = ["build_sft_checkpoint", "demonstration", "sft_loss"]


def demonstration(spec: TaskSpec, item: Item, task: TaskConfig, tokenizer: Any) -> tuple[list[int], list[int]]:
    """``(prompt_ids, response_ids)``: the formatted prompt, and ``#### <answer>`` followed by EOS."""
    prompt, _ = format_prompt(spec, item, task.prompt_format, tokenizer)
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    response_ids = list(tokenizer(f"#### {item.ground_truth}", add_special_tokens=False)["input_ids"])
    return prompt_ids, response_ids + [int(tokenizer.eos_token_id)]


def _collate(pairs: Sequence[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 off the response), each ``# (B, T)``."""
    T = max(len(p) + len(r) for p, r in pairs)
    input_ids = torch.full((len(pairs), T), pad_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((len(pairs), T), dtype=torch.long)  # (B, T)
    labels = torch.full((len(pairs), T), -100, dtype=torch.long)  # (B, T)
    for i, (prompt, response) in enumerate(pairs):
        n = len(prompt) + len(response)
        input_ids[i, :n] = torch.tensor(prompt + response)
        attention_mask[i, :n] = 1
        labels[i, len(prompt) : n] = torch.tensor(response)
    return input_ids, attention_mask, labels


def sft_loss(model: torch.nn.Module, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int) -> torch.Tensor:
    """Token-mean cross-entropy of the responses given their prompts."""
    input_ids, attention_mask, labels = _collate(pairs, pad_id)
    return model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss


def probe_accuracy(
    model: torch.nn.Module, tokenizer: Any, spec: TaskSpec, items: Sequence[Item], task: TaskConfig, max_new_tokens: int
) -> float:
    """Greedy accuracy of ``model`` on ``items`` (verified in-process); leaves the model in train mode."""
    from ..rollout import HFEngine, HFEngineConfig, SamplingConfig

    verifier = spec.build_verifier(task.alpha)
    engine = HFEngine(model, tokenizer, HFEngineConfig(max_batch_size=len(items)))
    prompts = [format_prompt(spec, item, task.prompt_format, tokenizer)[0] for item in items]
    completions = engine.generate(prompts, SamplingConfig(max_new_tokens=max_new_tokens, temperature=0.0, seed=0))
    model.train()
    correct = sum(verifier.verify(c.text, item.ground_truth).correct for c, item in zip(completions, items))
    return correct / len(items)


def build_sft_checkpoint(
    out_dir: Path,
    spec: TaskSpec,
    items: Sequence[Item],
    task: TaskConfig,
    sft: SFTConfig,
    seed: int,
    log: Any = print,
    detail: Any = None,
    progress: bool = False,
) -> Path:
    """Build the tiny model (`SFTConfig.tiny`, seeded), SFT it on ``items`` and save it to ``out_dir``.

    Item order is a seeded shuffle of ``items``; the probe is the first `SFTConfig.probe_size`
    distinct prompts of that order. SFT stops at `SFTConfig.target_accuracy` on the probe, or after
    `SFTConfig.steps`. Writes to ``out_dir.tmp`` and renames when done. Each probe's line goes to
    ``detail`` (default ``log``), the closing line to ``log``; ``progress`` shows a transient tqdm
    bar of the steps with the loss and the probe's accuracy.
    """
    detail = log if detail is None else detail
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    build_tiny_model(tmp, sft.tiny, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(tmp)
    model = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32)
    model.train()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=sft.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda n: min(1.0, (n + 1) / max(1, sft.warmup_steps)))
    order = torch.randperm(len(items), generator=generator).tolist()
    distinct: dict[str, Item] = {}
    for index in order:
        distinct.setdefault(items[index].prompt, items[index])
        if len(distinct) == sft.probe_size:
            break
    probe = list(distinct.values())
    max_new_tokens = max(len(demonstration(spec, item, task, tokenizer)[1]) for item in probe) + 2
    started = time.perf_counter()
    loss = torch.tensor(float("nan"))
    accuracy = None
    bar = ProgressBar(progress, sft.steps, 0, desc="sft", fields=SFT_BAR_FIELDS, leave=False)
    for step in range(sft.steps):
        start = step * sft.batch_size
        batch = [items[order[(start + j) % len(order)]] for j in range(sft.batch_size)]
        pairs = [demonstration(spec, item, task, tokenizer) for item in batch]
        loss = sft_loss(model, pairs, int(tokenizer.pad_token_id))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        probed = sft.target_accuracy is not None and (step + 1) % sft.probe_every == 0
        seconds = time.perf_counter() - started
        if probed:
            accuracy = probe_accuracy(model, tokenizer, spec, probe, task, max_new_tokens)
            detail(f"sft step {step + 1}: loss {loss.item():.4f}, train-probe accuracy {accuracy:.3f} ({seconds:.0f} s)")
        elif (step + 1) % 50 == 0 or step + 1 == sft.steps:
            detail(f"sft step {step + 1}/{sft.steps}: loss {loss.item():.4f} ({seconds:.0f} s)")
        bar.update({"sft/loss": loss.item()} | ({} if accuracy is None else {"sft/probe_accuracy": accuracy}))
        if probed and accuracy >= sft.target_accuracy:
            break
    bar.close()
    last_probe = "" if accuracy is None else f", train-probe accuracy {accuracy:.3f}"
    log(f"sft done: {step + 1} steps, loss {loss.item():.4f}{last_probe} ({time.perf_counter() - started:.0f} s)")
    model.eval()
    model.save_pretrained(tmp)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} appeared while the SFT ran")
    tmp.rename(out_dir)
    return out_dir


def model_or_sft(
    model_path: str | None,
    run_dir: Path,
    task: TaskConfig,
    sft: SFTConfig,
    seed: int,
    log: Any = print,
    detail: Any = None,
    progress: bool = False,
) -> Path:
    """``model_path``, or else the embedded default's SFT checkpoint ``RUN_DIR/sft`` (built once, then reused):
    the starting policy of `rlvr-gym train` and `rlvr-gym dpo` alike (``log``, ``detail``, ``progress``: as
    in `build_sft_checkpoint`)."""
    if model_path is not None:
        return Path(model_path)
    sft_dir = run_dir / "sft"
    if (sft_dir / "config.json").is_file():
        log(f"reusing the SFT checkpoint {sft_dir}")
        return sft_dir
    spec = get_task(task.name)
    items = load_items(spec, "train", task.source_options)
    log(f"building the tiny model and running {sft.steps} SFT steps on {spec.name} -> {sft_dir}")
    return build_sft_checkpoint(sft_dir, spec, items, task, sft, seed, log=log, detail=detail, progress=progress)
