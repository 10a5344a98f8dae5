"""Reconnect/retry backoff shared by the network outputs: libbeat's equal-jitter backoff
(``libbeat/common/backoff/equal_jitter.go``).

Each wait is half fixed, half random: ``d/2 + random[0, d/2)``. ``d`` starts at ``2 * init``
(so the first wait is at least ``init``) and doubles after each wait, up to ``max``; a success
starts the streak again. With the defaults (1 s, 60 s) the waits lie in [1,2), [2,4), [4,8),
[8,16), [16,32), then [30,60) for good.

Two drivers share that schedule (``EqualJitter``):

* ``EqualJitterWait`` is a tenacity wait strategy, for loops that repeat one call until it
  succeeds: tenacity runs them (the Elasticsearch output's ``GET /`` before its first bulk).
* ``Backoff`` keeps the streak of a connection loop by hand, because there the streak ends
  on progress *inside* a long-lived attempt (a Logstash window acknowledged an hour into a
  connection, a bulk round that indexed something) and failover to the next host costs no
  wait; tenacity counts the attempts of one call and has no way to reset that count from
  within a running attempt.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

from sorabeat.config.schema import PositiveSeconds, setting

Rand = Callable[[float], float]
"""``rand(x)``: a random number in ``[0, x)``; injected by tests for exact schedules."""

_MAX_DOUBLINGS = 64  # 2**64 * init is beyond any max: no need to double further


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


def _uniform(x: float) -> float:
    return random.random() * x


class EqualJitter:
    """The wait after the ``failures``-th failure in a row (1 = the first)."""

    def __init__(self, init: float, maximum: float, rand: Rand | None = None) -> None:
        self.init = init
        self.maximum = maximum
        self.rand = rand or _uniform

    def span(self, failures: int) -> float:
        """``d`` of the ``failures``-th wait: libbeat starts at ``2 * init`` uncapped, then
        doubles and caps at ``max``."""
        if failures <= 1:
            return 2 * self.init
        return min(self.init * 2.0 ** min(failures, _MAX_DOUBLINGS), self.maximum)

    def duration(self, failures: int) -> float:
        half = self.span(failures) / 2
        return half + self.rand(half)


class EqualJitterWait(tenacity.wait.wait_base):
    """tenacity's view of the schedule: the wait after attempt ``n`` failed."""

    def __init__(self, schedule: EqualJitter) -> None:
        self.schedule = schedule

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return self.schedule.duration(retry_state.attempt_number)


class Backoff:
    """Stateful backoff for a connection loop: ``next_wait()`` after each failure, ``reset()``
    after a success."""

    def __init__(self, settings: BackoffSettings, rand: Rand | None = None) -> None:
        self.schedule = EqualJitter(settings.init, settings.max, rand)
        self.failures = 0

    def next_wait(self) -> float:
        self.failures += 1
        return self.schedule.duration(self.failures)

    def reset(self) -> None:
        self.failures = 0
