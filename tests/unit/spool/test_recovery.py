"""Opening a spool directory, on files written by hand: what is kept, repaired, set aside."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sorabeat.spool.record import encode_records
from sorabeat.spool.recovery import Recovery, lock_directory, recover
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, encode_segment_header, segment_name
from sorabeat.spool.state import read_state, write_state

SECOND_OPENER = """
import sys
from sorabeat.spool.recovery import SpoolError, recover
try:
    recover(sys.argv[1])
except SpoolError as exc:
    print(exc)
else:
    sys.exit(1)
"""


def write_segment(directory: Path, first: int, payloads: list[bytes], tail: bytes = b"") -> Path:
    path = directory / segment_name(first)
    path.write_bytes(encode_segment_header(first) + encode_records(first, payloads) + tail)
    return path


@pytest.fixture
def opened() -> Iterator[list[Recovery]]:
    """Recoveries to close after the test (they hold the lock and the write descriptor)."""
    held: list[Recovery] = []
    yield held
    for r in held:
        os.close(r.write_fd)
        os.close(r.lock_fd)


def test_an_empty_directory_gets_a_first_segment(tmp_path: Path, opened: list[Recovery]) -> None:
    r = recover(str(tmp_path))
    opened.append(r)
    assert (r.position, r.next_seq, r.notes) == (0, 0, [])
    assert [(s.first, s.size, s.count) for s in r.segments] == [(0, SEGMENT_HEADER_SIZE, 0)]


def test_a_write_cut_short_is_truncated_after_the_last_good_record(
    tmp_path: Path, opened: list[Recovery]
) -> None:
    half = encode_records(2, [b"cut"])[:-3]
    path = write_segment(tmp_path, 0, [b"a", b"b"], tail=half)
    write_state(str(tmp_path), 0)
    r = recover(str(tmp_path))
    opened.append(r)
    good = SEGMENT_HEADER_SIZE + len(encode_records(0, [b"a", b"b"]))
    assert r.truncated_bytes == len(half) and os.path.getsize(path) == good
    assert (r.next_seq, r.segments[-1].count, r.corrupt_events) == (2, 2, 0)


def test_a_missing_state_file_replays_from_the_oldest_segment(
    tmp_path: Path, opened: list[Recovery]
) -> None:
    write_segment(tmp_path, 5, [b"a", b"b"])
    r = recover(str(tmp_path))
    opened.append(r)
    assert (r.position, r.next_seq) == (5, 7)
    assert any("replaying from the oldest segment" in text for _, text in r.notes)
    assert read_state(str(tmp_path)) == 5


def test_segments_below_the_position_are_deleted_and_leftover_temp_files_removed(
    tmp_path: Path, opened: list[Recovery]
) -> None:
    old = write_segment(tmp_path, 0, [b"a", b"b"])
    write_segment(tmp_path, 2, [b"c"])
    write_state(str(tmp_path), 2)
    stray = tmp_path / (segment_name(3) + ".tmp")
    stray.write_bytes(b"half a segment")
    r = recover(str(tmp_path))
    opened.append(r)
    assert not old.exists() and not stray.exists()
    assert [(s.first, s.count) for s in r.segments] == [(2, 1)]


def test_a_segment_without_a_readable_record_is_set_aside(
    tmp_path: Path, opened: list[Recovery]
) -> None:
    write_segment(tmp_path, 0, [b"a"])
    (tmp_path / segment_name(1)).write_bytes(b"\xff" * 64)
    write_segment(tmp_path, 2, [b"c"])
    write_state(str(tmp_path), 0)
    r = recover(str(tmp_path))
    opened.append(r)
    assert r.corrupt_segments == 1
    assert [os.path.basename(p) for p, _ in r.set_aside] == [segment_name(1) + ".corrupt"]
    # event 1 was in the damaged file: counted lost, the rest kept
    assert (r.corrupt_events, r.next_seq) == (1, 3)
    assert [(s.first, s.count) for s in r.segments] == [(0, 1), (2, 1)]


def test_a_second_process_cannot_open_a_locked_directory(tmp_path: Path) -> None:
    fd = lock_directory(str(tmp_path))
    try:
        # POSIX locks are per process: the second opener must be another process
        opener = subprocess.run(
            [sys.executable, "-c", SECOND_OPENER, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(fd)
    assert opener.returncode == 0, opener.stderr
    assert "used by another sorabeat process" in opener.stdout


def test_a_segment_name_beyond_the_u64_range_is_a_stray_file(
    tmp_path: Path, opened: list[Recovery]
) -> None:
    # twenty digits above 2**64-1: no header can be rewritten from that name, so the file is
    # not taken for a segment (recovery used to end in a struct.error traceback)
    write_segment(tmp_path, 0, [b"a", b"b"])
    stray = tmp_path / "99999999999999999999.seg"
    stray.write_bytes(os.urandom(100))
    r = recover(str(tmp_path))
    opened.append(r)
    assert [s.first for s in r.segments] == [0]
    assert r.next_seq == 2
