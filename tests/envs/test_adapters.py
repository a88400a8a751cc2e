"""Adapters: TRL's reward-function calling convention (real GRPOTrainer), veRL's compute_score (real loader)."""

import functools
import json
import subprocess
import sys

import pytest

from rlvr_gym.envs import get_task, load_items
from rlvr_gym.envs.adapters import make_trl_reward
from rlvr_gym.verifiers import get_verifier

from .peers import load_peer_module


def _arithmetic_batch(n=8):
    items = load_items(get_task("arithmetic"), "test")[:n]
    completions = [f"#### {item.ground_truth}" if i % 3 else "#### 0.5" for i, item in enumerate(items)]
    return items, completions


def test_trl_reward_returns_exactly_the_verifier_scores_inside_grpo_trainer(tmp_path):
    pytest.importorskip("trl", reason="trl is not installed (pip install 'rlvr-gym[train]')")
    pytest.importorskip("torch", reason="torch is not installed")
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from rlvr_gym.trainers.tiny import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "tiny")
    items, completions = _arithmetic_batch(8)
    reward = make_trl_reward("arithmetic", alpha=10.0, ground_truth_column="answer")
    dataset = Dataset.from_list([{"prompt": item.prompt, "answer": item.ground_truth} for item in items])
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4, max_completion_length=8,
        use_cpu=True, report_to="none", bf16=False, logging_steps=1, max_steps=1,
    )
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=[reward], args=args, train_dataset=dataset)
    inputs = [{"prompt": item.prompt, "answer": item.ground_truth} for item in items]
    prompts = [item.prompt for item in items]
    # TRL 1.16's own call (trl/trainer/grpo_trainer.py, _calculate_rewards), with trainer_state, log_extra, log_metric
    rewards = trainer._calculate_rewards(inputs, prompts, completions, [[1, 2]] * len(items))
    verifier = get_verifier("gsm8k", alpha=10.0)
    expected = [verifier.verify(c, item.ground_truth).score for c, item in zip(completions, items)]
    assert rewards[:, 0].tolist() == expected
    assert expected.count(10.0) == 5 and expected.count(0.0) == 3
    assert trainer.reward_func_names == ["rlvr_gym_gsm8k"]
    # Reason rates reach the run's metrics (averaged per logging step) and each reason the completions table.
    # Completions 0, 3, 6 are "#### 0.5" against integer answers: wrong_answer.
    metrics = dict(trainer._pending_metrics)
    assert metrics["rlvr_gym_gsm8k/correct"] == [5 / 8] and metrics["rlvr_gym_gsm8k/wrong_answer"] == [3 / 8]
    assert metrics["rlvr_gym_gsm8k/no_answer"] == [0.0] and metrics["rlvr_gym_gsm8k/timeout"] == [0.0]
    assert len(metrics) == 7  # one per Reason
    reasons = ["wrong_answer" if i % 3 == 0 else "correct" for i in range(8)]
    assert dict(trainer._pending_extra_logs) == {"rlvr_gym_gsm8k_reason": reasons}


def test_trl_reward_conversational_completions_and_worker_pool():
    items, completions = _arithmetic_batch(6)
    chat = [[{"role": "assistant", "content": c}] for c in completions]
    direct = make_trl_reward(verifier="gsm8k")
    pooled = make_trl_reward(verifier="gsm8k", workers=2)
    gts = [item.ground_truth for item in items]
    assert direct(prompts=None, completions=chat, ground_truth=gts) == pooled(prompts=None, completions=completions, ground_truth=gts)
    pooled.close()


