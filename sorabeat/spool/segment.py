"""Segment files: ``<first seq, 20 digits>.seg``, a 24-byte header, then records.

The header names the sequence number of the segment's first record and carries its own
CRC32. A segment only appears under its final name complete with its header (it is written
as ``.tmp``, fsynced, renamed, and the directory fsynced), so a header that does not decode
means damage, not a crash.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from sorabeat.spool.crc import crc32
from sorabeat.spool.record import Damage, ScanResult, ScanState, scan, split_records
from sorabeat.spool.stamp import Stamp

SEGMENT_SUFFIX = ".seg"
TEMP_SUFFIX = ".tmp"
CORRUPT_SUFFIX = ".corrupt"
_NAME = re.compile(r"^(\d{20})\.seg$")
_HEADER = Stamp(b"SBSPOOL\x00", "a sorabeat spool segment")
SEGMENT_HEADER_SIZE = _HEADER.size
READ_CHUNK = 1 << 20


class BadSegmentHeaderError(ValueError):
    """The first bytes of a segment file are not a header this version wrote."""


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


_MAX_SEQ = 2**64 - 1  # sequence numbers are u64 in every header and record


def parse_segment_name(name: str) -> int | None:
    """The first sequence number a segment file name gives, or None for a name this spool
    did not write (twenty digits above the u64 range included: a stray file, set aside
    rather than a header that cannot be rewritten from it)."""
    match = _NAME.match(name)
    if not match:
        return None
    first = int(match.group(1))
    return first if first <= _MAX_SEQ else None


def encode_segment_header(first_seq: int) -> bytes:
    return _HEADER.encode(first_seq)


def decode_segment_header(data: bytes) -> int:
    """The first sequence number the header names. Raises BadSegmentHeaderError."""
    if len(data) < SEGMENT_HEADER_SIZE:
        raise BadSegmentHeaderError(f"only {len(data)} bytes, a header has {SEGMENT_HEADER_SIZE}")
    try:
        return _HEADER.decode(data)
    except ValueError as exc:
        raise BadSegmentHeaderError(f"header: {exc}") from None


def fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_segment(directory: str, first_seq: int) -> tuple[int, str]:
    """Create a segment durably, header included; returns (fd open for appending, path)."""
    path = os.path.join(directory, segment_name(first_seq))
    temp = path + TEMP_SUFFIX
    # O_APPEND: after a failed write is truncated away, the next one lands at the new end
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    try:
        header = encode_segment_header(first_seq)
        if os.write(fd, header) != len(header):
            raise OSError("short write of a spool segment header")
        os.fdatasync(fd)
        os.rename(temp, path)
        fsync_directory(directory)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return fd, path


@dataclass(slots=True)
class VerifiedRead:
    """Records read range by range between CRC checkpoints: ``payloads`` are numbered from
    ``first``, consecutive; ``crc`` is the running CRC at ``offset``; ``mismatch``: the next
    range did not check out (or the file ended early), so it must be scanned record by
    record."""

    first: int
    payloads: list[bytes]
    offset: int
    expected: int
    crc: int
    mismatch: bool


@dataclass(slots=True)
class ReadResult:
    """``scan`` over a byte range of a file, offsets absolute; when the records were read
    range by range (``verified``), they are there, and ``scan`` holds only where it
    stopped."""

    scan: ScanResult
    reached_limit: bool
    verified: VerifiedRead | None = None


def read_records(
    fd: int,
    offset: int,
    limit: int,
    expected: int,
    *,
    floor: int = 0,
    max_records: int = sys.maxsize,
    keep: bool = True,
    chunk: int = READ_CHUNK,
    crc: int | None = None,
    marks: Iterable[tuple[int, int]] = (),
) -> ReadResult:
    """Scan the records of the file between ``offset`` and ``limit`` (blocking).

    Reads ``chunk`` bytes at a time and stops after ``max_records`` records; the result's
    offset is where to continue. Damage is skipped as ``scan`` does, reading as far as it
    must to find the next good record.

    Given the running CRC at ``offset`` (``crc``) and later checkpoints (``marks``, up to
    ``limit``), reads range by range with ``read_verified`` instead, as far as those vouch
    for the records; the next call scans from where that stopped.
    """
    if crc is not None:
        verified = read_verified(
            fd, offset, crc, marks, expected, floor=floor, max_records=max_records
        )
        if verified.offset > offset or verified.mismatch:
            count = len(verified.payloads)
            state: ScanState = "full" if count >= max_records else "end"
            found = ScanResult(state, verified.offset, verified.expected, count=count)
            return ReadResult(found, verified.offset >= limit, verified)
    total = ScanResult("end", offset, expected)
    size = chunk
    while True:
        want = min(size, limit - offset)
        data = os.pread(fd, want, offset) if want > 0 else b""
        final = len(data) < want or offset + len(data) >= limit
        part = scan(
            data,
            0,
            expected,
            final=final,
            floor=floor,
            max_records=max_records - total.count,
            keep=keep,
        )
        total.records.extend(part.records)
        total.count += part.count
        total.lost += part.lost
        total.skipped_bytes += part.skipped_bytes
        total.damage.extend(Damage(offset + d.offset, d.size) for d in part.damage)
        total.gaps.extend(part.gaps)
        total.bad_tail_record = part.bad_tail_record
        expected = part.expected
        if part.state == "more":
            if part.offset == 0:
                size *= 2  # one record or one damaged stretch larger than the chunk
            offset += part.offset
            continue
        offset += part.offset
        size = chunk
        if part.state == "end" and not final:
            continue
        total.state = part.state
        total.offset = offset
        total.expected = expected
        return ReadResult(total, reached_limit=part.state in ("end", "tail"))


def read_verified(
    fd: int,
    offset: int,
    crc: int,
    marks: Iterable[tuple[int, int]],
    expected: int,
    *,
    floor: int = 0,
    max_records: int = sys.maxsize,
) -> VerifiedRead:
    """Read the records from ``offset`` (where the running CRC is ``crc``) checking each
    range up to the next of ``marks`` (later checkpoints, in order) with one CRC pass, then
    cutting its records without a CRC each (blocking). Stops at the end of the range in
    which ``max_records`` were reached (so up to one range more: cutting the rest of a
    range already read and checked costs less than reading and checking it again), at the
    last mark, at a range that does not check out, or at a record out of order: the
    result's offset is a record boundary, from which a scan carries on."""
    payloads: list[bytes] = []
    first = max(expected, floor)
    mismatch = False
    for mark, mark_crc in marks:
        # from the record boundary where the last range stopped: a record cut by that
        # range's end is read again, one copy of it rather than of the whole range
        data = os.pread(fd, mark - offset, offset)
        if len(data) != mark - offset or crc32(data, crc) != mark_crc:
            mismatch = True
            break
        split = split_records(data, 0, expected, floor=floor)
        if not payloads:
            first = split.first
        payloads += split.payloads
        expected = split.expected
        if split.offset:
            # the CRC at the record boundary it stopped at, for the next range to start from
            whole = split.offset == len(data)
            crc = mark_crc if whole else crc32(memoryview(data)[: split.offset], crc)
            offset += split.offset
        if not split.regular or len(payloads) >= max_records:
            break
    return VerifiedRead(first, payloads, offset, expected, crc, mismatch)
