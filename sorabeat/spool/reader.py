"""The read side of the disk spool: decodes events ahead of the output.

Events come from the segment files. When the reader has caught up with the writer, they
come straight from memory instead, as each group is written, so a spool that keeps up
never reads its own files back. Damage was counted when the spool opened; here it is only
skipped (the scanner finds the same good records again).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import repeat

from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, ReadResult, read_records

log = logging.getLogger("sorabeat.spool")

READ_AHEAD = 4096  # events decoded ahead of the output


@dataclass(eq=False, slots=True)
class SegmentInfo:
    """What the spool knows of one segment file."""

    first: int
    path: str
    size: int  # durable bytes
    end: int  # sequence number after its last record
    count: int = 0  # records still to deliver (at or past the replay floor)
    taken: int = 0  # of those, handed out or dropped
    gone: bool = False  # dropped or deleted


@dataclass(slots=True)
class _Cursor:
    """Where reading continues: everything before it is decoded, handed out or skipped."""

    seg: SegmentInfo
    offset: int
    expected: int


class SegmentReader:
    def __init__(self, segments: list[SegmentInfo], floor: int) -> None:
        self._segments = segments  # shared with the spool, which adds and removes segments
        self._floor = floor  # events below it were acknowledged before this run
        first = segments[0]
        self._cursor = _Cursor(first, SEGMENT_HEADER_SIZE, first.first)
        self._unread: deque[tuple[int, bytes, SegmentInfo]] = deque()
        self._reading = False
        self._fd: int | None = None
        self._fd_seg: SegmentInfo | None = None
        self._fd_lock = threading.Lock()

    def buffered(self) -> bool:
        self._purge_gone()
        return bool(self._unread)

    def next_seq(self) -> int:
        """The number of the next event to hand out, or past which none is stored yet."""
        self._purge_gone()
        return self._unread[0][0] if self._unread else self._cursor.expected

    def take(self, max_events: int) -> tuple[int, list[bytes]]:
        """Hand out up to ``max_events`` consecutive buffered events (at least one)."""
        unread = self._unread
        first, payload, seg = unread.popleft()
        seg.taken += 1
        events = [payload]
        expect = first + 1
        while len(events) < max_events and unread:
            seq, payload, seg = unread[0]
            if seq != expect or seg.gone:
                break
            unread.popleft()
            seg.taken += 1
            events.append(payload)
            expect += 1
        return first, events

    async def read_more(self, io: Callable[..., Awaitable[ReadResult]]) -> int | None:
        """Decode the next events from disk. None when nothing is stored past the cursor;
        otherwise how many events became unreadable (an I/O error gives up the rest of a
        segment)."""
        cursor = self._cursor
        if cursor.seg.gone:
            self._move_to(self._segments[0])
            return 0
        if cursor.offset >= cursor.seg.size:
            following = self._following(cursor.seg)
            if following is None:
                return None
            self._move_to(following)
            return 0
        self._reading = True
        try:
            result = await io(
                self._read_chunk, cursor.seg, cursor.offset, cursor.seg.size, cursor.expected
            )
        except OSError as exc:
            return self._unreadable(cursor, exc)
        finally:
            self._reading = False
        if cursor is not self._cursor or cursor.seg.gone:
            return 0  # its segment was dropped meanwhile
        found = result.scan
        self._unread.extend((seq, payload, cursor.seg) for seq, payload in found.records)
        cursor.offset = cursor.seg.size if found.state == "tail" else found.offset
        cursor.expected = found.expected
        return 0

    def feed(
        self, seg: SegmentInfo, start: int, end: int, first: int, payloads: Sequence[bytes]
    ) -> None:
        """Events just written to ``seg`` between ``start`` and ``end``: buffer them from
        memory if the cursor stands right there."""
        if self._reading or len(self._unread) >= READ_AHEAD:
            return
        self._skip_exhausted()
        cursor = self._cursor
        if cursor.seg is not seg or cursor.offset != start:
            return
        count = len(payloads)
        self._unread.extend(zip(range(first, first + count), payloads, repeat(seg)))
        cursor.offset = end
        cursor.expected = first + count

    def close(self) -> None:
        with self._fd_lock:
            self._close_fd()

    def release(self, seg: SegmentInfo) -> None:
        """Close the descriptor kept on ``seg`` (being deleted) so its space is freed."""
        with self._fd_lock:
            if self._fd_seg is seg:
                self._close_fd()

    def _read_chunk(self, seg: SegmentInfo, offset: int, limit: int, expected: int) -> ReadResult:
        """In a worker thread. The lock keeps close() from closing the descriptor under a
        read that a cancelled get() left running."""
        with self._fd_lock:
            if self._fd_seg is not seg or self._fd is None:
                self._close_fd()
                self._fd = os.open(seg.path, os.O_RDONLY)
                self._fd_seg = seg
            return read_records(
                self._fd, offset, limit, expected, floor=self._floor, max_records=READ_AHEAD
            )

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._fd_seg = None

    def _unreadable(self, cursor: _Cursor, exc: OSError) -> int:
        seg = cursor.seg
        buffered = sum(1 for _, _, s in self._unread if s is seg)
        lost = seg.count - seg.taken - buffered
        seg.taken += lost
        cursor.offset = seg.size
        log.error("cannot read spool segment %s (%s): skipping its %d events", seg.path, exc, lost)
        return lost

    def _purge_gone(self) -> None:
        while self._unread and self._unread[0][2].gone:
            self._unread.popleft()

    def _following(self, seg: SegmentInfo) -> SegmentInfo | None:
        for index, candidate in enumerate(self._segments):
            if candidate is seg:
                return self._segments[index + 1] if index + 1 < len(self._segments) else None
        return None

    def _move_to(self, seg: SegmentInfo) -> None:
        self._cursor = _Cursor(seg, SEGMENT_HEADER_SIZE, max(self._cursor.expected, seg.first))

    def _skip_exhausted(self) -> None:
        while self._cursor.offset >= self._cursor.seg.size and not self._cursor.seg.gone:
            following = self._following(self._cursor.seg)
            if following is None:
                return
            self._move_to(following)
