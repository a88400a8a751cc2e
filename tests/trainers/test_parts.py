"""The trainer's small parts, by hand: prompt order, row selection, batch-size checks, checkpoint
folders, the merge of metrics over processes, and the stop votes."""

from __future__ import annotations

import signal
import threading

import pytest

torch = pytest.importorskip("torch")

from rlvr_gym.config import ConfigError  # noqa: E402
from rlvr_gym.trainers.checkpoint import (  # noqa: E402
    TRAINER_STATE_FILE,
    checkpoint_dir,
    latest_checkpoint,
    prune_checkpoints,
    resolve_resume,
)
from rlvr_gym.trainers.config import TrainConfig, check_world_size, load_train_config  # noqa: E402
from rlvr_gym.trainers.logprobs import SequenceBatch, take_rows  # noqa: E402
from rlvr_gym.trainers.sampler import PromptSampler  # noqa: E402
from rlvr_gym.trainers.stop import StepAbandoned, StopVote  # noqa: E402
from rlvr_gym.trainers.tracking import ProcessMetrics, merge_process_metrics  # noqa: E402
from tests.trainers.presets import PPO_WITH_CRITIC  # noqa: E402

# --------------------------------------------------------------------------- PromptSampler


def test_sampler_walks_epochs_of_seeded_permutations():
    sampler = PromptSampler(num_items=5, batch_size=3, seed=7)
    epoch0 = [int(i) for i in __import__("numpy").random.default_rng([7, 0]).permutation(5)]
    epoch1 = [int(i) for i in __import__("numpy").random.default_rng([7, 1]).permutation(5)]
    stream = epoch0 + epoch1
    # step k takes stream positions 3k .. 3k+2, crossing the epoch boundary at step 1
    assert sampler.indices(0) == stream[0:3]
    assert sampler.indices(1) == stream[3:6]
    assert sampler.indices(2) == stream[6:9]
    assert sorted(sampler.indices(0) + sampler.indices(1)[:2]) == [0, 1, 2, 3, 4]  # one epoch: every item once


def test_sampler_depends_only_on_seed_and_step():
    a, b = PromptSampler(10, 4, seed=1), PromptSampler(10, 4, seed=1)
    late = [b.indices(s) for s in (9, 3, 0)]  # asked out of order, as after a resume
    assert [a.indices(s) for s in (9, 3, 0)] == late
    assert PromptSampler(10, 4, seed=2).indices(0) != a.indices(0)


# a table of bad arguments, each naming what is wrong
@pytest.mark.parametrize(
    "args, message",
    [((0, 4, 0), "no items"), ((5, 0, 0), "batch_size must be >= 1")],
)
def test_sampler_refuses_bad_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        PromptSampler(*args)


def test_sampler_refuses_a_negative_step():
    with pytest.raises(ValueError, match="step must be >= 0"):
        PromptSampler(5, 2, 0).indices(-1)


# --------------------------------------------------------------------------- take_rows


def test_take_rows_keeps_the_rows_and_drops_all_padding_columns():
    ids = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 0]])  # (3, 5) right-padded
    mask = (ids > 0).long()
    response = torch.tensor([[0, 1, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0]], dtype=torch.float32)
    batch = SequenceBatch(ids, mask, response, response * -0.5)
    rows = take_rows(batch, torch.tensor([1, 0]))
    # rows 1 and 0 are 2 and 3 tokens long: width 3
    assert rows.input_ids.tolist() == [[4, 5, 0], [1, 2, 3]]
    assert rows.attention_mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert rows.engine_logprobs.tolist() == [[0.0, -0.5, 0.0], [0.0, -0.5, -0.5]]
    assert type(rows) is SequenceBatch
    assert take_rows(batch, torch.tensor([2])).input_ids.tolist() == [[6, 7, 8, 9]]


# --------------------------------------------------------------------------- check_world_size


def _sizes(rollout: int, mini: int, micro: int) -> TrainConfig:
    return load_train_config(None, [*PPO_WITH_CRITIC, f"ppo.rollout_batch_size={rollout}", f"ppo.mini_batch_size={mini}", f"ppo.micro_batch_size={micro}"])


def test_world_size_that_splits_every_batch_is_accepted():
    check_world_size(_sizes(64, 16, 4), 4)  # 16 per process, mini-batch share 4 = one micro-batch
    check_world_size(_sizes(64, 16, 2), 2)  # mini-batch share 8 = four micro-batches


# each case: sizes, processes, the key the error names
@pytest.mark.parametrize(
    "sizes, world, key",
    [
        ((64, 16, 4), 3, "ppo.rollout_batch_size"),  # 64 % 3
        ((48, 12, 2), 8, "ppo.mini_batch_size"),  # 48 % 8 == 0 but 12 % 8 != 0
        ((64, 16, 8), 4, "ppo.micro_batch_size"),  # share 16 / 4 = 4 is not a multiple of 8
    ],
)
def test_world_size_that_does_not_split_is_refused_naming_the_key(sizes, world, key):
    with pytest.raises(ConfigError, match=f"^{key}: "):
        check_world_size(_sizes(*sizes), world)


# --------------------------------------------------------------------------- checkpoint folders


def _fake_checkpoint(run_dir, step: int, complete: bool = True):
    path = checkpoint_dir(run_dir, step)
    path.mkdir(parents=True)
    if complete:
        (path / TRAINER_STATE_FILE).write_bytes(b"x")
    return path