def test_trl_reward_errors_name_what_is_wrong():
    reward = make_trl_reward(verifier="gsm8k")
    # TRL's own keywords are not dataset columns: the message lists only the real columns
    with pytest.raises(
        KeyError, match=r"needs a 'ground_truth' column with the ground truth; got columns \['answer'\]\"$"
    ):  # KeyError quotes its message
        reward(
            prompts=["p"],
            completions=["c"],
            answer=["1"],
            trainer_state=None,
            log_extra=print,
            log_metric=print,
            completion_ids=[[1]],
            environments=None,
        )
    with pytest.raises(ValueError, match="2 completions but 1 ground truths"):
        reward(prompts=["p", "q"], completions=["c", "d"], ground_truth=["1"])
    with pytest.raises(TypeError, match="completion 0: expected a string or a list of chat messages"):
        reward(prompts=["p"], completions=[42], ground_truth=["1"])
    with pytest.raises(ValueError, match="exactly one of task= or verifier="):
        make_trl_reward()


# ---------------------------------------------------------------------------------------- veRL
VERL_FILE = "rlvr_gym/envs/adapters/verl.py"
VERL_PKG = "pkg://rlvr_gym.envs.adapters.verl"


def load_compute_score(monkeypatch, module_path, name="compute_score"):
    """veRL 0.9.1's own loader: verl/utils/import_utils.py ``load_extern_object`` (by path or pkg://)."""
    import_utils = load_peer_module(monkeypatch, "verl", "utils.import_utils")
    return import_utils.load_extern_object(module_path=module_path, object_name=name)


def with_reward_kwargs(raw_fn, reward_kwargs):
    """Our copy of verl/trainer/ppo/reward.py's ``get_custom_reward_fn`` wrapping (``_call_with_kwargs``):
    ``reward.custom_reward_function.reward_kwargs`` merged over the call's keywords."""

    def call(*args, **kwargs):
        return raw_fn(*args, **{**kwargs, **reward_kwargs})

    return call


RM_KWARGS = {"reward_router_address": "127.0.0.1:1", "reward_model_tokenizer": object()}
VERL_CALLS = [
    # reward loop, naive.py run_single: four keywords (extra_info as the manager fills it)
    (
        {
            "data_source": "openai/gsm8k",
            "solution_str": "so #### 72",
            "ground_truth": "72",
            "extra_info": {"split": "test", "num_turns": None, "rollout_reward_scores": {}},
        },
        {},
        {"score": 1.0, "acc": 1.0},
    ),
    ({"data_source": "openai/gsm8k", "solution_str": "so #### 71", "ground_truth": "72", "extra_info": {}}, {}, {"score": 0.0, "acc": 0.0}),
    # ... with a reward model enabled: reward_router_address= and reward_model_tokenizer= added, unused
    (
        dict(data_source="openai/gsm8k", solution_str="so #### 72", ground_truth="72", extra_info={}, **RM_KWARGS),
        {},
        {"score": 1.0, "acc": 1.0},
    ),
    # ... with reward_kwargs: alpha scales the score, acc stays 0/1
    (
        {"data_source": "openai/gsm8k", "solution_str": "so #### 72", "ground_truth": "72", "extra_info": {}},
        {"alpha": 10},
        {"score": 10.0, "acc": 1.0},
    ),
    (
        dict(data_source="openai/gsm8k", solution_str="so #### 7", ground_truth="72", extra_info={}, **RM_KWARGS),
        {"alpha": 10},
        {"score": 0.0, "acc": 0.0},
    ),
    # ... alpha from extra_info when reward_kwargs has none; reward_kwargs wins over it
    (
        {
            "data_source": "countdown",
            "solution_str": "<answer>(3 + 5) * 2</answer>",
            "ground_truth": {"numbers": [3, 5, 2], "target": 16},
            "extra_info": {"alpha": 4},
        },
        {},
        {"score": 4.0, "acc": 1.0},
    ),
    (
        {
            "data_source": "countdown",
            "solution_str": "<answer>(3 + 5) * 2</answer>",
            "ground_truth": {"numbers": [3, 5, 2], "target": 16},
            "extra_info": {"alpha": 4},
        },
        {"alpha": 2},
        {"score": 2.0, "acc": 1.0},
    ),
    # veRL's math-like data sources go to the math verifier
    (
        {"data_source": "math_dapo", "solution_str": "so \\boxed{\\frac{1}{2}}", "ground_truth": "\\frac12", "extra_info": {}},
        {},
        {"score": 1.0, "acc": 1.0},
    ),
    ({"data_source": "aime2024", "solution_str": "\\boxed{204}", "ground_truth": "204", "extra_info": {}}, {}, {"score": 1.0, "acc": 1.0}),
    (
        {"data_source": "numina_olympiads", "solution_str": "\\boxed{0.5}", "ground_truth": "\\frac{1}{2}", "extra_info": {}},
        {},
        {"score": 1.0, "acc": 1.0},
    ),
    (
        {"data_source": "lighteval/MATH", "solution_str": "\\boxed{3}", "ground_truth": "4", "extra_info": {}},
        {},
        {"score": 0.0, "acc": 0.0},
    ),
]


