"""Record framing of spool segments (pure: no I/O).

A record holds one encoded event, byte for byte as the output sends it::

    magic (2) | crc32 (4) | length (4) | seq (8) | payload (length)

little-endian, the CRC32 (zlib/IEEE) covering length, seq and payload. ``seq`` is the
event's spool position: consecutive, never reused for a durable event, so a gap between two
good records counts exactly the events lost in the bytes between them. The magic bytes can
never occur in UTF-8 text (events are JSON), which makes looking for the next record after
damaged bytes cheap.

After damaged bytes, the scanner resynchronises on the next record that passes its CRC and
is numbered as expected or later. Payloads are opaque bytes, so a damaged record's payload
may hold bytes that frame a valid record of their own. A candidate numbered past the
expected one is confirmed when the next record (numbered one more) or the end of the data
follows it; an unconfirmed candidate gives way to a later confirmed one that does not
number past it (real records are numbered in file order, so that one is a forgery).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Literal

from sorabeat.spool.crc import crc32 as _crc32

MAGIC = b"\xfe\xed"
HEADER = struct.Struct("<2sIIQ")
HEADER_SIZE = HEADER.size
_LENGTH_SEQ = struct.Struct("<IQ")
_LENGTH = struct.Struct("<I")
_LENGTH_AT = 6  # offset of the length in the header
_CRC_FROM = 6  # the CRC covers the header from the length on, then the payload
MAX_PAYLOAD = 2**32 - 1

ScanState = Literal["end", "full", "more", "tail"]


def record_size(payload_length: int) -> int:
    return HEADER_SIZE + payload_length


def frame_records(first_seq: int, payloads: Sequence[bytes]) -> list[bytes]:
    """The records of ``payloads`` numbered from ``first_seq``, as header, payload, header,
    payload... pieces: written with writev, the payloads are never copied into one buffer
    (a poll of 10,000 connections is ~40 MB)."""
    # one C-level pass per field instead of a Python loop: this runs for every event
    lengths = list(map(len, payloads))
    seqs = range(first_seq, first_seq + len(payloads))
    header_crcs = map(_crc32, map(_LENGTH_SEQ.pack, lengths, seqs))
    crcs = map(_crc32, payloads, header_crcs)
    parts: list[bytes] = [b""] * (2 * len(payloads))
    parts[0::2] = map(HEADER.pack, repeat(MAGIC), crcs, lengths, seqs)
    parts[1::2] = payloads
    return parts


def encode_records(first_seq: int, payloads: Sequence[bytes]) -> bytes:
    """Frame ``payloads`` as consecutive records numbered from ``first_seq``."""
    return b"".join(frame_records(first_seq, payloads))


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes skipped because no record could be read there (offsets as the scan's)."""

    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Sequence numbers (at or past the floor) that no good record carries."""

    first: int
    count: int


@dataclass(slots=True)
class ScanResult:
    """What ``scan`` found from its start offset.

    ``state`` says why it stopped: ``end`` (the buffer is consumed), ``full`` (max_records
    records emitted), ``more`` (not final and the next record may continue past the buffer:
    scan again with more bytes from ``offset``), ``tail`` (final, and nothing readable from
    ``offset`` to the end: a torn write or garbage).
    """

    state: ScanState
    offset: int
    expected: int
    records: list[tuple[int, bytes]] = field(default_factory=list)
    count: int = 0
    lost: int = 0
    skipped_bytes: int = 0
    bad_tail_record: bool = False
    damage: list[Damage] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


_MORE = -1


def _missing(expected: int, seq: int, floor: int) -> int:
    return max(0, seq - max(expected, floor))


def scan(
    buf: bytes,
    offset: int,
    expected: int,
    *,
    final: bool,
    floor: int = 0,
    max_records: int = sys.maxsize,
    keep: bool = True,
) -> ScanResult:
    """Walk the records of ``buf`` from ``offset``, expecting sequence number ``expected``.

    Records numbered below ``floor`` (already acknowledged) are walked over, not emitted.
    Damaged bytes (bad magic, bad CRC, a length running past the end) are skipped up to the
    next good record numbered ``expected`` or later; ``lost`` counts the numbers missing
    at or above ``floor``. A good record numbered below ``expected`` (a stale copy) is
    skipped too. ``final`` says the buffer ends where the data ends; otherwise a record
    cut by the buffer's end stops the scan with state ``more``.
    """
    end = len(buf)
    view = memoryview(buf)
    unpack = HEADER.unpack_from
    crc32 = _crc32
    result = ScanResult("end", offset, expected)
    records = result.records
    emitted = 0
    while True:
        if offset == end:
            result.state = "end"
            break
        if emitted >= max_records:
            result.state = "full"
            break
        short = end - offset < HEADER_SIZE
        if not short:
            magic, crc, length, seq = unpack(buf, offset)
            stop = offset + HEADER_SIZE + length
            if magic == MAGIC and stop <= end and crc32(view[offset + _CRC_FROM : stop]) == crc:
                if seq < expected:
                    result.skipped_bytes += stop - offset
                    offset = stop
                    continue
                if seq > expected:
                    missing = _missing(expected, seq, floor)
                    if missing:
                        result.lost += missing
                        result.gaps.append(Gap(seq - missing, missing))
                expected = seq + 1
                if seq >= floor:
                    emitted += 1
                    if keep:
                        records.append((seq, buf[offset + HEADER_SIZE : stop]))
                offset = stop
                continue
            short = magic == MAGIC and stop > end
        if short and not final:
            result.state = "more"
            break
        resume = _resync(buf, view, offset + 1, expected, final)
        if resume == _MORE:
            result.state = "more"
            break
        if resume is None:
            if not final:
                result.state = "more"
                break
            result.state = "tail"
            result.bad_tail_record = _complete_record_at(buf, offset)
            break
        result.skipped_bytes += resume - offset
        result.damage.append(Damage(offset, resume - offset))
        offset = resume
    result.offset = offset
    result.expected = expected
    result.count = emitted
    return result


@dataclass(slots=True)
class Split:
    """What ``split_records`` cut: ``payloads`` are numbered from ``first``, consecutive."""

    payloads: list[bytes]
    first: int
    offset: int  # after the last record walked over
    expected: int
    regular: bool  # False: it stopped at bytes that are not the next record in order


def split_records(
    buf: bytes, offset: int, expected: int, *, floor: int = 0, max_records: int = sys.maxsize
) -> Split:
    """Cut the records of ``buf`` from ``offset`` without checking their CRCs: for bytes
    already checked as a whole (see ``checkpoints``), which hold consecutive records, so
    one record costs a length decode and a slice. Stops at a record cut by the end of
    ``buf``, after ``max_records`` emitted, or (``regular`` False, nothing cut) when the
    first record is not numbered ``expected``, or the last one cut does not carry the
    number it should: a stale copy, a gap or damage, which only ``scan`` tells apart.
    Records below ``floor`` are walked over.
    """
    first = max(expected, floor)
    end = len(buf)
    if end - offset < HEADER_SIZE:
        return Split([], first, offset, expected, True)
    magic, _, _, seq = HEADER.unpack_from(buf, offset)
    if magic != MAGIC or seq != expected:
        return Split([], first, offset, expected, False)
    length_at = _LENGTH.unpack_from
    payloads: list[bytes] = []
    append = payloads.append
    pos = offset
    last = offset  # the last record walked over starts here
    walked = 0
    skip = first - expected  # below the floor
    while walked < skip and end - pos >= HEADER_SIZE:
        stop = pos + HEADER_SIZE + length_at(buf, pos + _LENGTH_AT)[0]
        if stop > end:
            break
        last, pos = pos, stop
        walked += 1
    if walked == skip:
        room = max_records
        while room and end - pos >= HEADER_SIZE:
            start = pos + HEADER_SIZE
            stop = start + length_at(buf, pos + _LENGTH_AT)[0]
            if stop > end:
                break
            append(buf[start:stop])
            last, pos = pos, stop
            room -= 1
        walked += len(payloads)
    if walked:
        # bytes that check out hold consecutive records: anything else is a bug to stop at
        magic, _, _, seq = HEADER.unpack_from(buf, last)
        if magic != MAGIC or seq != expected + walked - 1:
            return Split([], first, offset, expected, False)
    return Split(payloads, first, pos, expected + walked, True)


def _resync(buf: bytes, view: memoryview, start: int, expected: int, final: bool) -> int | None:
    """Offset of the next good record numbered ``expected`` or later; None if there is none;
    _MORE if a candidate may continue past the buffer.

    A good record numbered ``expected`` is taken at once, one numbered later if the next
    record or the end of the data confirms it. An unconfirmed one (its follower is damaged
    too, or it lies inside a damaged payload) is taken unless a confirmed one numbered no
    later than it comes after it.
    """
    end = len(buf)
    unconfirmed: int | None = None
    unconfirmed_seq = 0
    i = buf.find(MAGIC, start)
    while i != -1:
        if end - i < HEADER_SIZE:
            break
        _, crc, length, seq = HEADER.unpack_from(buf, i)
        stop = i + HEADER_SIZE + length
        if stop <= end:
            if seq >= expected and _crc32(view[i + _CRC_FROM : stop], 0) == crc:
                confirmed = seq == expected or _followed(buf, stop, seq + 1, final)
                if confirmed is None:
                    return _MORE
                if confirmed:
                    if unconfirmed is not None and seq > unconfirmed_seq:
                        return unconfirmed
                    return i
                if unconfirmed is None:
                    unconfirmed, unconfirmed_seq = i, seq
        elif not final:
            return _MORE
        i = buf.find(MAGIC, i + 1)
    if not final:
        return _MORE
    return unconfirmed


def _followed(buf: bytes, stop: int, seq: int, final: bool) -> bool | None:
    """Whether the data ends at ``stop`` or a record numbered ``seq`` starts there (its
    header decoding is enough: it may be damaged further on); None: the buffer ends first."""
    end = len(buf)
    if stop == end:
        return True if final else None
    if end - stop < HEADER_SIZE:
        return False if final else None
    magic, _, _, next_seq = HEADER.unpack_from(buf, stop)
    return bool(magic == MAGIC and next_seq == seq)


def _complete_record_at(buf: bytes, offset: int) -> bool:
    """A record header at ``offset`` whose length ends exactly at the buffer's end: a whole
    record that failed its CRC rather than a write cut short."""
    if len(buf) - offset < HEADER_SIZE:
        return False
    magic, _, length, _ = HEADER.unpack_from(buf, offset)
    return bool(magic == MAGIC and offset + HEADER_SIZE + length == len(buf))
