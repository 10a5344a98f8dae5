"""Seals: one checksum over each segment's records, so opening a spool verifies a segment
with one CRC pass in C instead of one Python step per record.

A seal says: the bytes of segment ``first`` from the end of its header up to ``size`` have
the CRC32 ``crc``, and they are the undamaged records numbered ``first`` to ``end - 1``, in
order. The spool keeps a running CRC of what it writes to each segment and saves the seals
of its segments in the file ``seals`` whenever it saves the position and when it closes.

Seals are only a shortcut: opening trusts a seal's prefix only if the file still holds
those bytes with that CRC, and scans the rest of the segment record by record as before.
A missing, stale or damaged ``seals`` file (it is replaced by rename, without an fsync)
therefore costs only time, never an event, and every per-record check of the record
format (and so every count of damage) is unchanged.

Layout: ``magic "SBSEALS\\0" | version u16 | 0 u16 | count u32 | count x (first u64,
size u64, end u64, crc u32) | crc32 of all before``, little-endian.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterable
from typing import NamedTuple

from sorabeat.spool.checkpoints import CHECKPOINT_SPACING
from sorabeat.spool.crc import crc32
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE

SEALS_NAME = "seals"
SEALS_TEMP = "seals.tmp"
_MAGIC = b"SBSEALS\x00"
_VERSION = 1
_HEAD = struct.Struct("<8sHHI")
_ENTRY = struct.Struct("<QQQI")
_CRC = struct.Struct("<I")
_MAX_SEALS = 1 << 20  # far more segments than any max_size allows
_CHUNK = 8 << 20


class Seal(NamedTuple):
    first: int
    size: int  # the sealed prefix ends here (a file offset)
    end: int  # sequence number after the last sealed record
    crc: int  # CRC32 of bytes SEGMENT_HEADER_SIZE..size


def encode_seals(seals: Iterable[Seal]) -> bytes:
    entries = list(seals)
    body = _HEAD.pack(_MAGIC, _VERSION, 0, len(entries)) + b"".join(
        _ENTRY.pack(*seal) for seal in entries
    )
    return body + _CRC.pack(zlib.crc32(body))


def decode_seals(data: bytes) -> dict[int, Seal]:
    """The seals by segment; empty when ``data`` is not a seals file this version wrote."""
    if len(data) < _HEAD.size + _CRC.size:
        return {}
    magic, version, _, count = _HEAD.unpack_from(data)
    if magic != _MAGIC or version != _VERSION or count > _MAX_SEALS:
        return {}
    stop = _HEAD.size + count * _ENTRY.size
    if len(data) != stop + _CRC.size or zlib.crc32(data[:stop]) != _CRC.unpack_from(data, stop)[0]:
        return {}
    seals = (Seal(*_ENTRY.unpack_from(data, _HEAD.size + i * _ENTRY.size)) for i in range(count))
    return {seal.first: seal for seal in seals}


def read_seals(directory: str) -> dict[int, Seal]:
    try:
        with open(os.path.join(directory, SEALS_NAME), "rb") as f:
            data = f.read(_HEAD.size + _MAX_SEALS * _ENTRY.size + _CRC.size + 1)
    except OSError:
        return {}
    return decode_seals(data)


def write_seals(directory: str, seals: Iterable[Seal]) -> None:
    """Replace the seals file (blocking). Failures are ignored: seals only save time."""
    temp = os.path.join(directory, SEALS_TEMP)
    try:
        with open(temp, "wb") as f:
            f.write(encode_seals(seals))
        os.replace(temp, os.path.join(directory, SEALS_NAME))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def remove_seals_temp(directory: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(directory, SEALS_TEMP))


def crc_of_range(
    fd: int, start: int, stop: int, crc: int = 0, marks: list[tuple[int, int]] | None = None
) -> int | None:
    """CRC32 of the file's bytes ``start..stop`` continuing ``crc``; None if the file ends
    first (blocking; large reads, so the CRC runs in C without the GIL). ``marks`` gets the
    running CRC every CHECKPOINT_SPACING bytes and at ``stop`` (see ``checkpoints``); they
    are only worth keeping if the result is."""
    offset = start
    while offset < stop:
        data = os.pread(fd, min(_CHUNK, stop - offset), offset)
        if not data:
            return None
        if marks is None:
            crc = crc32(data, crc)
        else:
            view = memoryview(data)
            for at in range(0, len(data), CHECKPOINT_SPACING):
                piece = view[at : at + CHECKPOINT_SPACING]
                crc = crc32(piece, crc)
                marks.append((offset + at + len(piece), crc))
        offset += len(data)
    return crc


def sealed_prefix(
    fd: int, seal: Seal | None, size: int, marks: list[tuple[int, int]] | None = None
) -> Seal | None:
    """``seal`` if the file (``size`` bytes) still holds its prefix unchanged, else None;
    ``marks`` gets checkpoints of the prefix (see ``crc_of_range``)."""
    if seal is None or not SEGMENT_HEADER_SIZE <= seal.size <= size or seal.end < seal.first:
        return None
    if seal.size == SEGMENT_HEADER_SIZE:
        return seal if seal.end == seal.first and seal.crc == 0 else None
    crc = crc_of_range(fd, SEGMENT_HEADER_SIZE, seal.size, 0, marks)
    return seal if crc == seal.crc else None
