"""`DeepSpeedStrategy` for real: two CPU processes (gloo, ``DS_ACCELERATOR=cpu``), ZeRO-2 and ZeRO-3.

Each test launches `deepspeed_worker.py` with ``torch.distributed.run --nproc_per_node 2`` (fp32,
and DeepSpeed's bf16 mixed precision: the path a GPU run takes) and checks what the ranks wrote:
the loss falls; both ranks hold the same parameters; they equal a plain torch AdamW replica
trained on both ranks' data (gradients averaged over ranks, the loop's micro-batch accumulation,
clipping, the schedule); resuming from ``save_pretrained`` + ``state_dict`` replays the second
half bit for bit; the saved folders reload with transformers.

About 10 s per launch on 2 cores; the first DeepSpeed run on a machine also JIT-builds
DeepSpeed's CPU shared-memory comm op once (~35 s, cached in ``~/.cache/torch_extensions``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rlvr_gym.config import ConfigError  # noqa: E402
from rlvr_gym.trainers.strategies import Distributed, OptimizerConfig, StrategyConfig, make_strategy  # noqa: E402
from rlvr_gym.trainers.strategies.base import lr_lambda  # noqa: E402

HAVE_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None
needs_deepspeed = pytest.mark.skipif(not HAVE_DEEPSPEED, reason="deepspeed is not installed (pip install deepspeed==0.19.8)")

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("deepspeed_worker.py")
STEPS = 4
OPTIM = OptimizerConfig(lr=1e-2, weight_decay=0.01, max_grad_norm=1.0, scheduler="linear", warmup_updates=1)
"""Must match the worker's."""


