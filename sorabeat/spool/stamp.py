"""One number framed with a magic, a version and a CRC32: the segment header and the state
file are both this, with their own magic."""

from __future__ import annotations

import struct
import zlib

VERSION = 1
_CRC = struct.Struct("<I")


class Stamp:
    """``magic | version (u16) | 0 (u16) | number (u64) | crc32`` little-endian."""

    def __init__(self, magic: bytes, what: str) -> None:
        self.magic = magic
        self.what = what  # names the file in messages: "a sorabeat spool segment"
        self._layout = struct.Struct(f"<{len(magic)}sHHQ")
        self.size = self._layout.size + _CRC.size

    def encode(self, number: int) -> bytes:
        body = self._layout.pack(self.magic, VERSION, 0, number)
        return body + _CRC.pack(zlib.crc32(body))

    def decode(self, data: bytes) -> int:
        """The number; ValueError saying what is wrong. ``data`` may go on past the stamp."""
        body = data[: self._layout.size]
        (crc,) = _CRC.unpack_from(data, self._layout.size)
        if zlib.crc32(body) != crc:
            raise ValueError("checksum mismatch")
        magic, version, _, number = self._layout.unpack(body)
        if magic != self.magic:
            raise ValueError(f"not {self.what}")
        if version != VERSION:
            raise ValueError(f"unknown version {version}")
        return int(number)
