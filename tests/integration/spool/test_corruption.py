"""Damaged spool files: each is repaired or set aside on open, counted and logged once,
the rest replayed, and the spool keeps working. Opening never fails and never hangs."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
from pathlib import Path

import pytest

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.record import HEADER_SIZE, MAGIC
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, segment_name
from sorabeat.spool.state import STATE_NAME, STATE_TEMP, read_state, write_state
from tests.spool_support import WAIT, event, read_backlog, read_events, segment_paths, tiny

SETTINGS = tiny(segment_size=1100)  # 24 events in 4 segments: 0-5, 6-11, 12-17, 18-23
EVENTS = [event(i, 150) for i in range(24)]


async def build(directory: str) -> None:
    spool = await DiskSpool.open(directory, SETTINGS, Registry())
    for i in range(0, 24, 3):
        await spool.append(EVENTS[i : i + 3])
    await spool.close()
    assert [os.path.basename(p) for p in segment_paths(directory)] == [
        segment_name(n) for n in (0, 6, 12, 18)
    ]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = str(tmp_path_factory.mktemp("pristine") / "spool")
    asyncio.run(build(directory))
    return directory


@pytest.fixture
def spool_dir(pristine: str, tmp_path: Path) -> str:
    directory = str(tmp_path / "spool")
    shutil.copytree(pristine, directory)
    return directory


def seg(directory: str, first: int) -> str:
    return os.path.join(directory, segment_name(first))


def records(path: str) -> list[tuple[int, int]]:
    """(start, end) of each record of a segment file, read from the documented layout."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    offset = SEGMENT_HEADER_SIZE
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset + 6)
        out.append((offset, offset + HEADER_SIZE + length))
        offset = out[-1][1]
    return out


def flip(path: str, offset: int, mask: int = 0x5A) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ mask]))


async def reopen(directory: str) -> tuple[DiskSpool, Registry, list[bytes]]:
    metrics = Registry()
    spool = await asyncio.wait_for(DiskSpool.open(directory, SETTINGS, metrics), WAIT)
    counted = metrics.total("spool.events.corrupt")
    replay = await read_backlog(spool)
    # damage was counted on open: reading over it again does not count it again
    assert metrics.total("spool.events.corrupt") == counted
    assert metrics.total("spool.events.dropped") == 0
    return spool, metrics, replay


async def still_works(spool: DiskSpool, directory: str, before: list[bytes]) -> None:
    """New appends land after the replayed events and survive a restart."""
    fresh = [event(1000 + i, 150) for i in range(4)]
    await spool.append(fresh)
    await spool.close()
    again = await asyncio.wait_for(DiskSpool.open(directory, SETTINGS, Registry()), WAIT)
    assert await read_backlog(again) == before + fresh
    await again.close()


def spool_warnings(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sorabeat.spool" and r.levelno >= logging.WARNING and words in r.getMessage()
    ]


async def test_pristine_replays_everything(spool_dir: str) -> None:
    spool, metrics, replay = await reopen(spool_dir)
    assert replay == EVENTS
    assert metrics.total("spool.events.corrupt") == metrics.total("spool.bytes.truncated") == 0
    await spool.close()


