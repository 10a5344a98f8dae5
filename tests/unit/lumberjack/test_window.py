"""libbeat's slow-start window: table tests from its behaviour plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.lumberjack.window import WindowSizer


def grow(sizer: WindowSizer, batch: int, times: int) -> list[int]:
    sizes = []
    for _ in range(times):
        sizes.append(sizer.next_size(batch))
        sizer.succeeded(batch)
    return sizes


def test_without_slow_start_the_window_is_the_batch() -> None:
    sizer = WindowSizer(2048, slow_start=False)
    assert sizer.next_size(5000) == 2048
    assert sizer.next_size(30) == 30
    sizer.failed()
    assert sizer.next_size(5000) == 2048


def test_slow_start_grows_by_half_from_ten() -> None:
    sizer = WindowSizer(2048, slow_start=True)
    assert grow(sizer, 2048, 8) == [10, 15, 23, 35, 53, 80, 120, 180]


def test_growth_stops_at_the_batch_size_then_at_the_maximum() -> None:
    # libbeat's TestGrowWindowSizeUpToBatchSizes / UpToMax
    sizer = WindowSizer(1024, slow_start=True)
    grow(sizer, 114, 30)
    assert sizer.size == 114
    sizer = WindowSizer(64, slow_start=True)
    grow(sizer, 114, 30)
    assert sizer.size == 64


def test_failure_halves_and_recovery_is_fast_up_to_the_last_good_size() -> None:
    sizer = WindowSizer(2048, slow_start=True)
    grow(sizer, 2048, 12)
    best = sizer.max_ok
    assert best > 500
    sizer.failed()
    sizer.failed()
    shrunk = sizer.size
    assert shrunk <= best // 2
    steps = 0
    while sizer.size < best:
        sizer.succeeded(2048)
        steps += 1
    assert sizer.size == best  # capped at the last size that succeeded
    assert steps <= 4


def test_never_below_one() -> None:
    sizer = WindowSizer(2048, slow_start=True)
    for _ in range(50):
        sizer.failed()
    assert sizer.size == 1
    assert sizer.next_size(100) == 1


def test_reset_starts_small_again() -> None:
    sizer = WindowSizer(2048, slow_start=True)
    grow(sizer, 2048, 10)
    sizer.reset()
    assert sizer.size == 10


def test_a_small_batch_does_not_grow_the_window() -> None:
    sizer = WindowSizer(2048, slow_start=True)
    grow(sizer, 2048, 5)
    size = sizer.size
    sizer.succeeded(3)
    assert sizer.size == size


def test_start_is_capped_by_the_maximum() -> None:
    assert WindowSizer(4, slow_start=True).size == 4
    with pytest.raises(ValueError, match="max_size"):
        WindowSizer(0, slow_start=True)


@given(
    st.integers(1, 10000),
    st.lists(st.tuples(st.booleans(), st.integers(1, 10000)), max_size=200),
)
def test_window_stays_within_bounds(maximum: int, steps: list[tuple[bool, int]]) -> None:
    sizer = WindowSizer(maximum, slow_start=True)
    for ok, batch in steps:
        before = sizer.size
        if ok:
            sizer.succeeded(batch)
            assert sizer.size >= before  # success never shrinks
            # nor grows past the batch, except back towards the last size that succeeded
            # (libbeat's fast recovery ignores the batch size)
            assert sizer.size <= max(before, batch, sizer.max_ok)
        else:
            sizer.failed()
            assert sizer.size == max(1, before // 2)
        assert 1 <= sizer.size <= maximum
        assert sizer.max_ok <= maximum
        assert 1 <= sizer.next_size(batch) <= min(maximum, batch)


@given(st.integers(1, 10000))
def test_enough_successes_reach_the_maximum(maximum: int) -> None:
    sizer = WindowSizer(maximum, slow_start=True)
    grow(sizer, maximum, 40)
    assert sizer.size == maximum
