"""Lumberjack v2 (the Beats protocol) as a sans-IO codec: bytes in, bytes or frames out.

No sockets, clocks or awaits here (the model is h11): the asyncio client and server feed
bytes in and write the bytes this module returns.

Frames are a version byte (``'2'``), a type byte and a body; integers are unsigned 32-bit
big-endian. Client to server: ``W <count>`` opens a window of ``count`` data frames,
``J <seq> <len> <json>`` carries one event, ``C <len> <zlib>`` carries complete frames
compressed in zlib format. Server to client: ``A <seq>``, everything up to ``seq`` is safe;
``A 0`` is a keepalive. Event payloads are already-encoded JSON and pass through untouched.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sorabeat.lumberjack.compression import Deflate, inflation

VERSION = 0x32  # '2'
WINDOW = 0x57  # 'W'
JSON = 0x4A  # 'J'
COMPRESSED = 0x43  # 'C'
ACK = 0x41  # 'A'
KEY_VALUE = 0x44  # 'D': v1 only

MAX_WINDOW = 10000  # go-lumber's server limit; larger windows are refused
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024
MAX_NESTING = 8  # C frames inside C frames (go-lumber accepts them)

_HEADER_U32 = struct.Struct(">BBI")  # version, type, u32
_JSON_HEADER = struct.Struct(">BBII")  # version, type, seq, len
_ACK_SIZE = 6


class ProtocolError(Exception):
    """The peer sent bytes that are not valid Lumberjack v2; the message says what and where."""


def _describe_byte(value: int) -> str:
    if 0x20 < value < 0x7F:
        return f"{chr(value)!r} (0x{value:02x})"
    return f"0x{value:02x}"


def _version_error(value: int, where: str) -> ProtocolError:
    hint = ""
    if value in (0x15, 0x16):
        hint = " (this looks like TLS: is ssl enabled on one side only?)"
    elif value == 0x31:
        hint = " (protocol v1 is not supported)"
    return ProtocolError(f"unknown protocol version {_describe_byte(value)} {where}{hint}")


# --- client side: encoding windows ---------------------------------------------------------


def window_frame(count: int) -> bytes:
    """``2W <count>``: announces how many data frames follow."""
    if not 0 <= count <= MAX_WINDOW:
        raise ValueError(f"window of {count} events (0..{MAX_WINDOW} allowed)")
    return _HEADER_U32.pack(VERSION, WINDOW, count)


def json_frames(payloads: Sequence[bytes], first: int = 1) -> bytes:
    """``2J`` frames numbered ``first``.. for already-encoded JSON payloads."""
    pack = _JSON_HEADER.pack
    parts: list[bytes] = [b""] * (2 * len(payloads))
    for i, payload in enumerate(payloads, first):
        size = len(payload)
        if size == 0:
            raise ValueError(f"event {i} of the window is empty")
        at = 2 * (i - first)
        parts[at] = pack(VERSION, JSON, i, size)
        parts[at + 1] = payload
    return b"".join(parts)


def compressed_frame(compressed: bytes) -> bytes:
    """``2C <len>`` around zlib-format bytes (from ``zlib.compress`` of ``json_frames``)."""
    return _HEADER_U32.pack(VERSION, COMPRESSED, len(compressed)) + compressed


NewDeflate = Callable[[int], Deflate]
"""``level -> a fresh stream``: how a window's frames are compressed (any zlib-format
compressor inflates on every server: the output may choose a faster one than zlib's)."""

FRAMES_PER_PIECE = 256
"""Frames handed to the compressor at a time: ~1 MB of real-shaped connection events
instead of the whole window's ~8 MB at once, which was the node's RSS peak whenever it
coincided with a poll (the compressed stream is the same size within 0.1%)."""


def encode_window(
    payloads: Sequence[bytes], compression_level: int = 0, deflate: NewDeflate = zlib.compressobj
) -> bytes:
    """A whole window: ``W`` then the ``J`` frames, bare or inside one ``C`` frame whose
    zlib stream ``deflate`` writes. May run in a worker thread."""
    count = len(payloads)
    if compression_level <= 0:
        return window_frame(count) + json_frames(payloads)
    stream = deflate(compression_level)
    parts = [b"", b""]  # the W and C headers, once the compressed size is known
    for start in range(0, count, FRAMES_PER_PIECE):
        piece = json_frames(payloads[start : start + FRAMES_PER_PIECE], start + 1)
        parts.append(stream.compress(piece))
        del piece  # not alive while the next one is built
    parts.append(stream.flush())
    parts[1] = _HEADER_U32.pack(VERSION, COMPRESSED, sum(map(len, parts)))
    parts[0] = window_frame(count)
    return b"".join(parts)


