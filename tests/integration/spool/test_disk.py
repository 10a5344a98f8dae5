"""The disk spool on real files: order, acknowledgements, durability, group commit,
segments, shutdown and its metrics."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sorabeat.monitoring.registry import Registry
from sorabeat.spool import writer as writer_module
from sorabeat.spool.disk import DiskSpool, SpoolError
from sorabeat.spool.reader import READ_AHEAD, REFILL_BELOW
from sorabeat.spool.state import read_state
from tests.spool_support import (
    WAIT,
    event,
    get,
    open_spool,
    read_backlog,
    read_events,
    segment_bytes,
    segment_paths,
    tiny,
)


@pytest.fixture
def spool_dir(tmp_path: Path) -> str:
    return str(tmp_path / "spool")


async def test_fifo_and_out_of_order_acks_persist_only_the_contiguous_prefix(
    spool_dir: str,
) -> None:
    spool = await open_spool(spool_dir)
    events = [event(i) for i in range(30)]
    await spool.append(events)
    b1, b2, b3 = [await get(spool, 10) for _ in range(3)]
    assert [b.first for b in (b1, b2, b3)] == [0, 10, 20]
    assert b1.events + b2.events + b3.events == events
    spool.ack(b3, 10)
    spool.ack(b2, 10)
    assert spool.position == 0 and spool.pending() == 10
    spool.ack(b1, 4)
    assert spool.position == 4 and spool.pending() == 6
    await spool.flush()
    assert read_state(spool_dir) == 4
    await spool.close()

    again = await open_spool(spool_dir)
    # the acknowledged prefix is gone; 10..29 come back: acknowledged out of order after 4
    assert again.pending() == 26
    assert await read_backlog(again) == events[4:]
    await again.close()


async def test_close_persists_the_position_and_reopen_replays_the_rest(spool_dir: str) -> None:
    spool = await open_spool(spool_dir)
    await spool.append([event(i) for i in range(50)])
    batch = await get(spool, 20)
    spool.ack(batch, 20)
    await spool.close()  # no flush: close must persist
    again = await open_spool(spool_dir)
    assert again.position == 20 and again.pending() == 30
    assert await read_backlog(again, ack=True) == [event(i) for i in range(20, 50)]
    await again.close()
    third = await open_spool(spool_dir)
    assert third.pending() == 0
    await third.close()


async def test_payloads_come_back_byte_for_byte(spool_dir: str) -> None:
    # any bytes, including the record magic and headers that look valid
    from sorabeat.spool.record import MAGIC, encode_records

    payloads = [os.urandom(n) for n in (0, 1, 17, 500, 4000)]
    payloads += [MAGIC * 40, encode_records(1, [b"inner"]), b"\x00" * 300]
    spool = await open_spool(spool_dir)
    await spool.append(payloads)
    await spool.close()
    again = await open_spool(spool_dir)
    assert await read_backlog(again) == payloads
    await again.close()


def _spy_fdatasync(
    monkeypatch: pytest.MonkeyPatch, delay: float = 0.0
) -> tuple[list[int], list[float]]:
    """Replace the writer's fdatasync: record the size each call made durable."""
    durable: list[int] = []
    calls: list[float] = []
    real = os.fdatasync

    def slow_fdatasync(fd: int) -> None:
        calls.append(time.monotonic())
        time.sleep(delay)
        real(fd)
        durable.append(os.fstat(fd).st_size)

    monkeypatch.setattr(writer_module.os, "fdatasync", slow_fdatasync)
    return durable, calls


