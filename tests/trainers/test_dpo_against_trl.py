"""DPO against TRL 1.16's own ``DPOTrainer`` (an external reference): the same token ids, the same loss and rewards.

TRL's trainer is built on the tiny model with a different tiny model as its reference, on plain-text pairs;
one batch holding every pair goes through its ``compute_loss``. Ours tokenizes the same records
(`tokenize_pair`), runs the same two models (`DPOTrainer`'s collation and `forward_logprobs`) and `dpo_loss`.
TRL's ``"sigmoid_norm"`` is our ``dpo_norm``. Building TRL's trainer takes seconds, hence ``slow``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("datasets")

from rlvr_gym.trainers.algorithms.dpo import dpo_loss, sequence_logps  # noqa: E402
from rlvr_gym.trainers.dpo import collate_pairs  # noqa: E402
from rlvr_gym.trainers.dpo_config import DPOLoss  # noqa: E402
from rlvr_gym.trainers.logprobs import forward_logprobs  # noqa: E402
from rlvr_gym.trainers.preference_data import parse_pair, tokenize_pair  # noqa: E402

pytestmark = pytest.mark.slow

ROWS = [{"prompt": f"What is {a} + {b}?\n", "chosen": f"#### {a + b}", "rejected": f"#### {a + b + 1} or so"} for a in range(2) for b in range(3)]
CHAT_ROWS = [
    {
        "prompt": [{"role": "user", "content": row["prompt"].strip()}],
        "chosen": [{"role": "assistant", "content": row["chosen"]}],
        "rejected": [{"role": "assistant", "content": row["rejected"]}],
    }
    for row in ROWS
]
BETA = 0.5


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from rlvr_gym.trainers.tiny import TinyModelConfig, build_tiny_model

    root = tmp_path_factory.mktemp("trl-dpo")
    return build_tiny_model(root / "policy", TinyModelConfig(), seed=0), build_tiny_model(root / "ref", TinyModelConfig(), seed=1)


def _trl(models, loss_type, tmp_path, rows=ROWS):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=str(tmp_path / "out"), loss_type=[loss_type], beta=BETA, per_device_train_batch_size=len(rows), report_to=[],
        use_cpu=True, max_length=None, seed=0, bf16=False,  # TRL turns bf16 on by default
    )
    policy, ref = models
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(policy), ref_model=AutoModelForCausalLM.from_pretrained(ref), args=args,
        train_dataset=Dataset.from_list(rows), processing_class=AutoTokenizer.from_pretrained(policy),
    )
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, batch)
    metrics = {name: values[-1] for mode in trainer._metrics.values() for name, values in mode.items()}
    return trainer, float(loss), metrics


CASES = [
    # our loss, TRL's loss_type, records
    (DPOLoss.SIGMOID, "sigmoid", ROWS),
    (DPOLoss.IPO, "ipo", ROWS),
    (DPOLoss.DPO_NORM, "sigmoid_norm", ROWS),
    # --- chat messages: the chat template (ChatML) renders prompt and prompt + response
    (DPOLoss.SIGMOID, "sigmoid", CHAT_ROWS),
]


@pytest.mark.parametrize("kind, trl_name, rows", CASES, ids=["sigmoid", "ipo", "dpo_norm", "sigmoid-chat"])
def test_loss_and_rewards_match_trls_dpo_trainer(models, tmp_path, kind, trl_name, rows):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trainer, trl_loss, trl_metrics = _trl(models, trl_name, tmp_path, rows)
    tokenizer = AutoTokenizer.from_pretrained(models[0])
    pairs = [tokenize_pair(parse_pair(row, i + 1), tokenizer) for i, row in enumerate(rows)]
    # the same token ids as TRL's dataset preparation (EOS appended, the prompt boundary)
    dataset = trainer.train_dataset
    assert [(p.prompt_ids, p.chosen_ids, p.rejected_ids) for p in pairs] == [
        (tuple(r["prompt_ids"]), tuple(r["chosen_ids"]), tuple(r["rejected_ids"])) for r in dataset
    ]
    seq = collate_pairs(pairs, int(tokenizer.pad_token_id))
    logps = []
    for path in models:
        with torch.no_grad():
            sums, counts = sequence_logps(forward_logprobs(AutoModelForCausalLM.from_pretrained(path).eval(), seq), seq.response_mask)
        logps.append(sums)
    n = len(pairs)
    (pc, pr), (rc, rr) = (x.split(n) for x in logps)
    loss, stats = dpo_loss(pc, pr, rc, rr, BETA, kind, 0.0, counts[:n], counts[n:])
    assert float(loss) == pytest.approx(trl_loss, abs=1e-5)
    if kind is DPOLoss.SIGMOID:  # TRL's rewards are beta * summed log-ratios whatever the loss; ours match them for sigmoid
        assert float(stats.chosen_rewards.mean()) == pytest.approx(trl_metrics["rewards/chosen"], abs=1e-5)
        assert float(stats.rejected_rewards.mean()) == pytest.approx(trl_metrics["rewards/rejected"], abs=1e-5)
        assert float(stats.accurate.mean()) == pytest.approx(trl_metrics["rewards/accuracies"], abs=1e-6)
        assert float(stats.margins.mean()) == pytest.approx(trl_metrics["rewards/margins"], abs=1e-5)