def _launch(stage: int, bf16: bool, model_dir: Path, out: Path) -> list[dict]:
    env = dict(os.environ)
    env.update(DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(WORKER), "--stage", str(stage), "--model", str(model_dir), "--out", str(out), "--steps", str(STEPS),
    ] + (["--bf16"] if bf16 else [])  # fmt: skip
    try:
        proc = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"ZeRO-{stage} workers timed out after {exc.timeout} s:\n{(exc.stderr or b'')[-4000:]!r}")
    if proc.returncode != 0:
        pytest.fail(f"ZeRO-{stage} workers failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


@needs_deepspeed
@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "bf16"), [(2, False), (3, False), (2, True), (3, True)], ids=["zero2", "zero3", "zero2-bf16", "zero3-bf16"]
)
def test_two_process_zero(stage, bf16, tiny_model_dir, tmp_path):
    """fp32: exact parity with the replica. bf16: DeepSpeed's mixed precision (the path GPUs take, here on CPU):
    bf16 weights and gradients, fp32 masters in the optimizer, so parity is loose but resume is still exact."""
    from transformers import AutoModelForCausalLM

    from rlvr_gym.trainers.value_model import ValueModel

    ranks = _launch(stage, bf16, tiny_model_dir, tmp_path)
    r0, r1 = ranks
    tolerance = {"grad_norm_rel": 2e-2, "params": 0.1} if bf16 else {"grad_norm_rel": 1e-4, "params": 1e-4}

    for r in ranks:
        assert r["world_size"] == 2
        assert r["losses"][-1] < r["losses"][0] - 0.5, r["losses"]
        assert r["final_loss"] < r["losses"][-1]
        # the schedule: linear warm-up over 1 update, then linear decay to 0 at update STEPS
        factor = lr_lambda(OPTIM, STEPS)
        assert r["lrs"] == pytest.approx([OPTIM.lr * factor(n) for n in range(STEPS)])
        assert r["resumed_lrs"] == pytest.approx(r["lrs"][STEPS // 2 :])
        # pre-clip global norms of the rank-averaged gradients (clipping was active: norms > 1)
        assert r["grad_norms"] == pytest.approx(r["replica_grad_norms"], rel=tolerance["grad_norm_rel"])
        assert max(r["grad_norms"]) > OPTIM.max_grad_norm
        assert r["named_parameters_prefixed"]  # trainable.module is the engine: forward through it
        assert not r["ref_requires_grad"]
        assert r["ref_logit_diff"] < (1e-2 if bf16 else 1e-6)  # the frozen reference computes the starting policy
        assert r["value_grad_norm"] > 0
    if stage == 3:
        assert r0["partitioned"] == len(r0["params"])  # every parameter really was sharded
    else:
        assert r0["partitioned"] == 0

    # both ranks hold the same model, and it is what single-process AdamW on all the data gives
    assert r0["params"].keys() == r1["params"].keys()
    for name in r0["params"]:
        assert torch.equal(r0["params"][name], r1["params"][name]), name
    assert all(t.dtype == (torch.bfloat16 if bf16 else torch.float32) for t in r0["params"].values())
    assert _max_diff(r0["params"], r0["replica_params"]) < tolerance["params"]
    # resume: the half-way folder + each rank's state_dict replay the second half exactly
    for r in ranks:
        assert _max_diff(r["params"], r["resumed_params"]) == 0.0

    # save_pretrained: ordinary Hugging Face folders holding the trained (gathered) weights
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "final", dtype=torch.float32)
    assert _max_diff({n: p.detach() for n, p in saved.named_parameters()}, r0["params"]) == 0.0
    value = ValueModel.from_pretrained(tmp_path / "value")
    assert _max_diff({n: p.detach() for n, p in value.named_parameters()}, r0["value_params"]) == 0.0


# --------------------------------------------------------------------------- config, no processes


def test_deepspeed_config_maps_our_config():
    from rlvr_gym.trainers.strategies.deepspeed import deepspeed_config

    if not HAVE_DEEPSPEED:
        pytest.skip("deepspeed is not installed (pip install deepspeed==0.19.8)")
    optim = OptimizerConfig(lr=3e-4, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.1, max_grad_norm=0.5)
    cpu = deepspeed_config(StrategyConfig(distributed="zero2", dtype="bfloat16"), optim, optim.lr)
    assert cpu["zero_optimization"] == {"stage": 2}
    assert cpu["gradient_accumulation_steps"] == 1 and cpu["managed_gradient_accumulation"] is False
    assert cpu["gradient_clipping"] == 0.5
    assert cpu["bf16"] == {"enabled": False}  # bf16 on CPU is autocast over fp32 weights, as in SingleDevice
    assert cpu["optimizer"] == {
        "type": "AdamW",
        "params": {"lr": 3e-4, "betas": [0.9, 0.95], "eps": 1e-6, "weight_decay": 0.1, "torch_adam": True},
    }
    gpu = deepspeed_config(
        StrategyConfig(distributed="zero3", device="cuda", dtype="bfloat16"),
        OptimizerConfig(max_grad_norm=None),
        1e-5,
        overrides={"zero_optimization": {"stage3_param_persistence_threshold": 0}},
    )
    assert gpu["zero_optimization"] == {"stage": 3, "stage3_param_persistence_threshold": 0}
    assert gpu["bf16"] == {"enabled": True} and gpu["gradient_clipping"] == 0.0
    frozen = deepspeed_config(StrategyConfig(distributed="zero3"), OptimizerConfig(), 1.0, train=False)
    assert "optimizer" not in frozen and "gradient_clipping" not in frozen


def test_zero_needs_deepspeed_installed(monkeypatch):
    if HAVE_DEEPSPEED:
        config = StrategyConfig(distributed="zero3")
        assert config.distributed is Distributed.ZERO3
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "deepspeed" else real_find_spec(name, *a))
    with pytest.raises(ValueError, match=r"pip install deepspeed==0\.19\.8"):
        StrategyConfig(distributed="zero2")
    if HAVE_DEEPSPEED:
        with pytest.raises(ImportError, match=r"pip install deepspeed==0\.19\.8"):
            make_strategy(config)


def test_train_config_accepts_zero_keys():
    if not HAVE_DEEPSPEED:
        pytest.skip("deepspeed is not installed (pip install deepspeed==0.19.8)")
    from rlvr_gym.config import load_config
    from rlvr_gym.trainers.config import TrainConfig

    config = load_config(TrainConfig, None, ["strategy.distributed=zero2", "strategy.device=cuda", "strategy.dtype=bfloat16"])
    assert config.strategy.distributed is Distributed.ZERO2
    with pytest.raises(ConfigError, match="strategy.distributed"):
        load_config(TrainConfig, None, ["strategy.distributed=zero4"])
