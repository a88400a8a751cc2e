"""One rank of `tests/trainers/test_deepspeed.py`: a few AdamW steps of the tiny model through `DeepSpeedStrategy`.

Launched by the test as ``python -m torch.distributed.run --standalone --nproc_per_node 2
deepspeed_worker.py --stage {2,3} --model DIR --out DIR`` with ``DS_ACCELERATOR=cpu``. Each rank:

1. trains the policy for ``--steps`` updates on its own fixed data (LM loss, two micro-batches
   per update through ``trainable.backward``, so the loop's gradient accumulation is exercised),
   while a plain torch replica does the same updates on *all* ranks' data (the mean of the rank
   losses, torch AdamW, ``clip_grad_norm_``, the same ``LambdaLR``): what ZeRO must reproduce;
2. halfway, snapshots ``state_dict()`` and ``save_pretrained`` (the loop's checkpoint), and at the
   end replays the second half from them in a fresh engine (the loop's resume);
3. runs a frozen reference (``prepare_frozen``) and a `ValueModel` engine beside the policy;
4. writes ``OUT/rank{r}.pt`` (losses, gradient norms, learning rates, gathered parameters, ...)
   and, collectively, ``OUT/final`` and ``OUT/value`` (``save_pretrained``).

The test process makes every assertion from those files.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import torch


def _data(rank: int, micro: int, vocab: int) -> torch.Tensor:
    """Fixed token ids ``# (2, 12)`` of one micro-batch of one rank (the same every update: loss must fall)."""
    generator = torch.Generator().manual_seed(1000 * rank + micro)
    return torch.randint(4, vocab, (2, 12), generator=generator)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stage", type=int, choices=[2, 3], required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--bf16", action="store_true", help="DeepSpeed bf16 mixed precision (on CPU: its bf16 code path)")
    args = parser.parse_args()
    started = time.perf_counter()
    torch.set_num_threads(1)

    from transformers import AutoModelForCausalLM

    from rlvr_gym.trainers.strategies import OptimizerConfig, StrategyConfig, make_strategy
    from rlvr_gym.trainers.strategies.base import lr_lambda
    from rlvr_gym.trainers.strategies.deepspeed import DeepSpeedStrategy
    from rlvr_gym.trainers.value_model import ValueModel

    config = StrategyConfig(distributed=f"zero{args.stage}", device="cpu")
    overrides: dict = {"bf16": {"enabled": True}} if args.bf16 else {}
    if args.stage == 3:
        # Partition every parameter (the default keeps tensors under 1e5 elements whole: all of the tiny model's).
        overrides["zero_optimization"] = {"stage3_param_persistence_threshold": 0}
    strategy = DeepSpeedStrategy(config, ds_overrides=overrides) if overrides else make_strategy(config)
    assert isinstance(strategy, DeepSpeedStrategy)
    rank, world = strategy.rank, strategy.world_size
    optim = OptimizerConfig(lr=1e-2, weight_decay=0.01, max_grad_norm=1.0, scheduler="linear", warmup_updates=1)
    steps, half = args.steps, args.steps // 2

    def load() -> torch.nn.Module:
        return AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)

    model = load()
    vocab = model.config.vocab_size
    replica = copy.deepcopy(model)  # before prepare: ZeRO-3 partitions the module's parameters in place
    data = {(r, m): _data(r, m, vocab) for r in range(world) for m in range(2)}
    probe = data[(rank, 0)]
    with torch.no_grad():
        initial_logits = replica(input_ids=probe).logits

    ref = strategy.prepare_frozen(load())
    policy = strategy.prepare(model, optim.lr, optim, steps)
    value = strategy.prepare(ValueModel.from_pretrained(args.model), optim.value_lr, optim, steps)

    def lm_loss(module: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
        return module(input_ids=ids, labels=ids).loss

    def update(trainable) -> tuple[float, float]:
        losses = []
        for m in range(2):
            loss = lm_loss(trainable.module, data[(rank, m)])
            trainable.backward(loss * 0.5)  # the loop's accumulation: weights sum to 1 over the micro-batches
            losses.append(loss.item())
        return sum(losses) / 2, trainable.step()

    # -- 1. the run, snapshotting halfway ---------------------------------------------------------
    result: dict = {"rank": rank, "world_size": world, "losses": [], "grad_norms": [], "lrs": []}
    for step in range(steps):
        if step == half:
            result["state_at_half"] = policy.state_dict()
            strategy.save_pretrained(policy.module, args.out / "half")
        result["lrs"].append(policy.lr)
        loss, norm = update(policy)
        result["losses"].append(loss)
        result["grad_norms"].append(norm)
    with torch.no_grad():
        result["final_loss"] = sum(lm_loss(policy.module, data[(rank, m)]).item() for m in range(2)) / 2
    result["params"] = {name: t.cpu() for name, t in strategy.full_named_parameters(policy.module)}
    inner = strategy.unwrap(policy.module)
    result["named_parameters_prefixed"] = all(name.startswith("module.") for name, _ in policy.module.named_parameters())
    result["partitioned"] = sum(
        1 for p in inner.parameters() if hasattr(p, "ds_tensor") and p.ds_tensor.numel() < p.ds_numel
    )
    strategy.save_pretrained(policy.module, args.out / "final")

    # -- the plain torch replica: all ranks' data, mean over ranks --------------------------------
    params = [p for p in replica.parameters() if p.requires_grad]
    torch_adam = torch.optim.AdamW(params, lr=optim.lr, betas=optim.betas, eps=optim.eps, weight_decay=optim.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(torch_adam, lr_lambda(optim, steps))
    result["replica_grad_norms"], result["replica_lrs"] = [], []
    for _ in range(steps):
        result["replica_lrs"].append(torch_adam.param_groups[0]["lr"])
        for r in range(world):
            for m in range(2):
                (lm_loss(replica, data[(r, m)]) * 0.5 / world).backward()
        result["replica_grad_norms"].append(float(torch.nn.utils.clip_grad_norm_(params, optim.max_grad_norm)))
        torch_adam.step()
        schedule.step()
        torch_adam.zero_grad(set_to_none=True)
    result["replica_params"] = {name: p.detach().clone() for name, p in replica.named_parameters()}

    # -- 2. resume: the saved weights + this rank's state_dict, then the second half again ---------
    half_model = AutoModelForCausalLM.from_pretrained(args.out / "half", dtype=torch.float32)
    resumed = strategy.prepare(half_model, optim.lr, optim, steps)
    resumed.load_state_dict(result.pop("state_at_half"))
    result["resumed_lrs"] = []
    for _ in range(half, steps):
        result["resumed_lrs"].append(resumed.lr)
        update(resumed)
    result["resumed_params"] = {name: t.cpu() for name, t in strategy.full_named_parameters(resumed.module)}

    # -- 3. the frozen reference and the value model ----------------------------------------------
    with torch.no_grad():
        result["ref_logit_diff"] = float((ref(input_ids=probe).logits - initial_logits).abs().max())
    result["ref_requires_grad"] = any(p.requires_grad for p in strategy.unwrap(ref).parameters())
    ids = data[(rank, 0)]
    values = value.module(ids, torch.ones_like(ids))  # (2, 12)
    value.backward(((values - 1.0) ** 2).mean())
    result["value_grad_norm"] = value.step()
    result["value_params"] = {name: t.cpu() for name, t in strategy.full_named_parameters(value.module)}
    strategy.save_pretrained(value.module, args.out / "value")

    result["seconds"] = time.perf_counter() - started
    torch.save(result, args.out / f"rank{rank}.pt")
    strategy.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    main()
