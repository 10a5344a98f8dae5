"""libbeat's equal-jitter backoff (``outputs/backoff.py``): exact schedules with an injected
random source, through the stateful driver and through tenacity."""

from __future__ import annotations

import pytest
import tenacity

from sorabeat.outputs.backoff import Backoff, BackoffSettings, EqualJitter, EqualJitterWait


def lowest(x: float) -> float:
    return 0.0


def highest(x: float) -> float:
    return x


def test_the_defaults_wait_at_least_init_then_double_up_to_max() -> None:
    low = EqualJitter(1.0, 60.0, lowest)
    high = EqualJitter(1.0, 60.0, highest)
    assert [low.duration(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert [high.duration(n) for n in range(1, 9)] == [2, 4, 8, 16, 32, 60, 60, 60]


def test_half_of_each_wait_is_random() -> None:
    asked: list[float] = []

    def rand(x: float) -> float:
        asked.append(x)
        return x / 4

    schedule = EqualJitter(0.5, 3.0, rand)
    assert [schedule.duration(n) for n in (1, 2, 3, 4)] == [0.625, 1.25, 1.875, 1.875]
    assert asked == [0.5, 1.0, 1.5, 1.5]  # the random half is drawn from [0, d/2)


def test_the_first_wait_is_not_capped_as_in_libbeat() -> None:
    # libbeat starts at 2*init before any cap: init == max still waits [init, 2*init) first
    schedule = EqualJitter(5.0, 5.0, lowest)
    assert [schedule.duration(n) for n in (1, 2, 3)] == [5.0, 2.5, 2.5]


def test_a_long_streak_does_not_overflow() -> None:
    assert EqualJitter(1.0, 60.0, highest).duration(10_000) == 60.0


def test_backoff_counts_a_streak_and_a_success_starts_it_again() -> None:
    backoff = Backoff(BackoffSettings(init=1.0, max=10.0), lowest)
    assert [backoff.next_wait() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.reset()
    assert [backoff.next_wait() for _ in range(2)] == [1, 2]


async def test_tenacity_sleeps_the_schedule_between_attempts() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    attempts = 0
    retrying = tenacity.AsyncRetrying(
        wait=EqualJitterWait(EqualJitter(1.0, 4.0, highest)),
        retry=tenacity.retry_if_exception_type(ConnectionError),
        sleep=sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            attempts += 1
            if attempts < 5:
                raise ConnectionError("down")
    assert attempts == 5
    assert slept == [2, 4, 4, 4]


async def test_tenacity_gives_up_on_other_errors_at_once() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("no wait expected")

    retrying = tenacity.AsyncRetrying(
        wait=EqualJitterWait(EqualJitter(1.0, 4.0, highest)),
        retry=tenacity.retry_if_exception_type(ConnectionError),
        sleep=sleep,
        reraise=True,
    )

    async def run() -> None:
        async for attempt in retrying:
            with attempt:
                raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        await run()