async def test_append_returns_only_after_its_records_are_fsynced(
    spool_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = await open_spool(spool_dir, tiny(segment_size=1 << 20))
    durable, _ = _spy_fdatasync(monkeypatch, delay=0.05)
    for i in range(3):
        await spool.append([event(i * 10 + k) for k in range(10)])
        size = os.path.getsize(segment_paths(spool_dir)[-1])
        assert durable and durable[-1] == size  # the fsync covering them was done
    await spool.close()


async def test_concurrent_appends_share_one_fsync(
    spool_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = Registry()
    spool = await open_spool(spool_dir, tiny(segment_size=1 << 20), metrics)
    _, calls = _spy_fdatasync(monkeypatch, delay=0.1)
    await asyncio.gather(*(spool.append([event(i * 5 + k) for k in range(5)]) for i in range(20)))
    # the first append is written alone; the 19 that arrive during its fsync share the next
    assert len(calls) <= 3
    assert metrics.counter("spool.fsync.count") == len(calls)
    assert metrics.counter("spool.events.appended") == 100
    assert metrics.counter("spool.fsync.seconds") > 0
    assert metrics.gauge("spool.fsync.latency_ms") > 0
    await spool.close()
    again = await open_spool(spool_dir)
    assert await read_backlog(again) == [event(i) for i in range(100)]
    await again.close()


async def test_flush_events_ends_the_linger(
    spool_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a linger far longer than the test waits: only reaching flush.events can end it
    spool = await open_spool(spool_dir, tiny(flush_timeout=600, flush_events=10))
    _, calls = _spy_fdatasync(monkeypatch)
    await asyncio.wait_for(
        asyncio.gather(
            spool.append([event(i) for i in range(5)]),
            spool.append([event(i) for i in range(5, 10)]),
        ),
        WAIT,
    )
    assert len(calls) == 1  # both appends, one fsync
    await asyncio.wait_for(spool.append([event(i) for i in range(10, 25)]), WAIT)
    assert len(calls) == 2
    await spool.close()


async def test_pending_after_open_reports_the_backlog(spool_dir: str) -> None:
    spool = await open_spool(spool_dir)
    for i in range(4):  # an append never spans segments; these are 1200 bytes each
        await spool.append([event(i * 10 + k) for k in range(10)])
    await spool.close()
    metrics = Registry()
    again = await open_spool(spool_dir, metrics=metrics)
    assert again.pending() == 40
    assert metrics.gauge("spool.events.pending") == 40
    assert metrics.gauge("spool.bytes") == segment_bytes(spool_dir)
    assert metrics.gauge("spool.segments") == len(segment_paths(spool_dir)) > 1
    await again.close()


async def test_acknowledged_segments_are_deleted_after_the_position_is_saved(
    spool_dir: str,
) -> None:
    metrics = Registry()
    spool = await open_spool(spool_dir, tiny(segment_size=2048), metrics)
    for i in range(10):
        await spool.append([event(i * 10 + k, 200) for k in range(10)])
    assert len(segment_paths(spool_dir)) >= 8
    events = await read_events(spool, 100, ack=True)
    assert events == [event(i, 200) for i in range(100)]
    await spool.flush()
    assert read_state(spool_dir) == 100
    assert len(segment_paths(spool_dir)) == 1  # only the one being written remains
    assert metrics.gauge("spool.bytes") == segment_bytes(spool_dir)
    assert metrics.gauge("spool.segments") == 1
    assert metrics.counter("spool.events.acked") == 100
    assert metrics.counter("spool.state.writes") >= 1
    await spool.close()


async def test_get_waits_for_an_append(spool_dir: str) -> None:
    spool = await open_spool(spool_dir)
    waiting = asyncio.ensure_future(spool.get(10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await spool.append([event(1)])
    batch = await asyncio.wait_for(waiting, WAIT)
    assert batch is not None and batch.events == [event(1)]
    await spool.close()


async def test_close_wakes_get_and_refuses_appends(spool_dir: str) -> None:
    metrics = Registry()
    spool = await open_spool(spool_dir, metrics=metrics)
    waiting = asyncio.ensure_future(spool.get(10))
    await asyncio.sleep(0.01)
    await spool.close()
    assert await asyncio.wait_for(waiting, WAIT) is None
    assert await spool.get(10) is None
    await spool.append([event(1), event(2)])
    assert metrics.counter("spool.events.dropped", reason="closed") == 2
    await spool.close()  # twice is harmless


async def test_wait_drained(spool_dir: str) -> None:
    spool = await open_spool(spool_dir)
    await spool.append([event(i) for i in range(5)])
    drained = asyncio.ensure_future(spool.wait_drained())
    batch = await get(spool)
    await asyncio.sleep(0.01)
    assert not drained.done()
    spool.ack(batch, 5)
    await asyncio.wait_for(drained, WAIT)
    await spool.close()


async def test_ack_beyond_batch_is_a_bug(spool_dir: str) -> None:
    spool = await open_spool(spool_dir)
    await spool.append([event(1)])
    batch = await get(spool)
    with pytest.raises(ValueError, match="ack of 2 events"):
        spool.ack(batch, 2)
    await spool.close()


async def test_replay_and_new_appends_keep_their_order(spool_dir: str) -> None:
    spool = await open_spool(spool_dir, tiny(segment_size=2048))
    await spool.append([event(i) for i in range(30)])
    await spool.close()
    again = await open_spool(spool_dir, tiny(segment_size=2048))
    await again.append([event(i) for i in range(30, 60)])
    assert await read_backlog(again) == [event(i) for i in range(60)]
    await again.close()


_SECOND_OPEN = """
import asyncio, sys
from sorabeat.monitoring.registry import Registry
from sorabeat.spool.disk import DiskSpool, SpoolError
from sorabeat.spool.reader import READ_AHEAD, REFILL_BELOW
from sorabeat.spool.settings import SpoolSettings
async def main():
    try:
        await DiskSpool.open(sys.argv[1], SpoolSettings(), Registry())
    except SpoolError as exc:
        print(exc)
        sys.exit(3)
asyncio.run(main())
"""


async def test_another_process_cannot_use_an_open_spool(spool_dir: str) -> None:
    spool = await open_spool(spool_dir)
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", _SECOND_OPEN, spool_dir],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert "used by another sorabeat process" in proc.stdout
    await spool.close()
    # released on close
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", _SECOND_OPEN, spool_dir],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


async def test_an_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="cannot use the spool directory"):
        await DiskSpool.open(str(blocker / "spool"), tiny(), Registry())


async def test_polling_continues_during_a_slow_fsync(
    spool_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = await open_spool(spool_dir)
    release = threading.Event()
    real = os.fdatasync

    def stuck_fdatasync(fd: int) -> None:
        release.wait(WAIT)
        real(fd)

    monkeypatch.setattr(writer_module.os, "fdatasync", stuck_fdatasync)
    appending = asyncio.ensure_future(spool.append([event(1)]))
    ticks = 0
    for _ in range(20):  # the event loop keeps running while the fsync blocks
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20 and not appending.done()
    release.set()
    await asyncio.wait_for(appending, WAIT)
    await spool.close()


async def test_a_position_that_cannot_be_saved_is_retried(
    spool_dir: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # injected at the file layer: on a real full disk the tiny state file often still fits
    from sorabeat.spool import disk as disk_module

    real = disk_module.write_state
    failures = [0]

    def no_space(directory: str, position: int) -> None:
        failures[0] += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    spool = await open_spool(spool_dir)
    await spool.append([event(i) for i in range(10)])
    monkeypatch.setattr(disk_module, "write_state", no_space)
    await read_events(spool, 10, ack=True)
    for _ in range(200):
        if failures[0]:
            break
        await asyncio.sleep(0.01)
    assert failures[0] and read_state(spool_dir) == 0
    assert any("cannot save the spool position" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(disk_module, "write_state", real)
    await asyncio.wait_for(spool.flush(), WAIT)
    assert read_state(spool_dir) == 10
    await spool.close()


async def test_a_get_cancelled_during_a_read_then_close(spool_dir: str) -> None:
    spool = await open_spool(spool_dir, tiny(segment_size=1 << 20))
    for i in range(20):
        await spool.append([event(i * 500 + k, 300) for k in range(500)])
    await spool.close()
    again = await open_spool(spool_dir, tiny(segment_size=1 << 20))  # reads come from disk
    for _ in range(5):  # cancel at different points of the read
        getting = asyncio.ensure_future(again.get(100))
        await asyncio.sleep(0)
        getting.cancel()
        await asyncio.gather(getting, return_exceptions=True)
    await again.close()
    third = await open_spool(spool_dir)
    assert await read_backlog(third) == [event(i, 300) for i in range(10_000)]
    await third.close()


async def test_events_larger_than_a_read_or_a_segment(spool_dir: str) -> None:
    settings = tiny(segment_size=1 << 20, max_size=64 << 20)
    spool = await open_spool(spool_dir, settings)
    big = [event(1, 3 << 20), event(2, 100), event(3, (1 << 20) + 5)]  # past the 1MiB chunk
    for e in big:
        await spool.append([e])
    await spool.close()
    again = await open_spool(spool_dir, settings)
    assert await read_backlog(again) == big
    await again.close()


async def test_a_segment_that_cannot_be_read_is_skipped_and_counted(
    spool_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # EIO injected at the file layer: no test file system fails reads on demand
    from sorabeat.spool import reader as reader_module

    settings = tiny(segment_size=2048)
    spool = await open_spool(spool_dir, settings)
    for i in range(3):  # three segments of 10 events
        await spool.append([event(i * 10 + k, 150) for k in range(10)])
    await spool.close()
    metrics = Registry()
    again = await open_spool(spool_dir, settings, metrics)
    real = reader_module.read_records
    calls = [0]

    def failing_once(fd: int, offset: int, *args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == 2:  # the second segment
            raise OSError(errno.EIO, "Input/output error")
        return real(fd, offset, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_module, "read_records", failing_once)
    got = await read_events(again, 20, ack=True)
    assert got == [event(i, 150) for i in [*range(10), *range(20, 30)]]
    assert metrics.counter("spool.events.dropped", reason="read_error") == 10
    assert again.pending() == 0
    await again.close()


async def test_events_are_read_ahead_while_the_output_sends(spool_dir: str) -> None:
    """A get that leaves few events buffered starts reading the next ones, so the following
    get finds a full read-ahead instead of waiting on the disk."""
    total = 5 * READ_AHEAD
    spool = await open_spool(spool_dir, tiny(segment_size=1 << 20))
    await spool.append([event(i) for i in range(total)])
    await spool.close()

    again = await open_spool(spool_dir, tiny(segment_size=1 << 20))
    taken: list[bytes] = []
    for _ in range(total // 100):
        taken += (await get(again, 100)).events
        if again._read_ahead_task is not None:
            break  # fewer than REFILL_BELOW were left: the read-ahead started
    assert again._read_ahead_task is not None, "no read-ahead started"
    for _ in range(int(WAIT * 100)):
        if again._read_ahead_task is None:
            break
        await asyncio.sleep(0.01)
    assert again._read_ahead_task is None, "the read-ahead never finished"
    # one get now takes a whole READ_AHEAD: the refill read it while nothing asked
    third = await get(again, total)
    assert len(third.events) >= READ_AHEAD > REFILL_BELOW
    taken += third.events
    assert taken == [event(i) for i in range(len(taken))]
    await again.close()


async def test_close_while_reading_ahead_loses_nothing(spool_dir: str) -> None:
    total = 3 * READ_AHEAD
    spool = await open_spool(spool_dir, tiny(segment_size=1 << 20))
    await spool.append([event(i) for i in range(total)])
    await spool.close()

    again = await open_spool(spool_dir, tiny(segment_size=1 << 20))
    batch = await get(again, READ_AHEAD - REFILL_BELOW + 1)  # starts a read-ahead
    again.ack(batch, len(batch.events))
    await again.close()  # with the read-ahead under way or done
    third = await open_spool(spool_dir, tiny(segment_size=1 << 20))
    assert await read_backlog(third) == [event(i) for i in range(len(batch.events), total)]
    await third.close()
