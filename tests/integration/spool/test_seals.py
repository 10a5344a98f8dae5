"""Seals: a closed spool reopens by checking one CRC per segment instead of scanning each
record, and a seal that no longer matches its file only costs that shortcut."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.monitoring.registry import Registry
from sorabeat.spool import recovery as recovery_module
from sorabeat.spool.record import HEADER_SIZE, record_size
from sorabeat.spool.seals import (
    SEALS_NAME,
    SEALS_TEMP,
    Seal,
    crc_of_range,
    decode_seals,
    encode_seals,
    read_seals,
)
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, ReadResult, parse_segment_name
from tests.spool_support import event, open_spool, read_backlog, read_events, segment_paths, tiny

SETTINGS = tiny(segment_size=2000)
EVENTS = [event(i, 150) for i in range(40)]

seals_strategy = st.lists(
    st.builds(
        Seal,
        st.integers(0, 2**64 - 1),
        st.integers(0, 2**64 - 1),
        st.integers(0, 2**64 - 1),
        st.integers(0, 2**32 - 1),
    ),
    max_size=20,
)


@given(seals_strategy)
def test_seals_round_trip(seals: list[Seal]) -> None:
    assert decode_seals(encode_seals(seals)) == {s.first: s for s in seals}


@given(seals_strategy, st.data())
def test_any_damaged_or_cut_seals_file_is_ignored(seals: list[Seal], data: st.DataObject) -> None:
    good = encode_seals(seals)
    damaged = bytearray(good)
    where = data.draw(st.integers(0, len(damaged) - 1))
    damaged[where] ^= data.draw(st.integers(1, 255))
    assert decode_seals(bytes(damaged)) == {}
    assert decode_seals(good[: data.draw(st.integers(0, len(good) - 1))]) == {}


async def fill(directory: str) -> None:
    spool = await open_spool(directory, SETTINGS)
    for i in range(0, len(EVENTS), 4):
        await spool.append(EVENTS[i : i + 4])
    await spool.close()


def scanned_from(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """Record (segment, start offset, end) of every per-record scan recovery makes."""
    calls: list[tuple[str, int, int]] = []
    real = recovery_module.read_records

    def spy(fd: int, offset: int, limit: int, *args: object, **kwargs: object) -> ReadResult:
        calls.append((os.readlink(f"/proc/self/fd/{fd}"), offset, limit))
        return real(fd, offset, limit, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(recovery_module, "read_records", spy)
    return calls


async def test_a_clean_close_seals_every_segment_with_the_crc_of_its_records(
    tmp_path: Path,
) -> None:
    directory = str(tmp_path / "spool")
    await fill(directory)
    seals = read_seals(directory)
    paths = segment_paths(directory)
    assert len(paths) > 2
    assert sorted(seals) == [parse_segment_name(os.path.basename(p)) for p in paths]
    for path in paths:
        seal = seals[parse_segment_name(os.path.basename(path))]  # type: ignore[index]
        assert seal.size == os.path.getsize(path)
        fd = os.open(path, os.O_RDONLY)
        try:
            assert crc_of_range(fd, SEGMENT_HEADER_SIZE, seal.size) == seal.crc
        finally:
            os.close(fd)
    assert [s.end for s in sorted(seals.values())][-1] == len(EVENTS)


async def test_sealed_segments_are_not_scanned_and_replay_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = str(tmp_path / "spool")
    await fill(directory)
    calls = scanned_from(monkeypatch)
    spool = await open_spool(directory, SETTINGS)
    # every scan starts at the end of its sealed prefix: nothing is left to scan
    assert calls and all(start == limit for _, start, limit in calls), calls
    assert spool.pending() == len(EVENTS)
    assert await read_backlog(spool) == EVENTS
    await spool.close()


async def test_a_position_inside_a_sealed_segment_counts_only_what_is_left(
    tmp_path: Path,
) -> None:
    directory = str(tmp_path / "spool")
    await fill(directory)
    spool = await open_spool(directory, SETTINGS)
    await read_events(spool, 7, ack=True)
    await spool.close()
    again = await open_spool(directory, SETTINGS)
    assert again.pending() == len(EVENTS) - 7
    assert await read_backlog(again) == EVENTS[7:]
    await again.close()


@pytest.mark.parametrize("damage", ["garbage", "stale", "missing"])
async def test_a_bad_stale_or_missing_seals_file_costs_only_time(
    tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = str(tmp_path / "spool")
    await fill(directory)
    path = os.path.join(directory, SEALS_NAME)
    if damage == "garbage":
        with open(path, "wb") as f:
            f.write(b"\x00" * 100)
    elif damage == "stale":  # seals that claim other bytes than the files hold
        stale = [s._replace(crc=s.crc ^ 1) for s in read_seals(directory).values()]
        with open(path, "wb") as f:
            f.write(encode_seals(stale))
    else:
        os.unlink(path)
    calls = scanned_from(monkeypatch)
    metrics = Registry()
    spool = await open_spool(directory, SETTINGS, metrics)
    assert all(start == SEGMENT_HEADER_SIZE for _, start, _ in calls), calls  # full scans
    assert await read_backlog(spool) == EVENTS
    assert metrics.total("spool.events.corrupt") == 0
    await spool.close()


async def test_after_a_crash_only_what_follows_the_seal_is_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = str(tmp_path / "spool")
    await fill(directory)
    spool = await open_spool(directory, SETTINGS)
    more = [event(100 + i, 150) for i in range(3)]
    await spool.append(more)
    await spool.abandon()  # as kill -9: the seals still describe the earlier end
    with open(os.path.join(directory, SEALS_TEMP), "wb") as f:
        f.write(b"half")  # and a seals write cut short
    calls = scanned_from(monkeypatch)
    again = await open_spool(directory, SETTINGS)
    last = segment_paths(directory)[-1]
    scanned = [(start, limit) for path, start, limit in calls if start < limit]
    assert len(scanned) == 1 and calls[-1][0] == last and scanned[0][0] > SEGMENT_HEADER_SIZE
    assert await read_backlog(again) == EVENTS + more
    assert not os.path.exists(os.path.join(directory, SEALS_TEMP))
    await again.close()


def replay_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the offset of every per-record scan the spool's reader makes."""
    from sorabeat.spool import segment as segment_module

    calls: list[int] = []
    real = segment_module.scan

    def spy(buf: bytes, offset: int, *args: object, **kwargs: object) -> object:
        calls.append(offset)
        return real(buf, offset, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(segment_module, "scan", spy)
    return calls


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "scanned-clean"])
async def test_a_reopened_clean_spool_is_replayed_range_by_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sealed: bool
) -> None:
    directory = str(tmp_path / "spool")
    await fill(directory)
    if not sealed:  # as after a crash: recovery scans each record, then takes checkpoints
        os.unlink(os.path.join(directory, SEALS_NAME))
    spool = await open_spool(directory, SETTINGS)
    scans = replay_scans(monkeypatch)
    assert await read_backlog(spool) == EVENTS
    await spool.close()
    assert scans == []  # no record was checked on its own: its range's CRC vouched for it