def test_latest_and_pruning_count_only_complete_checkpoints(tmp_path):
    for step in (5, 10, 20):
        _fake_checkpoint(tmp_path, step)
    _fake_checkpoint(tmp_path, 30, complete=False)  # a save cut short: no trainer state
    (tmp_path / "checkpoints" / "step-000040.tmp").mkdir()
    assert latest_checkpoint(tmp_path) == checkpoint_dir(tmp_path, 20)
    prune_checkpoints(tmp_path, keep_last=2)
    left = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert left == ["step-000010", "step-000020", "step-000030", "step-000040.tmp"]
    prune_checkpoints(tmp_path, keep_last=None)  # None keeps all
    assert len(list((tmp_path / "checkpoints").iterdir())) == 4


def test_resolve_resume(tmp_path):
    assert resolve_resume(None, tmp_path) is None
    with pytest.raises(FileNotFoundError, match="no checkpoint under"):
        resolve_resume("latest", tmp_path)
    done = _fake_checkpoint(tmp_path, 3)
    assert resolve_resume("latest", tmp_path) == done
    assert resolve_resume(str(done), tmp_path) == done
    with pytest.raises(FileNotFoundError, match="is not a trainer checkpoint"):
        resolve_resume(str(tmp_path), tmp_path)


# --------------------------------------------------------------------------- metrics over processes


def test_merge_process_metrics_by_hand():
    every = [
        ProcessMetrics(mean={"loss/policy": 0.5, "lr/policy": 1e-3}, max={"time/step": 2.0, "response/length_max": 7.0}),
        ProcessMetrics(mean={"loss/policy": 1.5, "lr/policy": 1e-3}, max={"time/step": 3.0}),
    ]
    assert merge_process_metrics(every) == {
        "loss/policy": 1.0,
        "lr/policy": 1e-3,
        "time/step": 3.0,
        "response/length_max": 7.0,  # missing on process 1: counts as 0
    }
    one = ProcessMetrics(mean={"loss/value": 0.1 + 0.2}, max={"time/step": 0.7})
    assert merge_process_metrics([one]) == {"loss/value": 0.1 + 0.2, "time/step": 0.7}  # one process: unchanged


# --------------------------------------------------------------------------- stop votes


def _votes(other_process_flags: list[float]):
    """An ``all_reduce_sum`` over this process and stand-ins for the others (their flags, in order of calls)."""
    queue = list(other_process_flags)
    return lambda t: t + queue.pop(0)


def test_a_failure_without_a_stop_request_propagates():
    stop = StopVote(_votes([]), announce=lambda name: None)
    with pytest.raises(RuntimeError, match="engine died"):
        with stop.guard():
            raise RuntimeError("engine died")


def test_a_failure_after_a_stop_request_abandons_the_step_on_every_process():
    stop = StopVote(_votes([0.0]), announce=lambda name: None)
    stop.signalled = True  # the signal reached this process
    with stop.guard():
        raise RuntimeError("vLLM's engine process got the same Ctrl-C")
    with pytest.raises(StepAbandoned):
        stop.abandon_if_failed("the rollout")


def test_another_process_failure_abandons_the_step_here_too():
    stop = StopVote(_votes([1.0, 0.0]), announce=lambda name: None)
    with stop.guard():
        pass
    with pytest.raises(StepAbandoned):
        stop.abandon_if_failed("evaluation")  # the other process voted 1
    assert stop.signalled
    stop.abandon_if_failed("the next step")  # the failure was consumed by the vote: nothing raised


def test_a_replaced_verifier_worker_after_a_stop_request_is_a_failure():
    restarts = [0]
    stop = StopVote(_votes([0.0]), announce=lambda name: None)
    stop.signalled = True
    with stop.guard(restarts=lambda: restarts[0]):
        restarts[0] += 1  # the pool replaced a worker killed by the same Ctrl-C
    with pytest.raises(StepAbandoned):
        stop.abandon_if_failed("the rollout")


def test_requested_is_a_vote():
    stop = StopVote(_votes([0.0, 1.0]), announce=lambda name: None)
    assert not stop.requested()
    assert stop.requested() and stop.signalled  # another process was signalled


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
def test_handlers_record_sigterm_and_sigint_and_a_second_sigint_aborts():
    heard: list[str] = []
    stop = StopVote(_votes([]), announce=heard.append)
    before = signal.getsignal(signal.SIGINT)
    with stop.handlers():
        signal.raise_signal(signal.SIGTERM)
        assert stop.signalled and heard == ["SIGTERM"]
        signal.raise_signal(signal.SIGTERM)  # SIGTERM never aborts
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before and heard == ["SIGTERM"]


# --- which curves `rlvr-gym plot` draws


def test_plot_panels_follow_what_the_run_logged():
    from rlvr_gym.trainers.plot import DPO_PANELS, NO_REFERENCE_PANEL, ON_POLICY_PANEL, PANELS, choose_panels

    def third(records):  # the panel in place of KL(policy || ref)
        return choose_panels(records)[1]

    assert choose_panels([{"step": 1, "loss/dpo": 0.6}]) == DPO_PANELS
    assert choose_panels([{"step": 1, "kl/ref": 0.1, "policy/approx_kl": 0.0}]) == PANELS
    assert third([{"step": 1, "policy/approx_kl": 0.0}, {"step": 2, "policy/approx_kl": 2e-4}]) == NO_REFERENCE_PANEL
    assert third([{"step": 1, "policy/approx_kl": 0.0}, {"step": 2, "policy/approx_kl": 0.0}]) == ON_POLICY_PANEL
    assert [name for name, _ in choose_panels([{"step": 1}])] == ["rewards/mean", "verifier/correct", "response/length", "eval/accuracy"]
