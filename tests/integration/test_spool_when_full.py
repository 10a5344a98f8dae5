"""queue.spool.when_full with a tiny max_size: what each policy keeps, what it drops
(counted, every drop logged at once with its count), and block making the input wait for acknowledgements."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from sorabeat.monitoring.registry import Registry
from sorabeat.spool import disk as disk_module
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.segment import segment_name
from sorabeat.spool.settings import WhenFull
from tests.spool_support import WAIT, event, get, read_backlog, segment_bytes, tiny

MAX_SIZE = 4096
SEGMENT_SIZE = 1024  # two appends of 4 events of 100 bytes each per segment


async def open_full(directory: str, when_full: WhenFull) -> tuple[DiskSpool, Registry]:
    metrics = Registry()
    spool = await DiskSpool.open(
        directory, tiny(segment_size=SEGMENT_SIZE, max_size=MAX_SIZE, when_full=when_full), metrics
    )
    return spool, metrics


def batches(count: int) -> list[list[bytes]]:
    return [[event(i * 4 + k, 100) for k in range(4)] for i in range(count)]


def full_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is full" in r.getMessage()]


def logged_drops(caplog: pytest.LogCaptureFixture) -> int:
    """The events the "is full" lines say were dropped: every drop is logged when it
    happens (a count held back for a later line would be lost to a SIGKILL)."""
    return sum(int(m.split("dropped ")[1].split()[0]) for m in full_warnings(caplog))


async def test_drop_oldest_keeps_the_newest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = str(tmp_path / "spool")
    spool, metrics = await open_full(directory, "drop_oldest")
    appended = []
    for batch in batches(30):
        # the new events are always stored: older ones make room
        assert await spool.append(batch) == len(batch)
        appended.extend(batch)
        assert segment_bytes(directory) <= MAX_SIZE
    kept = await read_backlog(spool)
    dropped = metrics.counter("spool.events.dropped", reason="full")
    assert dropped > 0 and dropped + len(kept) == len(appended)
    assert kept == appended[len(appended) - len(kept) :]  # the newest, in order
    assert metrics.counter("spool.events.appended") == len(appended)
    assert len(full_warnings(caplog)) > 1  # one line per drop, none held back
    assert all("oldest" in m for m in full_warnings(caplog))
    assert logged_drops(caplog) == dropped
    await spool.close()
    again, _ = await open_full(directory, "drop_oldest")
    assert await read_backlog(again) == kept  # dropped events do not come back
    await again.close()


async def test_drop_newest_refuses_new_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = str(tmp_path / "spool")
    spool, metrics = await open_full(directory, "drop_newest")
    appended = []
    stored = 0
    for batch in batches(30):
        stored += await spool.append(batch)
        appended.extend(batch)
        assert segment_bytes(directory) <= MAX_SIZE
    kept = await read_backlog(spool)
    dropped = metrics.counter("spool.events.dropped", reason="full")
    assert dropped > 0 and dropped + len(kept) == len(appended)
    assert stored == len(kept)  # append says how many of its events it stored
    assert kept == appended[: len(kept)]  # the oldest, in order
    assert all("newest" in m for m in full_warnings(caplog))
    assert logged_drops(caplog) == dropped
    await spool.close()


async def test_block_waits_until_acknowledgements_free_space(tmp_path: Path) -> None:
    directory = str(tmp_path / "spool")
    spool, metrics = await open_full(directory, "block")
    appended: list[bytes] = []

    async def produce() -> None:
        for batch in batches(30):
            await spool.append(batch)
            appended.extend(batch)
            assert segment_bytes(directory) <= MAX_SIZE

    producer = asyncio.ensure_future(produce())
    await asyncio.sleep(0.2)
    assert not producer.done()  # blocked: nobody acknowledges
    stalled = len(appended)
    assert 0 < stalled < 120
    received: list[bytes] = []
    while len(received) < 120:
        batch = await get(spool, 7)
        received.extend(batch.events)
        spool.ack(batch, len(batch.events))
    await asyncio.wait_for(producer, WAIT)
    assert received == appended == [e for b in batches(30) for e in b]
    assert metrics.total("spool.events.dropped") == 0
    await spool.close()


async def test_block_gives_up_on_close(tmp_path: Path) -> None:
    directory = str(tmp_path / "spool")
    spool, metrics = await open_full(directory, "block")
    producer = asyncio.ensure_future(asyncio.gather(*(spool.append(b) for b in batches(30))))
    await asyncio.sleep(0.1)
    assert not producer.done()
    await spool.close()
    await asyncio.wait_for(producer, WAIT)
    stored = metrics.counter("spool.events.appended")
    assert stored + metrics.counter("spool.events.dropped", reason="closed") == 120
    again, _ = await open_full(directory, "block")
    assert len(await read_backlog(again)) == stored
    await again.close()


async def test_dropping_the_oldest_segment_while_its_events_are_being_sent(
    tmp_path: Path,
) -> None:
    directory = str(tmp_path / "spool")
    spool, metrics = await open_full(directory, "drop_oldest")
    await spool.append(batches(1)[0])
    sending = await get(spool, 4)  # the output holds these, unacknowledged
    for batch in batches(30)[1:]:
        await spool.append(batch)
    # they are still counted until the output is done with them
    unread_dropped = metrics.counter("spool.events.dropped", reason="full")
    assert spool.pending() == 120 - unread_dropped
    spool.ack(sending, 4)
    kept = await read_backlog(spool, ack=True)
    assert kept == [e for b in batches(30) for e in b][-len(kept) :]
    assert spool.pending() == 0
    await spool.close()
    again, _ = await open_full(directory, "drop_oldest")
    assert again.pending() == 0
    await again.close()


@pytest.mark.parametrize("when_full", ["drop_oldest", "drop_newest", "block"])
async def test_an_event_larger_than_max_size_is_dropped(
    tmp_path: Path, when_full: WhenFull, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    spool, metrics = await open_full(str(tmp_path / "spool"), when_full)
    huge = event(99, MAX_SIZE + 1)
    await asyncio.wait_for(spool.append([event(1), huge, event(2)]), WAIT)
    assert metrics.counter("spool.events.dropped", reason="too_large") == 1
    assert await read_backlog(spool) == [event(1), event(2)]
    assert any("larger than queue.spool.max_size" in r.getMessage() for r in caplog.records)
    await spool.close()


@pytest.mark.parametrize("when_full", ["drop_oldest", "drop_newest"])
async def test_concurrent_appends_stay_within_max_size(tmp_path: Path, when_full: WhenFull) -> None:
    directory = str(tmp_path / "spool")
    spool, metrics = await open_full(directory, when_full)
    await asyncio.gather(*(spool.append(b) for b in batches(30)))
    assert segment_bytes(directory) <= MAX_SIZE
    kept = await read_backlog(spool)
    assert metrics.counter("spool.events.dropped", reason="full") + len(kept) == 120
    everything = [e for b in batches(30) for e in b]
    assert kept == [e for e in everything if e in set(kept)]  # in append order
    await spool.close()


@pytest.mark.parametrize("when_full", ["drop_oldest", "drop_newest", "block"])
async def test_set_aside_files_count_toward_max_size_and_go_first(
    tmp_path: Path, when_full: WhenFull, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    older = directory / (segment_name(5) + ".corrupt")
    newer = directory / (segment_name(5) + ".corrupt.1")
    older.write_bytes(b"x" * 1800)
    newer.write_bytes(b"y" * 1800)
    spool, metrics = await open_full(str(directory), when_full)
    assert metrics.gauge("spool.bytes") == segment_bytes(str(directory)) + 3600
    await asyncio.wait_for(spool.append(batches(1)[0]), WAIT)
    assert not older.exists() and newer.exists()  # only as much room as needed, oldest first
    for batch in batches(8)[1:]:
        await asyncio.wait_for(spool.append(batch), WAIT)
        if not newer.exists():
            break
    assert not newer.exists()
    assert metrics.counter("spool.corrupt.deleted") == 2
    assert metrics.total("spool.events.dropped") == 0  # they went before any event
    assert any(str(older) in r.getMessage() for r in caplog.records)
    await spool.close()


async def test_a_blocked_append_waits_until_freed_segments_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # acknowledged segments count as freed only once their unlink returned: a slow unlink
    # (a busy disk) must not let a blocked append write while they are still on disk
    real_unlink_all = disk_module._unlink_all

    def slow_unlink_all(paths: list[str]) -> None:
        time.sleep(0.2)
        real_unlink_all(paths)

    monkeypatch.setattr(disk_module, "_unlink_all", slow_unlink_all)
    directory = str(tmp_path / "spool")
    spool, metrics = await open_full(directory, "block")
    peak = 0

    async def produce() -> None:
        nonlocal peak
        for batch in batches(30):
            await spool.append(batch)
            peak = max(peak, segment_bytes(directory))

    producer = asyncio.ensure_future(produce())
    received: list[bytes] = []
    while len(received) < 120:
        batch = await get(spool, 7)
        received.extend(batch.events)
        spool.ack(batch, len(batch.events))
    await asyncio.wait_for(producer, WAIT)
    assert received == [e for b in batches(30) for e in b]
    assert peak <= MAX_SIZE
    assert metrics.total("spool.events.dropped") == 0
    await spool.close()
