"""The segment reader on its own: events in order across segment files, from memory when
it has caught up with the writer, nothing below the replay floor, and an unreadable segment
given up with a count of what it held."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sorabeat.spool.reader import SegmentInfo, SegmentReader
from sorabeat.spool.record import encode_records
from sorabeat.spool.segment import ReadResult, create_segment


async def inline(fn: Callable[..., ReadResult], *args: Any) -> ReadResult:
    """The spool runs reads in a worker thread; here they run in place."""
    return fn(*args)


def segment(directory: Path, first: int, payloads: list[bytes]) -> SegmentInfo:
    fd, path = create_segment(str(directory), first)
    try:
        os.write(fd, encode_records(first, payloads))
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    return SegmentInfo(first, path, size, first + len(payloads), count=len(payloads))


async def drain(reader: SegmentReader) -> list[tuple[int, list[bytes]]]:
    out: list[tuple[int, list[bytes]]] = []
    for _ in range(100):
        if reader.buffered():
            out.append(reader.take(2))
        elif await reader.read_more(inline) is None:
            return out
    raise AssertionError("the reader never ran out of events")


async def test_events_come_in_order_across_segments(tmp_path: Path) -> None:
    segments = [segment(tmp_path, 0, [b"a", b"b", b"c"]), segment(tmp_path, 3, [b"d"])]
    reader = SegmentReader(segments, floor=0)
    taken = await drain(reader)
    reader.close()
    # batches of at most two: a b, then c (what the first file still holds), then d
    assert [seq for seq, _ in taken] == [0, 2, 3]
    assert [e for _, events in taken for e in events] == [b"a", b"b", b"c", b"d"]
    assert reader.next_seq() == 4
    assert [s.taken for s in segments] == [3, 1]


async def test_events_below_the_floor_are_not_delivered_again(tmp_path: Path) -> None:
    reader = SegmentReader([segment(tmp_path, 0, [b"acked", b"acked", b"new"])], floor=2)
    taken = await drain(reader)
    reader.close()
    assert taken == [(2, [b"new"])]


async def test_written_events_are_fed_from_memory_once_the_reader_caught_up(
    tmp_path: Path,
) -> None:
    seg = segment(tmp_path, 0, [b"a"])
    reader = SegmentReader([seg], floor=0)
    assert await drain(reader) == [(0, [b"a"])]
    data = encode_records(1, [b"b", b"c"])
    start = seg.size
    # the file is not extended: only memory can deliver these
    seg.size, seg.end, seg.count = start + len(data), 3, 3
    reader.feed(seg, start, seg.size, 1, [b"b", b"c"])
    assert reader.buffered()
    assert reader.take(10) == (1, [b"b", b"c"])
    assert reader.next_seq() == 3
    reader.close()


async def test_feed_is_ignored_when_the_reader_is_behind(tmp_path: Path) -> None:
    seg = segment(tmp_path, 0, [b"a"])
    reader = SegmentReader([seg], floor=0)
    reader.feed(seg, seg.size, seg.size + 10, 1, [b"b"])  # the cursor stands before "a"
    assert not reader.buffered()
    assert reader.next_seq() == 0
    reader.close()


async def test_an_unreadable_segment_is_skipped_and_its_events_counted_lost(
    tmp_path: Path,
) -> None:
    gone = segment(tmp_path, 0, [b"a", b"b"])
    kept = segment(tmp_path, 2, [b"c"])
    os.unlink(gone.path)
    reader = SegmentReader([gone, kept], floor=0)
    assert await reader.read_more(inline) == 2
    assert gone.taken == 2
    assert await drain(reader) == [(2, [b"c"])]
    reader.close()
