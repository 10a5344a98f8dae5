"""The segment writer on its own: group commit, segment rolls, refusals after a failure.

Groups are written through ``_write_group`` directly (the thread only feeds it), on real
segment files, and read back with the spool's own scanner.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.spool import writer as writer_module
from sorabeat.spool.crc import crc32
from sorabeat.spool.record import encode_records, frame_records
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, create_segment, read_records, segment_name
from sorabeat.spool.writer import GroupOutcome, SegmentWriter, WriteRequest, _windows


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def request(loop: asyncio.AbstractEventLoop, first: int, *payloads: bytes) -> WriteRequest:
    parts = frame_records(first, payloads)
    return WriteRequest(first, payloads, parts, sum(map(len, parts)), loop.create_future())


def writer(directory: Path, segment_size: int = 1 << 20, first: int = 0) -> SegmentWriter:
    fd, _ = create_segment(str(directory), first)
    return SegmentWriter(
        str(directory),
        fd,
        first,
        SEGMENT_HEADER_SIZE,
        first,
        0,  # the CRC of an empty segment's records
        segment_size,
        100,
        0.0,
        lambda _: None,
    )


def stored(path: Path, first: int) -> list[tuple[int, bytes]]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_records(fd, SEGMENT_HEADER_SIZE, os.fstat(fd).st_size, first).scan.records
    finally:
        os.close(fd)


def test_a_group_is_written_with_one_fdatasync_and_read_back_in_order(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    w = writer(tmp_path)
    group = [request(loop, 0, b"a", b"b"), request(loop, 2, b"c")]
    outcome = w._write_group(group)
    assert outcome.failure is None and outcome.fsyncs == 1 and outcome.next_seq == 3
    assert [r.error for r in group] == [None, None]
    assert (group[0].start, group[1].end) == (SEGMENT_HEADER_SIZE, outcome.sizes[0])
    assert stored(tmp_path / segment_name(0), 0) == [(0, b"a"), (1, b"b"), (2, b"c")]


def test_a_full_segment_rolls_to_one_named_by_its_first_event(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    big = b"x" * 100
    w = writer(tmp_path, segment_size=SEGMENT_HEADER_SIZE + len(encode_records(0, [big])) + 10)
    group = [request(loop, 0, big), request(loop, 1, big)]
    outcome = w._write_group(group)
    assert outcome.failure is None and outcome.next_seq == 2
    assert [first for first, _ in outcome.new_segments] == [1]
    assert (group[0].segment, group[1].segment) == (0, 1)
    assert stored(tmp_path / segment_name(0), 0) == [(0, big)]
    assert stored(tmp_path / segment_name(1), 1) == [(1, big)]


def test_a_request_that_does_not_follow_the_last_record_is_refused(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    w = writer(tmp_path)
    group = [request(loop, 0, b"a"), request(loop, 5, b"far"), request(loop, 1, b"b")]
    outcome = w._write_group(group)
    assert group[1].error is not None and group[0].error is None and group[2].error is None
    assert outcome.next_seq == 2
    assert stored(tmp_path / segment_name(0), 0) == [(0, b"a"), (1, b"b")]


def test_a_failed_write_fails_its_group_and_refuses_what_was_numbered_after_it(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    w = writer(tmp_path)
    assert w._write_group([request(loop, 0, b"kept")]).failure is None
    # a descriptor that cannot be written: the write fails as a full disk would
    path = tmp_path / segment_name(0)
    os.close(w._fd)
    w._fd = os.open(path, os.O_RDONLY)
    failed = [request(loop, 1, b"lost")]
    outcome = w._write_group(failed)
    assert isinstance(outcome.failure, OSError) and failed[0].error is outcome.failure
    assert outcome.next_seq == 1  # numbering resumes at the last durable record
    later = request(loop, 2, b"numbered past the failure")
    assert w._write_group([later]).next_seq == 1 and later.error is outcome.failure
    os.close(w._fd)
    assert stored(path, 0) == [(0, b"kept")]


def test_the_thread_reports_each_group_then_none_when_stopped(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    reports: list[GroupOutcome | None] = []
    done = threading.Event()

    def report(outcome: GroupOutcome | None) -> None:
        reports.append(outcome)
        if outcome is None:
            done.set()

    fd, _ = create_segment(str(tmp_path), 0)
    w = SegmentWriter(str(tmp_path), fd, 0, SEGMENT_HEADER_SIZE, 0, 0, 1 << 20, 100, 0.0, report)
    w.submit(request(loop, 0, b"a"))
    w.start()
    w.stop()
    assert done.wait(10)
    w.join(10)
    assert reports[-1] is None
    outcomes = [r for r in reports if r is not None]
    assert sum(len(o.requests) for o in outcomes) == 1 and outcomes[-1].next_seq == 1
    assert stored(tmp_path / segment_name(0), 0) == [(0, b"a")]


def plain_request(first: int, payloads: list[bytes]) -> WriteRequest:
    """A request for ``_windows`` alone (its future is never used)."""
    parts = frame_records(first, payloads)
    return WriteRequest(first, payloads, parts, sum(map(len, parts)), None)  # type: ignore[arg-type]


@given(
    st.lists(st.lists(st.binary(max_size=700), min_size=1, max_size=20), min_size=1, max_size=6),
    st.integers(min_value=64, max_value=4096),
)
def test_windows_hold_the_records_bytes_in_order_and_stay_near_the_window_size(
    batches: list[list[bytes]], window: int
) -> None:
    run = []
    first = 0
    for payloads in batches:
        run.append(plain_request(first, payloads))
        first += len(payloads)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writer_module, "WINDOW", window)
        windows = list(_windows(run))
    assert b"".join(windows) == encode_records(0, [p for b in batches for p in b])
    longest_piece = max(len(part) for r in run for part in r.parts)
    # a window is cut between pieces: it passes the size by less than its mean piece
    assert all(len(w) <= window + longest_piece * 2 for w in windows)
    assert all(windows)


def test_a_request_larger_than_a_window_is_written_in_windows_and_sealed_by_its_crc(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "WINDOW", 4096)
    writes: list[int] = []
    real_write = os.write

    def counted_write(fd: int, data: bytes) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    w = writer(tmp_path)
    monkeypatch.setattr(writer_module.os, "write", counted_write)
    payloads = [bytes([i % 251]) * (i * 7 % 300) for i in range(200)]
    outcome = w._write_group([request(loop, 0, *payloads)])
    assert outcome.failure is None and outcome.fsyncs == 1
    records = encode_records(0, payloads)
    assert len(writes) > 5 and sum(writes) == len(records)
    assert outcome.crcs[0] == crc32(records)
    assert stored(tmp_path / segment_name(0), 0) == list(enumerate(payloads))


def run_thread(
    directory: Path, requests: list[WriteRequest], monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, object]]:
    """Run the writer thread over ``requests``, one per group (all queued before it starts),
    and return what happened in order: ("write", bytes), ("fsync", durable size) and
    ("report", first seqs of the group)."""
    trace: list[tuple[str, object]] = []
    done = threading.Event()
    real_write, real_fdatasync = os.write, os.fdatasync

    def write(fd: int, data: bytes) -> int:
        trace.append(("write", len(data)))
        return real_write(fd, data)

    def fdatasync(fd: int) -> None:
        real_fdatasync(fd)
        trace.append(("fsync", os.fstat(fd).st_size))

    def report(outcome: GroupOutcome | None) -> None:
        if outcome is None:
            done.set()
        else:
            trace.append(("report", [r.first for r in outcome.requests]))

    fd, _ = create_segment(str(directory), 0)
    monkeypatch.setattr(writer_module.os, "write", write)
    monkeypatch.setattr(writer_module.os, "fdatasync", fdatasync)
    w = SegmentWriter(str(directory), fd, 0, SEGMENT_HEADER_SIZE, 0, 0, 1 << 20, 1, 0.0, report)
    for r in requests:
        w.submit(r)
    w.stop()
    w.start()
    assert done.wait(10)
    w.join(10)
    return trace


def test_a_report_held_for_the_next_group_is_sent_after_its_own_fsync_and_before_the_next(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [request(loop, i, b"event %d" % i) for i in range(3)]
    trace = run_thread(tmp_path, requests, monkeypatch)
    kinds = [kind for kind, _ in trace]
    # each group's report waits until the next group is written and about to be synced
    assert kinds == ["write", "fsync", "write", "report", "fsync", "write", "report", "fsync",
                     "report"]  # fmt: skip
    assert [value for kind, value in trace if kind == "report"] == [[0], [1], [2]]
    for index, (kind, value) in enumerate(trace):
        if kind == "report":
            assert isinstance(value, list)
            (first,) = value
            durable = [size for k, size in trace[:index] if k == "fsync"][-1]
            assert durable >= requests[first].end  # reported only once durable
    assert stored(tmp_path / segment_name(0), 0) == [(i, b"event %d" % i) for i in range(3)]


def test_a_held_report_is_sent_when_the_next_group_writes_nothing(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [request(loop, 0, b"kept"), request(loop, 7, b"refused: not numbered next")]
    trace = run_thread(tmp_path, requests, monkeypatch)
    assert [kind for kind, _ in trace] == ["write", "fsync", "report", "report"]
    assert requests[0].error is None and requests[1].error is not None


def test_a_held_report_does_not_wait_for_a_large_next_group_to_be_written(
    tmp_path: Path, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "HOLD_BYTES", 1000)
    requests = [request(loop, 0, b"small"), request(loop, 1, b"x" * 2000)]
    trace = run_thread(tmp_path, requests, monkeypatch)
    assert [kind for kind, _ in trace] == ["write", "fsync", "report", "write", "fsync", "report"]


def test_no_report_is_held_when_groups_linger(
    tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    """With flush.timeout, the next group may wait that long for company: the report of
    the one before must not wait with it."""
    reports: list[tuple[float, list[int]]] = []
    done = threading.Event()

    def report(outcome: GroupOutcome | None) -> None:
        if outcome is None:
            done.set()
        else:
            reports.append((time.monotonic(), [r.first for r in outcome.requests]))

    fd, _ = create_segment(str(tmp_path), 0)
    linger = 0.5
    w = SegmentWriter(str(tmp_path), fd, 0, SEGMENT_HEADER_SIZE, 0, 0, 1 << 20, 2, linger, report)
    for i in range(3):  # two fill the first group; the third lingers for a second event
        w.submit(request(loop, i, b"event"))
    w.start()
    time.sleep(linger / 2)
    w.stop()  # ends the linger of the third, as a next append would
    assert done.wait(10)
    w.join(10)
    assert [firsts for _, firsts in reports] == [[0, 1], [2]]
    # the first group's report was sent before the second group's linger began
    assert reports[1][0] - reports[0][0] >= linger / 5