async def test_a_record_damaged_after_opening_is_never_handed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = str(tmp_path / "spool")
    await fill(directory)
    spool = await open_spool(directory, SETTINGS)  # checkpoints taken from the good bytes
    damaged = 3
    first = segment_paths(directory)[0]
    with open(first, "r+b") as f:
        f.seek(SEGMENT_HEADER_SIZE + damaged * record_size(len(EVENTS[0])) + HEADER_SIZE + 40)
        f.write(b"#")
    scans = replay_scans(monkeypatch)
    got = await read_events(spool, len(EVENTS) - 1, ack=False)
    assert got == EVENTS[:damaged] + EVENTS[damaged + 1 :]
    assert scans, "the range holding the damage was scanned record by record"
    await spool.close()


async def test_events_written_in_this_run_are_replayed_range_by_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage: the output takes nothing while the spool fills, so the reader stops
    buffering from memory; what it reads back from disk later is checked with the writer's
    running CRC, not record by record."""
    from sorabeat.spool.reader import READ_AHEAD

    directory = str(tmp_path / "spool")
    spool = await open_spool(directory, tiny(segment_size=4 << 20))
    events = [event(i, 300) for i in range(3 * READ_AHEAD)]
    for i in range(0, len(events), 100):
        await spool.append(events[i : i + 100])
    scans = replay_scans(monkeypatch)
    assert await read_events(spool, len(events), ack=True) == events
    assert scans == []
    await spool.close()
