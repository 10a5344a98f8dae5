"""Reading records between CRC checkpoints: cutting checked bytes without a CRC per record,
and the running CRCs that vouch for them."""

from __future__ import annotations

import os
import zlib
from itertools import pairwise
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sorabeat.spool.checkpoints import CHECKPOINT_SPACING, Checkpoints
from sorabeat.spool.record import HEADER_SIZE, encode_records, record_size, scan, split_records
from sorabeat.spool.seals import crc_of_range
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, create_segment, read_records

payload_lists = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=12)


@given(payload_lists, st.integers(0, 2**40), st.data())
def test_split_cuts_what_scan_reads(payloads: list[bytes], first: int, data: st.DataObject) -> None:
    buf = encode_records(first, payloads)
    floor = data.draw(st.integers(first, first + len(payloads)))
    most = data.draw(st.integers(1, len(payloads) + 1))
    split = split_records(buf, 0, first, floor=floor, max_records=most)
    scanned = scan(buf, 0, first, final=True, floor=floor, max_records=most)
    assert split.regular
    assert [(split.first + i, p) for i, p in enumerate(split.payloads)] == scanned.records
    assert (split.offset, split.expected) == (scanned.offset, scanned.expected)


@given(payload_lists, st.data())
def test_a_record_cut_by_the_end_is_left_for_the_next_read(
    payloads: list[bytes], data: st.DataObject
) -> None:
    buf = encode_records(0, payloads)
    cut = data.draw(st.integers(0, len(buf) - 1))
    split = split_records(buf[:cut], 0, 0)
    assert split.regular
    assert split.payloads == payloads[: len(split.payloads)]
    assert split.offset == sum(record_size(len(p)) for p in split.payloads) <= cut
    assert cut - split.offset < record_size(len(payloads[len(split.payloads)]))


def test_anything_but_consecutive_records_leaves_the_bytes_to_a_scan() -> None:
    good = encode_records(5, [b"a", b"b"])
    for buf, expected in (
        (good + encode_records(8, [b"gap"]), 5),  # a gap: only scan counts what is lost
        (good + encode_records(3, [b"stale"]), 5),
        (good + b"\x00" * HEADER_SIZE, 5),  # not a record
        (good, 4),  # the first record is not the one expected
        (good, 6),
    ):
        split = split_records(buf, 0, expected)
        assert not split.regular
        assert (split.payloads, split.offset, split.expected) == ([], 0, expected)


def test_checkpoints_by_offset() -> None:
    marks = Checkpoints([(100, 1), (200, 2), (150, 9), (300, 3)])  # 150: out of order
    assert len(marks) == 3
    assert (marks.at(200), marks.at(150), marks.at(0)) == (2, None, None)
    assert list(marks.after(100, 300)) == [(200, 2), (300, 3)]
    assert list(marks.after(99, 250)) == [(100, 1), (200, 2)]
    assert list(marks.after(300, 10**9)) == []


def test_crc_of_range_marks_the_running_crc_every_spacing(tmp_path: Path) -> None:
    data = os.urandom(2 * CHECKPOINT_SPACING + 12345)
    path = tmp_path / "f"
    path.write_bytes(b"h" * SEGMENT_HEADER_SIZE + data)
    fd = os.open(path, os.O_RDONLY)
    try:
        marks: list[tuple[int, int]] = []
        crc = crc_of_range(fd, SEGMENT_HEADER_SIZE, SEGMENT_HEADER_SIZE + len(data), 0, marks)
    finally:
        os.close(fd)
    assert crc == zlib.crc32(data)
    assert [offset - SEGMENT_HEADER_SIZE for offset, _ in marks] == [
        CHECKPOINT_SPACING,
        2 * CHECKPOINT_SPACING,
        len(data),
    ]
    for offset, mark in marks:
        assert mark == zlib.crc32(data[: offset - SEGMENT_HEADER_SIZE])


def _checked_segment(tmp_path: Path, payloads: list[bytes]) -> tuple[int, int, Checkpoints]:
    """A segment file, its size and checkpoints every 64 bytes (records straddle them)."""
    fd, _ = create_segment(str(tmp_path), 0)
    os.write(fd, encode_records(0, payloads))
    os.close(fd)
    fd = os.open(tmp_path / "00000000000000000000.seg", os.O_RDWR)
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)[SEGMENT_HEADER_SIZE:]
    ends = [*range(64, len(data), 64), len(data)]
    marks = Checkpoints([(SEGMENT_HEADER_SIZE + e, zlib.crc32(data[:e])) for e in ends])
    return fd, size, marks


def _read_all(
    fd: int, size: int, marks: Checkpoints, *, most: int = 3
) -> tuple[list[bytes], int, int]:
    """Read like the spool's reader; returns the payloads, how many reads were checked
    range by range, and how many reads there were."""
    offset, expected, crc = SEGMENT_HEADER_SIZE, 0, 0
    out: list[bytes] = []
    checked = 0
    for reads in range(1000):
        if offset >= size:
            return out, checked, reads
        got = read_records(
            fd, offset, size, expected, max_records=most, crc=crc, marks=marks.after(offset, size)
        )
        if got.verified is not None:
            checked += 1
            out += got.verified.payloads
            crc = None if got.verified.mismatch else got.verified.crc
        else:
            out += [p for _, p in got.scan.records]
            crc = marks.at(got.scan.offset)
        offset = size if got.scan.state == "tail" else got.scan.offset
        expected = got.scan.expected
    raise AssertionError("never reached the end")


def test_checked_ranges_give_every_record_without_a_scan(tmp_path: Path) -> None:
    payloads = [bytes([65 + i % 26]) * (i * 7 % 90) for i in range(40)]
    fd, size, marks = _checked_segment(tmp_path, payloads)
    try:
        got, checked, reads = _read_all(fd, size, marks)
    finally:
        os.close(fd)
    assert got == payloads
    assert checked == reads > 1  # every read went range by range


def test_bytes_damaged_after_the_checkpoints_are_scanned_and_the_record_skipped(
    tmp_path: Path,
) -> None:
    payloads = [b"event %02d " % i + b"x" * 30 for i in range(40)]
    fd, size, marks = _checked_segment(tmp_path, payloads)
    try:
        damaged = 17
        at = SEGMENT_HEADER_SIZE + damaged * record_size(len(payloads[0])) + HEADER_SIZE + 3
        os.pwrite(fd, b"?", at)  # one payload byte, after its checkpoints were taken
        got, _, _ = _read_all(fd, size, marks)
    finally:
        os.close(fd)
    # the damaged record's bytes are never handed out; every other record is
    assert got == payloads[:damaged] + payloads[damaged + 1 :]


def test_marks_of_small_groups_are_thinned_to_one_per_spacing() -> None:
    marks = Checkpoints()
    step = CHECKPOINT_SPACING // 4
    for n in range(1, 13):  # groups of a quarter of the spacing
        marks.mark(n * step, n)
    # every mark is kept exactly where it was made until the next one moves it forward
    assert marks.at(12 * step) == 12
    offsets = [offset for offset, _ in marks.after(0, 10**12)]
    assert all(b - a >= CHECKPOINT_SPACING for a, b in pairwise(offsets[:-1]))
    assert len(offsets) <= 12 * step // CHECKPOINT_SPACING + 2
