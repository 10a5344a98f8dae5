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
from dataclasses import dataclass, field
from operator import itemgetter

from sorabeat.spool.checkpoints import Checkpoints
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE, ReadResult, read_records

log = logging.getLogger("sorabeat.spool")

READ_AHEAD = 4096  # events decoded ahead of the output (plus the rest of a checked range)
REFILL_BELOW = READ_AHEAD // 2  # fewer buffered than this: read more while the output sends


@dataclass(eq=False, slots=True)
class SegmentInfo:
    """What the spool knows of one segment file."""

    first: int
    path: str
    size: int  # durable bytes
    end: int  # sequence number after its last record
    count: int = 0  # records still to deliver (at or past the replay floor)
    crc: int | None = None  # CRC32 of its records up to size, if all good (its seal)
    taken: int = 0  # of those, handed out or dropped
    gone: bool = False  # dropped or deleted
    # running CRCs of records known good (see checkpoints): read range by range there
    checkpoints: Checkpoints = field(default_factory=Checkpoints)


@dataclass(eq=False, slots=True)
class _Run:
    """Consecutive events buffered from one segment: ``payloads[taken:]`` are numbered from
    ``first + taken``. Kept as a list, so taking a batch is one slice, not a step per event."""

    first: int
    payloads: list[bytes]
    seg: SegmentInfo
    taken: int = 0

    def left(self) -> int:
        return len(self.payloads) - self.taken


@dataclass(slots=True)
class _Cursor:
    """Where reading continues: everything before it is decoded, handed out or skipped."""

    seg: SegmentInfo
    offset: int
    expected: int
    crc: int | None = None  # the running CRC at offset, if known (see checkpoints)


