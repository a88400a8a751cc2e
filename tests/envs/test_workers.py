"""SharedVerifier: many threads at once over a few worker processes; verdicts as if serial, in order."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from rlvr_gym.envs.adapters.workers import SharedVerifier
from rlvr_gym.verifiers import get_verifier, verify_batch


def pairs(k, n):
    # item i of batch k: correct when i % 3 != 0, else a wrong answer; one unparseable response per batch
    return [(f"#### {k + i}" if i % 3 else f"#### {k + i + 1}", str(k + i)) for i in range(n - 1)] + [("no number", "1")]


def test_concurrent_requests_get_their_own_verdicts_in_order():
    verifier = get_verifier("gsm8k", alpha=5.0)
    shared = SharedVerifier(verifier, workers=2, timeout_s=10)
    try:
        batches = [pairs(k, 1 + k % 4) for k in range(64)] + [pairs(1000, 100)]  # 64 small requests and a large one
        with ThreadPoolExecutor(max_workers=32) as threads:
            results = list(threads.map(shared.verify, batches))
        for batch, result in zip(batches, results):
            serial = verify_batch(verifier, batch, workers=0)
            assert [v.to_dict() for v in result] == [v.to_dict() for v in serial]
            assert result.counts == serial.counts and len(result.durations_s) == len(batch)
        big = results[-1]  # 99 numbered items (33 wrong) and one without a number
        assert (big.counts["correct"], big.counts["wrong_answer"], big.counts["no_answer"]) == (66, 33, 1)
        # alone, a large request is split over both idle workers: still in input order
        alone = pairs(2000, 100)
        assert [v.to_dict() for v in shared.verify(alone)] == [v.to_dict() for v in verify_batch(verifier, alone, workers=0)]
        assert shared.verify([]).counts["correct"] == 0
    finally:
        shared.close()
    with pytest.raises(RuntimeError, match="SharedVerifier is closed"):
        shared.verify(pairs(0, 2))


def test_inline_mode_and_bad_settings():
    verifier = get_verifier("gsm8k")
    shared = SharedVerifier(verifier, workers=0, timeout_s=10)
    assert shared.verify(pairs(3, 4)).scores == [0.0, 1.0, 1.0, 0.0]
    shared.close()
    with pytest.raises(ValueError, match="workers must be an int >= 0, got -1"):
        SharedVerifier(verifier, workers=-1, timeout_s=10)
