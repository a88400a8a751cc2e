"""Code tasks: HumanEval and the procedural code tasks as Gymnasium envs, and pass@k in the eval harness."""

import gymnasium
import pytest

import rlvr_gym  # noqa: F401  (registers the envs)
from rlvr_gym.envs import CodeSource, get_task, load_items
from rlvr_gym.evals.harness import score_responses
from rlvr_gym.evals.prompts import setting_for
from rlvr_gym.verifiers import verify_batch


def _fenced(code):
    return f"```python\n{code}```"


def test_humaneval_env_rewards_the_gold_and_not_a_stub():
    env = gymnasium.make("rlvr_gym/HumanEval-v0", alpha=10.0)
    prompt, info = env.reset(options={"index": 0})
    item = load_items(get_task("humaneval"))[0]
    assert info["item_id"] == "HumanEval/0" and prompt.startswith(item.prompt) and "```python" in prompt
    _, reward, terminated, _, info = env.step("Here it is:\n" + _fenced(item.metadata["solution"]))
    assert (reward, terminated, info["reason"]) == (10.0, True, "correct")
    env.reset(options={"index": 0})
    _, reward, _, _, info = env.step(_fenced("    return False\n"))  # a completion of the stub that is wrong
    assert reward == 0.0 and info["reason"] == "wrong_answer" and info["details"]["failure"] == "assertion"
    env.close()


@pytest.mark.parametrize("task", ["code_functions", "code_stdio"])
def test_procedural_code_tasks_gold_passes_and_splits_are_disjoint(task):
    spec = get_task(task)
    train, test = load_items(spec, "train"), load_items(spec, "test")
    assert {train[i].prompt for i in range(50)}.isdisjoint({test[i].prompt for i in range(50)})
    items = [train[i] for i in range(6)] + [test[i] for i in range(6)]
    result = verify_batch(
        spec.build_verifier(), [(_fenced(it.metadata["solution"]), it.ground_truth) for it in items], workers=2, timeout_s=30
    )
    assert result.counts["correct"] == 12, [dict(v.details) for v in result if not v.correct]


def test_procedural_items_depend_only_on_seed_and_index():
    a, b = CodeSource(split="test", seed=3), CodeSource(split="test", seed=3)
    assert a.item(7) == b.item(7) and a.item(7).ground_truth == b.item(7).ground_truth
    assert (
        CodeSource(split="test", seed=4).item(7).prompt != a.item(7).prompt
        or a.item(7).ground_truth != CodeSource(seed=4, split="test").item(7).ground_truth
    )
    assert len(a.item(0).ground_truth["tests"]) == 6
    with pytest.raises(ValueError, match="kind must be"):
        CodeSource(kind="java")


@pytest.mark.slow
def test_eval_harness_reports_pass_at_k_for_humaneval():
    items = list(load_items(get_task("humaneval"))[:4])
    gold = [_fenced(item.metadata["solution"]) for item in items]
    wrong = _fenced("def nothing():\n    pass\n")
    # samples per item: (gold, wrong), (wrong, wrong), (gold, gold), (wrong, gold)
    responses = [[gold[0], wrong], [wrong, wrong], [gold[2], gold[2]], [wrong, gold[3]]]
    report = score_responses("humaneval", setting_for("humaneval"), items, [i.prompt for i in items], responses, workers=2, timeout_s=20)
    # pass@1 = mean of c/n = (1/2 + 0 + 1 + 1/2) / 4; pass@2 = share of items with any correct = 3/4
    assert report.metrics["pass@1"] == pytest.approx(0.5)
    assert report.metrics["pass@2"] == pytest.approx(0.75)
    assert report.metrics["accuracy_count"] == [4, 8]
    assert report.metrics["reasons"]["wrong_answer"] == 4