class SegmentReader:
    def __init__(self, segments: list[SegmentInfo], floor: int) -> None:
        self._segments = segments  # shared with the spool, which adds and removes segments
        self._floor = floor  # events below it were acknowledged before this run
        first = segments[0]
        self._cursor = _Cursor(first, SEGMENT_HEADER_SIZE, first.first, 0)
        self._unread: deque[_Run] = deque()
        self._buffered = 0  # events in _unread
        self._reading = False
        self._fd: int | None = None
        self._fd_seg: SegmentInfo | None = None
        self._fd_lock = threading.Lock()

    def buffered(self) -> bool:
        self._purge_gone()
        return bool(self._unread)

    def wants_more(self) -> bool:
        """Whether reading ahead now would keep the output from waiting on the disk: few
        events are buffered and no read is under way."""
        return not self._reading and self._buffered < REFILL_BELOW

    def next_seq(self) -> int:
        """The number of the next event to hand out, or past which none is stored yet."""
        self._purge_gone()
        if self._unread:
            head = self._unread[0]
            return head.first + head.taken
        return self._cursor.expected

    def take(self, max_events: int) -> tuple[int, list[bytes]]:
        """Hand out up to ``max_events`` consecutive buffered events (at least one)."""
        unread = self._unread
        head = unread[0]
        first = head.first + head.taken
        events: list[bytes] = []
        expect = first
        while unread and len(events) < max_events:
            run = unread[0]
            if run.first + run.taken != expect or run.seg.gone:
                break
            count = min(max_events - len(events), run.left())
            events += run.payloads[run.taken : run.taken + count]
            run.taken += count
            run.seg.taken += count
            self._buffered -= count
            expect += count
            if not run.left():
                unread.popleft()
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
            room = max(1, READ_AHEAD - self._buffered)
            # a copy: the writer's reports add checkpoints while the read runs
            marks = list(cursor.seg.checkpoints.after(cursor.offset, cursor.seg.size))
            result = await io(
                self._read_chunk,
                cursor.seg,
                cursor.offset,
                cursor.crc,
                marks,
                cursor.seg.size,
                cursor.expected,
                room,
            )
        except OSError as exc:
            return self._unreadable(cursor, exc)
        finally:
            self._reading = False
        if cursor is not self._cursor or cursor.seg.gone:
            return 0  # its segment was dropped meanwhile
        verified = result.verified
        if verified is not None:
            if verified.payloads:
                self._unread.append(_Run(verified.first, verified.payloads, cursor.seg))
                self._buffered += len(verified.payloads)
            cursor.offset = verified.offset
            cursor.expected = verified.expected
            cursor.crc = None if verified.mismatch else verified.crc
            return 0
        found = result.scan
        self._buffer(found.records, cursor.seg)
        cursor.offset = cursor.seg.size if found.state == "tail" else found.offset
        cursor.expected = found.expected
        cursor.crc = cursor.seg.checkpoints.at(cursor.offset)
        return 0

    def feed(
        self, seg: SegmentInfo, start: int, end: int, first: int, payloads: Sequence[bytes]
    ) -> None:
        """Events just written to ``seg`` between ``start`` and ``end``: buffer them from
        memory if the cursor stands right there."""
        if self._reading or self._buffered >= READ_AHEAD:
            return
        self._skip_exhausted()
        cursor = self._cursor
        if cursor.seg is not seg or cursor.offset != start:
            return
        count = len(payloads)
        if count:
            self._unread.append(_Run(first, list(payloads), seg))
            self._buffered += count
        cursor.offset = end
        cursor.expected = first + count
        cursor.crc = seg.checkpoints.at(end)

    def close(self) -> None:
        with self._fd_lock:
            self._close_fd()

    def release(self, seg: SegmentInfo) -> None:
        """Close the descriptor kept on ``seg`` (being deleted) so its space is freed."""
        with self._fd_lock:
            if self._fd_seg is seg:
                self._close_fd()

    def _read_chunk(
        self,
        seg: SegmentInfo,
        offset: int,
        crc: int | None,
        marks: list[tuple[int, int]],
        limit: int,
        expected: int,
        room: int,
    ) -> ReadResult:
        """In a worker thread. The lock keeps close() from closing the descriptor under a
        read that a cancelled get() left running. Where the running CRC is known and
        checkpoints follow, ranges are checked with one CRC each; otherwise, and from
        anything they do not vouch for, records are scanned one by one."""
        with self._fd_lock:
            if self._fd_seg is not seg or self._fd is None:
                self._close_fd()
                self._fd = os.open(seg.path, os.O_RDONLY)
                self._fd_seg = seg
            return read_records(
                self._fd,
                offset,
                limit,
                expected,
                floor=self._floor,
                max_records=room,
                crc=crc,
                marks=marks,
            )

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._fd_seg = None

    def _unreadable(self, cursor: _Cursor, exc: OSError) -> int:
        seg = cursor.seg
        buffered = sum(run.left() for run in self._unread if run.seg is seg)
        lost = seg.count - seg.taken - buffered
        seg.taken += lost
        cursor.offset = seg.size
        log.error("cannot read spool segment %s (%s): skipping its %d events", seg.path, exc, lost)
        return lost

    def _purge_gone(self) -> None:
        while self._unread and self._unread[0].seg.gone:
            self._buffered -= self._unread.popleft().left()

    def _buffer(self, records: list[tuple[int, bytes]], seg: SegmentInfo) -> None:
        """Queue scanned records as runs of consecutive numbers (one run unless damage
        left a gap)."""
        if not records:
            return
        if records[-1][0] - records[0][0] == len(records) - 1:  # no gap: the usual case
            self._unread.append(_Run(records[0][0], list(map(itemgetter(1), records)), seg))
        else:
            run: _Run | None = None
            for seq, payload in records:
                if run is None or run.first + len(run.payloads) != seq:
                    run = _Run(seq, [], seg)
                    self._unread.append(run)
                run.payloads.append(payload)
        self._buffered += len(records)

    def _following(self, seg: SegmentInfo) -> SegmentInfo | None:
        for index, candidate in enumerate(self._segments):
            if candidate is seg:
                return self._segments[index + 1] if index + 1 < len(self._segments) else None
        return None

    def _move_to(self, seg: SegmentInfo) -> None:
        expected = max(self._cursor.expected, seg.first)
        # the running CRC is 0 at the header's end (a gap before the segment stops the
        # range-checked read at its first record: scanning counts it)
        self._cursor = _Cursor(seg, SEGMENT_HEADER_SIZE, expected, 0)

    def _skip_exhausted(self) -> None:
        while self._cursor.offset >= self._cursor.seg.size and not self._cursor.seg.gone:
            following = self._following(self._cursor.seg)
            if following is None:
                return
            self._move_to(following)