async def test_a_torn_last_record_is_truncated_at_every_offset(
    pristine: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start, end = records(seg(pristine, 18))[-1]
    for cut in range(start + 1, end):
        directory = str(tmp_path / f"cut{cut}")
        shutil.copytree(pristine, directory)
        os.truncate(seg(directory, 18), cut)
        caplog.clear()
        spool, metrics, replay = await reopen(directory)
        assert replay == EVENTS[:-1], cut
        assert metrics.total("spool.events.corrupt") == 0, cut  # never durable: not a loss
        assert metrics.counter("spool.bytes.truncated") == cut - start
        assert os.path.getsize(seg(directory, 18)) == start
        assert len(spool_warnings(caplog, "truncated")) == 1
        if cut % 16 == 0 or cut in (start + 1, end - 1):
            await still_works(spool, directory, EVENTS[:-1])
        else:
            await spool.close()
        shutil.rmtree(directory)


@pytest.mark.parametrize("first", [6, 18])  # a middle segment and the one being written
async def test_a_flipped_byte_in_a_record_loses_that_record_only(
    pristine: str, tmp_path: Path, first: int, caplog: pytest.LogCaptureFixture
) -> None:
    start, end = records(seg(pristine, first))[1]  # the segment's second record
    victim = first + 1
    for offset in range(start, end):
        directory = str(tmp_path / f"flip{offset}")
        shutil.copytree(pristine, directory)
        flip(seg(directory, first), offset)
        caplog.clear()
        spool, metrics, replay = await reopen(directory)
        assert replay == EVENTS[:victim] + EVENTS[victim + 1 :], offset
        assert metrics.counter("spool.events.corrupt") == 1, offset
        assert len(spool_warnings(caplog, "1 events lost")) == 1
        await spool.close()
        shutil.rmtree(directory)


async def test_a_flipped_byte_in_the_last_record_removes_it(pristine: str, tmp_path: Path) -> None:
    start, end = records(seg(pristine, 18))[-1]
    for offset in range(start, end):
        directory = str(tmp_path / f"flip{offset}")
        shutil.copytree(pristine, directory)
        flip(seg(directory, 18), offset)
        spool, metrics, replay = await reopen(directory)
        assert replay == EVENTS[:-1], offset
        # a whole record with a bad checksum counts as lost; one whose length was hit
        # cannot be told from a write cut short
        assert metrics.counter("spool.events.corrupt") <= 1
        assert os.path.getsize(seg(directory, 18)) == start
        if offset % 16 == 0:
            await still_works(spool, directory, EVENTS[:-1])
        else:
            await spool.close()
        shutil.rmtree(directory)


@pytest.mark.parametrize("keep_header", [False, True])
async def test_a_garbage_segment_is_set_aside(
    spool_dir: str, keep_header: bool, caplog: pytest.LogCaptureFixture
) -> None:
    path = seg(spool_dir, 6)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        if keep_header:
            f.seek(SEGMENT_HEADER_SIZE)
        f.write(os.urandom(size - f.tell()))
    spool, metrics, replay = await reopen(spool_dir)
    assert replay == EVENTS[:6] + EVENTS[12:]
    assert metrics.counter("spool.segments.corrupt") == 1
    assert metrics.counter("spool.events.corrupt") == 6
    assert os.path.exists(path + ".corrupt") and not os.path.exists(path)
    assert len(spool_warnings(caplog, path)) == 1
    assert len(spool_warnings(caplog, "6 lost")) == 1
    await still_works(spool, spool_dir, EVENTS[:6] + EVENTS[12:])


@pytest.mark.parametrize("first", [0, 6, 18])  # the oldest, a middle one, the one written
async def test_a_zeroed_header_costs_only_the_header(
    spool_dir: str, first: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = seg(spool_dir, first)
    with open(path, "r+b") as f:
        f.write(bytes(SEGMENT_HEADER_SIZE))
    spool, metrics, replay = await reopen(spool_dir)
    assert replay == EVENTS  # its records carry their own numbers and checksums
    assert metrics.counter("spool.segments.corrupt") == 0
    assert metrics.counter("spool.events.corrupt") == 0
    assert metrics.counter("spool.segments.repaired") == 1
    assert not os.path.exists(path + ".corrupt")
    assert len(spool_warnings(caplog, "bad header")) == 1
    await still_works(spool, spool_dir, EVENTS)


@pytest.mark.parametrize("first", [0, 6, 18])
async def test_any_flipped_header_byte_costs_only_the_header(
    pristine: str, tmp_path: Path, first: int
) -> None:
    for offset in range(SEGMENT_HEADER_SIZE):
        directory = str(tmp_path / f"flip{offset}")
        shutil.copytree(pristine, directory)
        flip(seg(directory, first), offset)
        spool, metrics, replay = await reopen(directory)
        assert replay == EVENTS, offset
        assert metrics.total("spool.events.corrupt") == 0, offset
        assert metrics.counter("spool.segments.repaired") == 1, offset
        await spool.close()
        # the header was rewritten: a second open finds nothing to repair
        spool, metrics, replay = await reopen(directory)
        assert replay == EVENTS and metrics.counter("spool.segments.repaired") == 0
        await spool.close()
        shutil.rmtree(directory)


async def test_a_header_and_the_first_record_damaged_lose_that_record_only(
    spool_dir: str,
) -> None:
    path = seg(spool_dir, 6)
    start, _ = records(path)[0]
    for offset in (3, SEGMENT_HEADER_SIZE - 1, start + HEADER_SIZE + 5):
        flip(path, offset)
    spool, metrics, replay = await reopen(spool_dir)
    assert replay == EVENTS[:6] + EVENTS[7:]
    assert metrics.counter("spool.events.corrupt") == 1
    assert metrics.counter("spool.segments.repaired") == 1
    await still_works(spool, spool_dir, EVENTS[:6] + EVENTS[7:])


async def test_missing_state_replays_from_the_oldest_segment(
    spool_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    spool = await DiskSpool.open(spool_dir, SETTINGS, Registry())
    await read_events(spool, 8, ack=True)  # frees segment 0
    await spool.close()
    assert read_state(spool_dir) == 8 and not os.path.exists(seg(spool_dir, 0))
    os.unlink(os.path.join(spool_dir, STATE_NAME))
    spool, metrics, replay = await reopen(spool_dir)
    assert replay == EVENTS[6:]  # 6 and 7 again: duplicates, no loss
    assert metrics.total("spool.events.corrupt") == 0
    assert len(spool_warnings(caplog, "missing: replaying from the oldest segment")) == 1
    await still_works(spool, spool_dir, EVENTS[6:])


async def test_a_damaged_state_file_replays_from_the_oldest_segment(
    spool_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    with open(os.path.join(spool_dir, STATE_NAME), "wb") as f:
        f.write(b"garbage!")
    spool, _, replay = await reopen(spool_dir)
    assert replay == EVENTS
    assert len(spool_warnings(caplog, "unreadable")) == 1
    assert read_state(spool_dir) == 0  # repaired
    await still_works(spool, spool_dir, EVENTS)


async def test_a_position_past_the_end_is_clamped(
    spool_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    write_state(spool_dir, 1000)
    spool, _, replay = await reopen(spool_dir)
    assert replay == [] and spool.position == 24 and spool.next_seq == 24
    assert len(spool_warnings(caplog, "past the last stored event")) == 1
    await still_works(spool, spool_dir, [])


async def test_a_position_in_a_deleted_segment_is_clamped(
    spool_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    # as when drop_oldest deleted segment 0 and the process died before saving the position
    write_state(spool_dir, 3)
    os.unlink(seg(spool_dir, 0))
    spool, metrics, replay = await reopen(spool_dir)
    assert replay == EVENTS[6:] and spool.position == 6
    assert metrics.total("spool.events.corrupt") == 0  # deleted, not damaged
    assert len(spool_warnings(caplog, "are no longer on disk (3 lost)")) == 1
    await still_works(spool, spool_dir, EVENTS[6:])


async def test_leftover_temporary_files_are_removed(
    spool_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sorabeat.spool")
    leftovers = [STATE_TEMP, segment_name(24) + ".tmp"]
    for name in leftovers:
        with open(os.path.join(spool_dir, name), "wb") as f:
            f.write(b"half written")
    spool, _, replay = await reopen(spool_dir)
    assert replay == EVENTS
    assert not any(os.path.exists(os.path.join(spool_dir, n)) for n in leftovers)
    assert len([r for r in caplog.records if "interrupted write" in r.getMessage()]) == 2
    await still_works(spool, spool_dir, EVENTS)


async def test_a_segment_full_of_record_magic_does_not_stall_recovery(spool_dir: str) -> None:
    path = seg(spool_dir, 6)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(SEGMENT_HEADER_SIZE)
        # every candidate record start claims a length running far past the end
        f.write(MAGIC * ((size - f.tell()) // 2))
    spool, metrics, replay = await reopen(spool_dir)
    assert replay == EVENTS[:6] + EVENTS[12:]
    assert metrics.counter("spool.events.corrupt") == 6
    await spool.close()


async def test_unknown_files_are_left_alone(spool_dir: str) -> None:
    other = os.path.join(spool_dir, "README")
    with open(other, "w") as f:
        f.write("operator notes")
    spool, _, replay = await reopen(spool_dir)
    assert replay == EVENTS
    await spool.close()
    assert os.path.exists(other)
