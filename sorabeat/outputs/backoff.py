"""Reconnect/retry backoff shared by the network outputs: libbeat's exponential backoff
with equal jitter (half fixed, half random), reset after a success."""

from __future__ import annotations

import random
from dataclasses import dataclass

import tenacity

from sorabeat.config.schema import PositiveSeconds, setting


@dataclass(frozen=True)
class BackoffSettings:
    init: PositiveSeconds = setting(1.0, doc="First wait after a failure.")
    max: PositiveSeconds = setting(
        60.0, doc="Longest wait; each failure doubles the wait up to this."
    )

    def problems(self) -> list[tuple[str, str]]:
        if self.max < self.init:
            return [("max", "backoff.max must be >= backoff.init")]
        return []


class EqualJitterWait(tenacity.wait.wait_base):
    """Wait ``d/2 + uniform(0, d/2)`` where ``d = min(init * 2**(n-1), max)``."""

    def __init__(self, init: float, maximum: float, rng: random.Random | None = None) -> None:
        self.init = init
        self.maximum = maximum
        self.rng = rng or random.Random()

    def duration(self, failures: int) -> float:
        base = min(self.init * (2 ** max(failures - 1, 0)), self.maximum)
        half: float = base / 2
        return half + self.rng.uniform(0, half)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return self.duration(int(retry_state.attempt_number))


class Backoff:
    """Stateful backoff for a connection loop: ``next_wait()`` after each failure, ``reset()``
    after a success."""

    def __init__(self, settings: BackoffSettings, rng: random.Random | None = None) -> None:
        self.wait = EqualJitterWait(settings.init, settings.max, rng)
        self.failures = 0

    def next_wait(self) -> float:
        self.failures += 1
        return self.wait.duration(self.failures)

    def reset(self) -> None:
        self.failures = 0