def frames_size(payloads: Sequence[bytes]) -> int:
    """The size of ``json_frames(payloads)`` without building it."""
    return sum(map(len, payloads)) + _JSON_HEADER.size * len(payloads)


def ack_frame(seq: int) -> bytes:
    """``2A <seq>`` (server side)."""
    return _HEADER_U32.pack(VERSION, ACK, seq)


class AckReader:
    """Parses ``2A`` frames from arbitrary chunks of the server's byte stream."""

    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0  # stream offset of _buffer[0]

    def feed(self, data: bytes) -> list[int]:
        buffer = self._buffer + data if self._buffer else data
        acks: list[int] = []
        pos = 0
        end = len(buffer) - _ACK_SIZE
        while pos <= end:
            version, kind, seq = _HEADER_U32.unpack_from(buffer, pos)
            where = f"at byte {self._offset + pos} of the server's stream"
            if version != VERSION:
                raise _version_error(version, where)
            if kind != ACK:
                raise ProtocolError(f"expected an ACK frame, got {_describe_byte(kind)} {where}")
            acks.append(seq)
            pos += _ACK_SIZE
        self._buffer = buffer[pos:]
        self._offset += pos
        return acks


@dataclass
class AckProgress:
    """What an ACK changed: events newly acknowledged in the oldest window, and whether
    that window is complete."""

    acked: int  # events of the oldest window acknowledged so far (the highest ACK seen)
    newly: int  # events acknowledged by this ACK
    complete: bool


class AckTracker:
    """Matches ACKs to the windows in flight, oldest first.

    Windows are numbered 1..N, so an ACK ``seq`` means ``seq`` events of the oldest window
    are safe, whether the server acks its highest seq (Logstash) or its event count
    (go-lumber). ``0`` is a keepalive; an ACK lower than one already seen is ignored (keep
    the highest); an ACK above the window size is a protocol error.
    """

    def __init__(self) -> None:
        self._sizes: deque[int] = deque()
        self._acked = 0  # highest ACK of the oldest window

    def sent(self, count: int) -> None:
        self._sizes.append(count)

    @property
    def in_flight(self) -> int:
        return len(self._sizes)

    def ack(self, seq: int) -> AckProgress | None:
        """Apply one ACK; None for keepalives and stale ACKs."""
        if seq == 0 or seq <= self._acked:
            return None
        if not self._sizes:
            raise ProtocolError(f"ACK {seq} received while no window is in flight")
        size = self._sizes[0]
        if seq > size:
            raise ProtocolError(f"ACK {seq} is above the window of {size} events in flight")
        newly = seq - self._acked
        if seq == size:
            self._sizes.popleft()
            self._acked = 0
            return AckProgress(seq, newly, True)
        self._acked = seq
        return AckProgress(seq, newly, False)


# --- server side: decoding windows ---------------------------------------------------------


class WindowStart(NamedTuple):
    size: int


class Event(NamedTuple):
    seq: int
    payload: bytes


class WindowEnd(NamedTuple):
    size: int
    highest_seq: int  # what Logstash acks; go-lumber acks ``count``


Frame = WindowStart | Event | WindowEnd


