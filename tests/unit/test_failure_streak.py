"""FailureStreak: the first failure, one reminder per interval, one line when it is back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sorabeat.failure_streak import FailureStreak

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def streak(clock: Clock) -> FailureStreak:
    return FailureStreak("sora stats from h:3000", clock=clock, wall_clock=lambda: T0 + clock.now)


def test_first_failure_then_a_reminder_a_minute_then_back() -> None:
    clock = Clock()
    s = streak(clock)
    assert s.succeeded() is None  # nothing to say when nothing failed
    assert s.failed("HTTP 502") == "sora stats from h:3000: HTTP 502"
    lines = []
    for _ in range(59):  # one failure a second for a minute: silent
        clock.now += 1
        lines.append(s.failed("HTTP 502"))
    assert lines[:-1] == [None] * 58
    assert lines[-1] is None  # 59 s after the first line
    clock.now += 1
    assert s.failed("connection refused") == (
        "sora stats from h:3000: still failing, 61 times since 2026-05-28T20:26:40Z: "
        "connection refused"
    )
    clock.now += 30
    assert s.failed("x") is None
    assert (
        s.succeeded()
        == "sora stats from h:3000 is back after 62 failures since 2026-05-28T20:26:40Z"
    )
    assert s.succeeded() is None
    # a new streak starts over: its first failure is logged at once
    clock.now += 1
    assert s.failed("again") == "sora stats from h:3000: again"
    assert s.succeeded() == (
        "sora stats from h:3000 is back after 1 failure since 2026-05-28T20:28:11Z"
    )


@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=200)), max_size=200))
def test_at_most_one_line_per_interval_while_failing(steps: list[tuple[bool, float]]) -> None:
    clock = Clock()
    s = FailureStreak("x", remind_every=60, clock=clock, wall_clock=clock)
    failing_lines: list[float] = []
    streak_failures = 0
    for ok, advance in steps:
        clock.now += advance
        if ok:
            line = s.succeeded()
            assert (line is not None) == (streak_failures > 0)
            streak_failures = 0
            failing_lines.clear()
        else:
            streak_failures += 1
            line = s.failed("r")
            if streak_failures == 1:
                assert line == "x: r"
            if line is not None:
                assert not failing_lines or clock.now - failing_lines[-1] >= 60
                failing_lines.append(clock.now)
            else:
                assert failing_lines and clock.now - failing_lines[-1] < 60
        assert s.failures == streak_failures
