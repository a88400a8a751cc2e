"""Verifiers that misbehave on purpose, for batch-engine tests (importable by worker processes)."""

import os
import time
from dataclasses import dataclass
from typing import ClassVar

from rlvr_gym.verifiers import Reason, make_verdict


@dataclass(frozen=True)
class MisbehavingVerifier:
    """Correct when response == ground truth; ``"sleep"`` hangs, ``"die"`` kills its process, ``"raise"`` raises."""

    alpha: float = 1.0
    name: ClassVar[str] = "misbehaving"

    def verify(self, response, ground_truth):
        if response == "sleep":
            time.sleep(3600)
        if response == "die":
            os._exit(3)
        if response == "raise":
            raise RuntimeError("boom")
        if response == "not a verdict":
            return 1.0
        reason = Reason.CORRECT if response == ground_truth else Reason.WRONG_ANSWER
        return make_verdict(self.alpha, reason, extracted=response)