class FrameDecoder:
    """Decodes a client's byte stream, fed in arbitrary chunks, into window starts, events
    and window ends. Raises ProtocolError on anything that is not valid Lumberjack v2."""

    def __init__(
        self, *, max_payload: int = DEFAULT_MAX_PAYLOAD, max_window: int = MAX_WINDOW
    ) -> None:
        self.max_payload = max_payload
        self.max_window = max_window
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]
        self._remaining: int | None = None  # data frames still due in the window; None: no W yet
        self._count = 0
        self._highest = 0

    @property
    def in_window(self) -> bool:
        """A window has been announced and not all its events have arrived."""
        return bool(self._remaining)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        out: list[Frame] = []
        pos = self._parse(buffer, 0, len(buffer), out, partial=True, where=self._offset, depth=0)
        if pos:
            del buffer[:pos]
            self._offset += pos
        return out

    def _parse(
        self,
        buf: bytes | bytearray,
        pos: int,
        end: int,
        out: list[Frame],
        *,
        partial: bool,
        where: int,
        depth: int,
    ) -> int:
        """Parse whole frames in ``buf[pos:end]``; return the position after the last one.

        ``partial`` says a frame may be cut at ``end`` (the socket stream) rather than
        complete (inflated C content). ``where`` is the stream offset of ``buf[0]``, or for
        inflated content the offset of its C frame, for error messages.
        """
        unpack_u32 = _HEADER_U32.unpack_from
        unpack_json = _JSON_HEADER.unpack_from
        max_payload = self.max_payload
        while end - pos >= 2:
            version = buf[pos]
            kind = buf[pos + 1]
            at = self._where(where, pos, depth)
            if version != VERSION:
                raise _version_error(version, at)
            if kind == JSON:
                if end - pos < 10:
                    break
                _, _, seq, size = unpack_json(buf, pos)
                if size == 0 or size > max_payload:
                    raise ProtocolError(
                        f"J frame {at} has a payload length of {size} (1..{max_payload} allowed)"
                    )
                if end - pos - 10 < size:
                    break
                self._data_frame(at)
                out.append(Event(seq, bytes(buf[pos + 10 : pos + 10 + size])))
                if seq > self._highest:
                    self._highest = seq
                pos += 10 + size
                self._count_event(out)
            elif kind == WINDOW:
                if end - pos < 6:
                    break
                _, _, count = unpack_u32(buf, pos)
                if self._remaining:
                    raise ProtocolError(
                        f"W frame {at} inside an unfinished window "
                        f"({self._count - self._remaining} of {self._count} events received)"
                    )
                if count > self.max_window:
                    raise ProtocolError(
                        f"W frame {at} announces {count} events (at most {self.max_window})"
                    )
                pos += 6
                self._remaining, self._count, self._highest = count, count, 0
                out.append(WindowStart(count))
                if count == 0:
                    out.append(WindowEnd(0, 0))
            elif kind == COMPRESSED:
                if end - pos < 6:
                    break
                _, _, size = unpack_u32(buf, pos)
                if size == 0 or size > max_payload:
                    raise ProtocolError(
                        f"C frame {at} has a length of {size} (1..{max_payload} allowed)"
                    )
                if end - pos - 6 < size:
                    break
                self._data_frame(at)
                if depth >= MAX_NESTING:
                    raise ProtocolError(f"C frame {at} nested more than {MAX_NESTING} deep")
                inflated = self._inflate(buf[pos + 6 : pos + 6 + size], at)
                self._parse(
                    inflated,
                    0,
                    len(inflated),
                    out,
                    partial=False,
                    where=where + pos if depth == 0 else where,
                    depth=depth + 1,
                )
                pos += 6 + size
            elif kind == KEY_VALUE:
                raise ProtocolError(f"D frame (protocol v1 key/value) {at} in protocol v2")
            else:
                raise ProtocolError(f"unknown frame type {_describe_byte(kind)} {at}")
        if not partial and pos != end:
            raise ProtocolError(
                f"truncated frame at the end of the compressed content of the C frame "
                f"at byte {where} ({end - pos} bytes left over)"
            )
        return pos

    @staticmethod
    def _where(base: int, pos: int, depth: int) -> str:
        if depth == 0:
            return f"at byte {base + pos}"
        return f"at byte {pos} inside the C frame at byte {base}"

    def _data_frame(self, at: str) -> None:
        if self._remaining is None:
            raise ProtocolError(f"data frame {at} before any window (W) frame")
        if self._remaining == 0:
            raise ProtocolError(
                f"data frame {at} beyond the {self._count} events the window announced"
            )

    def _count_event(self, out: list[Frame]) -> None:
        assert self._remaining is not None
        self._remaining -= 1
        if self._remaining == 0:
            out.append(WindowEnd(self._count, self._highest))

    def _inflate(self, data: bytes | bytearray, at: str) -> bytes:
        inflate = inflation()
        inflater = inflate.new()
        # a bound on the inflated size: a small C frame must not inflate into gigabytes
        limit = self.max_payload * 4 + 1024
        try:
            inflated = inflater.decompress(data, limit)
        except inflate.errors as exc:
            raise ProtocolError(f"corrupt zlib data in the C frame {at}: {exc}") from None
        if inflater.unconsumed_tail:
            raise ProtocolError(f"C frame {at} inflates to more than {limit} bytes")
        if not inflater.eof:
            raise ProtocolError(f"truncated zlib stream in the C frame {at}")
        if inflater.unused_data:
            raise ProtocolError(
                f"{len(inflater.unused_data)} bytes after the end of the zlib stream "
                f"in the C frame {at}"
            )
        return inflated
