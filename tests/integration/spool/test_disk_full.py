"""A full disk, for real: the spool lives on a tiny tmpfs (tests run as root). Appends
that cannot be stored are counted as dropped and logged, nothing half-written is left,
the spool reopens, and it resumes by itself once space is freed."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path

import pytest

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, segment_name
from sorabeat.spool.settings import WhenFull
from sorabeat.spool.state import read_state
from tests.integration.tiny_fs import fill
from tests.spool_support import event, read_backlog, read_events, segment_bytes, tiny

# when_full never kicks in (max_size), and drop_newest stores what fits on a full disk
SETTINGS = tiny(segment_size=16 * 1024, max_size=64 * 1024 * 1024, when_full="drop_newest")


async def test_a_full_disk_drops_counts_and_recovers(
    tiny_fs: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sorabeat.spool")
    directory = os.path.join(tiny_fs, "spool")
    metrics = Registry()
    spool = await DiskSpool.open(directory, SETTINGS, metrics)
    filler = os.path.join(tiny_fs, "filler")
    fill(filler, leave=40 * 1024)  # room for a few appends, then ENOSPC

    stored: list[bytes] = []
    n = 0
    for _ in range(40):  # rolls to new segments fail too; each append is all or nothing
        batch = [event(n + k, 900) for k in range(10)]
        n += 10
        before = metrics.counter("spool.events.appended")
        await spool.append(batch)
        if metrics.counter("spool.events.appended") > before:
            stored.extend(batch)
    dropped = metrics.counter("spool.events.dropped", reason="disk_full")
    assert dropped > 0 and stored and dropped + len(stored) == n
    lines = [r.getMessage() for r in caplog.records if "no space left" in r.getMessage()]
    assert lines and directory in lines[0] and "dropped" in lines[0]

    # consistent while full: what was stored reads back, acknowledging works
    assert spool.pending() == len(stored)
    got = await read_events(spool, len(stored) // 2, ack=True)
    assert got == stored[: len(got)]

    os.unlink(filler)  # space comes back
    fresh = [event(n + k, 900) for k in range(10)]
    before = metrics.counter("spool.events.appended")
    await spool.append(fresh)
    assert metrics.counter("spool.events.appended") == before + 10
    await spool.flush()
    assert read_state(directory) == spool.position == len(got)
    rest = await read_backlog(spool)
    assert rest == stored[len(got) :] + fresh
    assert metrics.gauge("spool.bytes") == segment_bytes(directory)
    await spool.close()

    # the failed writes left no gap or stray bytes: a clean reopen
    caplog.clear()
    reopened = Registry()
    again = await DiskSpool.open(directory, SETTINGS, reopened)
    assert await read_backlog(again) == rest
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    await again.close()


async def test_a_spool_left_on_a_full_disk_reopens_intact(tiny_fs: str) -> None:
    directory = os.path.join(tiny_fs, "spool")
    spool = await DiskSpool.open(directory, SETTINGS, Registry())
    filler = os.path.join(tiny_fs, "filler")
    fill(filler, leave=40 * 1024)  # room for a few appends, then ENOSPC
    stored: list[bytes] = []
    appended = 0
    for i in range(30):
        batch = [event(i * 10 + k, 900) for k in range(10)]
        await spool.append(batch)
        if spool.metrics.counter("spool.events.appended") > appended:
            appended = int(spool.metrics.counter("spool.events.appended"))
            stored.extend(batch)
    assert spool.metrics.gauge("spool.bytes") == segment_bytes(directory)
    await spool.close()

    metrics = Registry()
    again = await DiskSpool.open(directory, SETTINGS, metrics)  # still full
    assert await read_backlog(again) == stored
    # no half record was left behind for recovery to cut or skip
    assert metrics.total("spool.bytes.truncated") == 0
    assert metrics.total("spool.events.corrupt") == 0
    await again.close()
    os.unlink(filler)


async def test_a_disk_filled_by_the_spool_itself_is_freed_once_events_are_acknowledged(
    tiny_fs: str,
) -> None:
    """Nothing else to delete: the spool's own acknowledged segments must go even though the
    position file cannot be written first, else the disk stays full and every restart
    replays the whole acknowledged backlog."""
    directory = os.path.join(tiny_fs, "spool")
    metrics = Registry()
    spool = await DiskSpool.open(directory, SETTINGS, metrics)
    n = 0
    while metrics.counter("spool.events.dropped", reason="disk_full") == 0 and n < 10_000:
        await spool.append([event(n, 300)])
        n += 1
    stored = int(metrics.counter("spool.events.appended"))
    assert 0 < stored < n  # the disk did fill up
    await read_backlog(spool, ack=True)  # the output comes back and acknowledges everything
    for _ in range(200):  # the position is saved in the background
        if spool.persisted_position == stored:
            break
        await asyncio.sleep(0.05)
    assert spool.persisted_position == stored
    before = metrics.counter("spool.events.appended")
    await spool.append([event(n, 300)])
    assert metrics.counter("spool.events.appended") == before + 1  # space came back
    await spool.close()
    reopened = await DiskSpool.open(directory, SETTINGS, Registry())
    assert reopened.pending() == 1  # only the new event: nothing acknowledged is replayed
    await reopened.close()


OLDEST = tiny(segment_size=16 * 1024, max_size=64 * 1024 * 1024, when_full="drop_oldest")


def spool_files(directory: str) -> list[str]:
    return [n for n in os.listdir(directory) if n not in ("lock", "state")]


async def test_a_full_disk_under_drop_oldest_deletes_the_oldest_segments(
    tiny_fs: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sorabeat.spool")
    directory = os.path.join(tiny_fs, "spool")
    metrics = Registry()
    spool = await DiskSpool.open(directory, OLDEST, metrics)
    fill(os.path.join(tiny_fs, "filler"), leave=80 * 1024)  # about four segments fit
    appended: list[bytes] = []
    most_files = 0
    for i in range(60):
        batch = [event(i * 10 + k, 900) for k in range(10)]
        await spool.append(batch)
        appended.extend(batch)
        most_files = max(most_files, len(spool_files(directory)))
    # every append was stored: room came from the oldest segments, never from the newest
    assert metrics.counter("spool.events.appended") == len(appended)
    dropped = metrics.counter("spool.events.dropped", reason="disk_full")
    assert dropped > 0
    assert most_files <= 80 * 1024 // (9 * 1024) + 2  # a segment holds one batch of 9KB
    kept = await read_backlog(spool)
    assert len(kept) + dropped == len(appended)
    assert kept == appended[len(appended) - len(kept) :]  # the newest, in order, no hole
    lines = [
        r.getMessage() for r in caplog.records if "deleted its oldest segment" in r.getMessage()
    ]
    assert lines and directory in lines[0]
    await spool.close()
    again = await DiskSpool.open(directory, OLDEST, Registry())
    assert await read_backlog(again) == kept
    await again.close()


@pytest.mark.parametrize("when_full", ["drop_oldest", "drop_newest", "block"])
async def test_a_disk_that_stays_full_never_makes_a_file_per_append(
    tiny_fs: str, when_full: WhenFull
) -> None:
    directory = os.path.join(tiny_fs, "spool")
    settings = tiny(segment_size=16 * 1024, max_size=64 * 1024 * 1024, when_full=when_full)
    metrics = Registry()
    spool = await DiskSpool.open(directory, settings, metrics)
    await spool.append([event(k, 900) for k in range(10)])
    fill(os.path.join(tiny_fs, "filler"), leave=0)  # full for good
    before = spool_files(directory)
    for i in range(1, 40):
        await asyncio.wait_for(spool.append([event(i * 10 + k, 5000) for k in range(1)]), 10)
        assert len(spool_files(directory)) <= len(before) + 1, spool_files(directory)
    assert metrics.counter("spool.events.dropped", reason="disk_full") > 0
    await spool.close()


async def test_set_aside_files_go_first_when_the_disk_is_full(tiny_fs: str) -> None:
    directory = os.path.join(tiny_fs, "spool")
    os.makedirs(directory)
    for name in (segment_name(900) + ".corrupt", segment_name(100) + ".corrupt"):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(os.urandom(24 * 1024))
    metrics = Registry()
    spool = await DiskSpool.open(directory, OLDEST, metrics)
    fill(os.path.join(tiny_fs, "filler"), leave=8 * 1024)
    await spool.append([event(k, 900) for k in range(20)])  # needs more than is left
    assert metrics.counter("spool.events.appended") == 20
    assert metrics.total("spool.events.dropped") == 0
    assert metrics.counter("spool.corrupt.deleted") >= 1
    # the oldest (lowest sequence number) went first
    assert not os.path.exists(os.path.join(directory, segment_name(100) + ".corrupt"))
    await spool.close()


@pytest.mark.parametrize("when_full", ["drop_oldest", "drop_newest"])
async def test_failing_fsync_and_truncate_never_make_a_file_per_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when_full: WhenFull
) -> None:
    """As on a filesystem with delayed allocation: the write is accepted, its fsync fails
    with ENOSPC and so does cutting it back. Injected at the OS boundary (os.fdatasync,
    os.ftruncate): a tmpfs fails the write itself and cannot show this."""
    directory = str(tmp_path / "spool")
    settings = tiny(segment_size=16 * 1024, max_size=64 * 1024 * 1024, when_full=when_full)
    metrics = Registry()
    spool = await DiskSpool.open(directory, settings, metrics)
    await spool.append([event(k, 900) for k in range(10)])
    real_fdatasync = os.fdatasync

    def fdatasync(fd: int) -> None:
        if os.fstat(fd).st_size > SEGMENT_HEADER_SIZE:  # segment headers still get through
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fdatasync(fd)

    def ftruncate(fd: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "ftruncate", ftruncate)
    before = len(spool_files(directory))
    for i in range(1, 30):
        await asyncio.wait_for(spool.append([event(i * 10, 5000)]), 10)
    assert len(spool_files(directory)) <= before + 1, spool_files(directory)
    assert metrics.counter("spool.events.dropped", reason="disk_full") > 0
    monkeypatch.undo()
    await spool.close()