@pytest.mark.parametrize("module_path", [VERL_FILE, VERL_PKG])
@pytest.mark.parametrize("call,reward_kwargs,expected", VERL_CALLS)
def test_verl_call_shapes(monkeypatch, module_path, call, reward_kwargs, expected):
    compute_score = with_reward_kwargs(load_compute_score(monkeypatch, module_path), reward_kwargs)
    assert compute_score(**call) == expected


def test_verl_positional_calls(monkeypatch):
    import numpy as np

    # main_eval.py process_item: reward_fn(data_source, response, ground_truth), then np.mean over the results
    value = with_reward_kwargs(load_compute_score(monkeypatch, VERL_FILE, "compute_score_value"), {"alpha": 2})
    scores = [value("openai/gsm8k", r, "72") for r in ("#### 72", "#### 7", "72 is it: #### 72")]
    assert scores == [2.0, 0.0, 2.0] and np.mean(scores) == pytest.approx(4 / 3)
    full = load_compute_score(monkeypatch, VERL_FILE)
    assert full("openai/gsm8k", "#### 72", "72", None) == {"score": 1.0, "acc": 1.0}


def test_verl_refusals_name_what_is_wrong(monkeypatch):
    compute_score = load_compute_score(monkeypatch, VERL_FILE)
    for source in ("hiyouga/geometry3k", "codecontests", "searchR1_nq", "nope"):
        with pytest.raises(ValueError, match=f"no verifier for data_source '{source}'. Supported: .*math_dapo.*openai/gsm8k") as info:
            compute_score(data_source=source, solution_str="x", ground_truth="1", extra_info={})
        assert "aime or numina_ (math)" in str(info.value)
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpah'"):  # a reward_kwargs typo is not swallowed
        with_reward_kwargs(compute_score, {"alpah": 10})(data_source="gsm8k", solution_str="#### 1", ground_truth="1", extra_info={})


FRESH_PROCESS = """
import json, sys
import cloudpickle
fn = cloudpickle.loads(sys.stdin.buffer.read())
print(json.dumps([fn(data_source="openai/gsm8k", solution_str=s, ground_truth="72", extra_info={}) for s in ("#### 72", "#### 1")]))
"""


@pytest.mark.parametrize("module_path", [VERL_FILE, VERL_PKG])
def test_verl_function_survives_cloudpickle_into_a_fresh_process(monkeypatch, module_path):
    """remote.py hands compute_score (inside get_custom_reward_fn's partial) to Ray workers: cloudpickle, another process."""
    cloudpickle = pytest.importorskip("cloudpickle", reason="cloudpickle is not installed (pip install 'rlvr-gym[dev]')")
    raw_fn = load_compute_score(monkeypatch, module_path)
    wrapped = functools.partial(with_reward_kwargs(raw_fn, {"alpha": 3}))
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], input=cloudpickle.dumps(wrapped), capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert json.loads(proc.stdout) == [{"score": 3.0, "acc": 1.0}, {"score": 0.0, "acc": 0.0}]
