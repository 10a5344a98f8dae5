"""``lumberjack/stall.py``: when a connection with events waiting counts as stalled."""

from __future__ import annotations

from sorabeat.lumberjack.stall import AckStall


def test_stalled_once_after_the_limit_with_events_waiting() -> None:
    stall = AckStall(300.0, now=1000.0)
    assert not stall.check(1299.0, waiting=10)
    assert stall.check(1300.0, waiting=10)
    assert not stall.check(1400.0, waiting=10)  # reported once, still stalled
    assert stall.stalled
    assert stall.seconds(1400.0) == 400.0


def test_nothing_waiting_is_never_a_stall() -> None:
    stall = AckStall(5.0, now=0.0)
    assert not stall.check(100.0, waiting=0)
    assert not stall.stalled


def test_the_clock_starts_when_waiting_begins_not_at_the_last_ack() -> None:
    stall = AckStall(5.0, now=0.0)
    stall.waiting_began(100.0)  # idle for 100 s, then a window goes out
    assert not stall.check(104.0, waiting=3)
    assert stall.check(105.0, waiting=3)


def test_an_acknowledged_event_ends_a_stall_and_restarts_the_clock() -> None:
    stall = AckStall(5.0, now=0.0)
    assert stall.check(6.0, waiting=1)
    assert stall.acknowledged(7.0)
    assert not stall.stalled
    assert not stall.acknowledged(8.0)  # no stall to end
    assert not stall.check(12.0, waiting=1)
    assert stall.check(13.0, waiting=1)


def test_a_zero_limit_never_stalls() -> None:
    stall = AckStall(0.0, now=0.0)
    assert not stall.check(1e9, waiting=1)
