"""A full disk, for real: the spool lives on a tiny tmpfs (tests run as root). Appends
that cannot be stored are counted as dropped and logged, nothing half-written is left,
the spool reopens, and it resumes by itself once space is freed."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.state import read_state
from tests.integration.tiny_fs import fill
from tests.spool_support import event, read_backlog, read_events, segment_bytes, tiny

SETTINGS = tiny(segment_size=16 * 1024, max_size=64 * 1024 * 1024)  # when_full never kicks in


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
