"""Batch engine: order, timeouts, dead workers, counts."""

import time

import pytest

from rlvr_gym.verifiers import Reason, VerifierPool, verify_batch
from tests.verifiers.misbehaving import MisbehavingVerifier

V = MisbehavingVerifier(alpha=2.0)


def test_order_and_counts_are_kept():
    items = [(str(i % 3), "0") for i in range(200)]
    result = verify_batch(V, items, workers=2, timeout_s=5)
    assert [v.extracted for v in result] == [str(i % 3) for i in range(200)]
    assert result.counts["correct"] == 67 and result.counts["wrong_answer"] == 133
    assert result.counts["timeout"] == 0 and result.accuracy == pytest.approx(67 / 200)
    assert result.scores[:3] == [2.0, 0.0, 0.0]


def test_in_process_matches_pool():
    items = [(str(i % 2), "1") for i in range(50)]
    assert verify_batch(V, items, workers=0).verdicts == verify_batch(V, items, workers=2).verdicts


def test_stuck_item_times_out_and_nothing_is_lost():
    items = [("a", "a"), ("sleep", "a"), ("b", "a"), ("sleep", "a"), ("c", "c")] + [("x", "x")] * 20
    start = time.perf_counter()
    with VerifierPool(workers=2, timeout_s=1.0) as pool:
        result = pool.verify(V, items)
        assert pool.restarts == 2
    elapsed = time.perf_counter() - start
    assert [v.reason for v in result][:5] == [Reason.CORRECT, Reason.TIMEOUT, Reason.WRONG_ANSWER, Reason.TIMEOUT, Reason.CORRECT]
    assert result.counts["timeout"] == 2 and result.counts["correct"] == 22 and len(result) == 25
    assert elapsed < 6  # two timeouts of 1 s can overlap on 2 workers, plus start-up


def test_dead_worker_and_raising_verifier_give_error_verdicts():
    items = [("die", "a"), ("a", "a"), ("raise", "a"), ("not a verdict", "a"), ("die", "a"), ("b", "b")]
    result = verify_batch(V, items, workers=2, timeout_s=5)
    reasons = [v.reason for v in result]
    assert reasons == [Reason.ERROR, Reason.CORRECT, Reason.ERROR, Reason.ERROR, Reason.ERROR, Reason.CORRECT]
    assert "exit code 3" in result[0].details["error"]
    assert "RuntimeError: boom" in result[2].details["error"]
    assert "not Verdict" in result[3].details["error"]


def test_pool_is_reusable_across_batches():
    with VerifierPool(workers=2, timeout_s=5) as pool:
        first = pool.verify(V, [("a", "a")] * 10)
        second = pool.verify(V, [("a", "b")] * 10)
    assert first.counts["correct"] == 10 and second.counts["wrong_answer"] == 10


def test_dict_items_and_bad_items():
    result = verify_batch(V, [{"response": "a", "ground_truth": "a"}], workers=0)
    assert result[0].correct
    with pytest.raises(ValueError, match="item 1: a dict item needs keys"):
        verify_batch(V, [("a", "a"), {"response": "a"}], workers=0)
    with pytest.raises(ValueError, match=r"item 0: expected a \(response, ground_truth\) pair"):
        verify_batch(V, [42], workers=0)


@pytest.mark.parametrize(
    "kwargs,message", [({"workers": -1}, "workers"), ({"timeout_s": 0}, "timeout_s"), ({"start_method": "nope"}, "start_method")]
)
def test_bad_pool_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VerifierPool(**kwargs)


def test_empty_batch():
    result = verify_batch(V, [], workers=2)
    assert len(result) == 0 and result.accuracy == 0.0
