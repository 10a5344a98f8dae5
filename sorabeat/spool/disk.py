"""``queue.spool``: the crash-safe disk spool in front of every output.

Guarantees:

- an ``append`` returns once its events are fsynced (or counted as dropped: ``when_full``,
  a full disk, a write error, shutdown); a returned append survives kill -9 and power loss;
- events are handed out in append order and forgotten only once acknowledged: after a
  crash everything from the oldest unacknowledged event is sent again (at least once;
  duplicates only for events sent, or acknowledged out of order, after it);
- the spool's own files never stop sorabeat from starting (see ``recovery``).

The event loop owns all bookkeeping; blocking work runs elsewhere: the writer thread
appends and fsyncs (``writer``), a small pool reads segments (``reader``), writes the
acknowledged position (``state``) and deletes segments. See docs/spool.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.base import Batch
from sorabeat.spool.checkpoints import Checkpoints
from sorabeat.spool.notices import DropNotices
from sorabeat.spool.reader import SegmentInfo, SegmentReader
from sorabeat.spool.record import HEADER_SIZE, MAX_PAYLOAD, frame_records
from sorabeat.spool.recovery import Recovery, SpoolError, recover
from sorabeat.spool.seals import Seal, write_seals
from sorabeat.spool.segment import SEGMENT_HEADER_SIZE
from sorabeat.spool.settings import SpoolSettings
from sorabeat.spool.state import write_state
from sorabeat.spool.writer import GroupOutcome, SegmentWriter, WriteRequest

__all__ = ["DiskSpool", "SpoolError"]

log = logging.getLogger("sorabeat.spool")
T = TypeVar("T")

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskSpool:
    """The disk implementation of the Spool protocol (see module docstring)."""

    @classmethod
    async def open(cls, directory: str, settings: SpoolSettings, metrics: Registry) -> DiskSpool:
        """Recover ``directory`` (created if missing) and start the spool.

        Raises SpoolError only when the directory itself is unusable.
        """
        recovery = await asyncio.to_thread(recover, directory)
        for level, message in recovery.notes:
            log.log(level, "%s", message)
        return cls(directory, settings, metrics, recovery)

    def __init__(
        self, directory: str, settings: SpoolSettings, metrics: Registry, recovery: Recovery
    ) -> None:
        self.directory = directory
        self.settings = settings
        self.metrics = metrics
        self.when_full = settings.when_full
        # the limit counts whole segments: fewer than two would leave no room to drop
        self.max_size = max(settings.max_size, 2 * settings.segment_size)
        self._largest_payload = min(self.max_size - HEADER_SIZE - SEGMENT_HEADER_SIZE, MAX_PAYLOAD)
        self._loop = asyncio.get_running_loop()
        self._segments = [
            SegmentInfo(
                s.first,
                s.path,
                s.size,
                s.end,
                s.count,
                s.crc,
                checkpoints=Checkpoints(s.checkpoints),
            )
            for s in recovery.segments
        ]
        # segments set aside count toward max_size and are the first to go for room
        self._corrupt: deque[tuple[str, int]] = deque(recovery.set_aside)
        self._used = sum(s.size for s in self._segments) + sum(n for _, n in self._corrupt)
        self._room_freed = 0  # how many times space was freed: a failure older than that may retry
        # bytes of acknowledged segments being deleted: still on disk, so still in _used
        # until their unlink returns (counting them freed earlier let a blocked append
        # write while they were there, and the directory exceed max_size)
        self._freeing = 0
        self._reserved = 0  # bytes framed and waiting for the writer
        self._next_seq = recovery.next_seq
        self._position = recovery.position  # oldest unacknowledged, in memory
        self._persisted = recovery.position
        self._drop_floor = recovery.position
        self._reader = SegmentReader(self._segments, recovery.position)
        self._unread_count = sum(s.count for s in self._segments)
        self._inflight: deque[Batch] = deque()
        self._inflight_unacked = 0
        self._submitted: set[asyncio.Future[None]] = set()
        self._changed = asyncio.Event()
        self._closing = False
        self._closed = False
        self._abandoned = False
        self._admission = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._read_ahead_task: asyncio.Task[None] | None = None
        self._persist_task: asyncio.Task[None] | None = None
        self._persist_kick = asyncio.Event()
        self._close_task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="spool-io")
        self._lock_fd = recovery.lock_fd
        self._notices = DropNotices(log)
        self._segments_gauge = -1
        self._writer_stopped: asyncio.Future[None] = self._loop.create_future()
        last = self._segments[-1]
        self._writer = SegmentWriter(
            directory,
            recovery.write_fd,
            last.first,
            last.size,
            recovery.next_seq,
            last.crc,
            settings.segment_size,
            settings.flush.events,
            settings.flush.timeout,
            self._report,
        )
        self._writer.start()

        metrics.add("spool.events.corrupt", recovery.corrupt_events)
        metrics.add("spool.segments.corrupt", recovery.corrupt_segments)
        metrics.add("spool.segments.repaired", recovery.repaired_headers)
        metrics.add("spool.bytes.truncated", recovery.truncated_bytes)
        self._gauges()
        pending = self.pending()
        if pending:
            log.info(
                "spool %s: %d events from earlier runs to deliver (%d segments, %d bytes)",
                directory,
                pending,
                len(self._segments),
                self._used,
            )

    # -- introspection (metrics, tests) ------------------------------------------------

    @property
    def position(self) -> int:
        """Sequence number of the oldest event not acknowledged (in memory)."""
        return self._position

    @property
    def persisted_position(self) -> int:
        """The position last written to the state file."""
        return self._persisted

    @property
    def next_seq(self) -> int:
        """Sequence number the next appended event gets."""
        return self._next_seq

    def pending(self) -> int:
        return self._unread_count + self._inflight_unacked

    def closing(self) -> bool:
        """close() (or abandon()) has begun: appends are dropped, get returns None."""
        return self._closing

    # -- append --------------------------------------------------------------------------

    async def append(self, events: Sequence[bytes]) -> int:
        if not events:
            return 0
        if self._closing:
            self._drop(len(events), "closed")
            return 0
        payloads = list(events)
        while True:
            request = await self._submit(payloads)
            if request is None:
                return 0
            # outside the lock: appends arriving meanwhile join the same fsync
            await request.done
            error = request.error
            if error is None:
                return len(request.payloads)
            if not await self._made_room(error, request.room_freed):
                self._drop(len(request.payloads), _reason(error), error)
                return 0
            payloads = list(request.payloads)

    async def _submit(self, payloads: list[bytes]) -> WriteRequest | None:
        """Number ``payloads`` and hand them to the writer; None if none are to be written."""
        async with self._admission:
            size = sum(map(len, payloads)) + HEADER_SIZE * len(payloads)  # of the records
            # (a payload is no longer than all of them: max() only when that is too long)
            if self._used + self._reserved + size + SEGMENT_HEADER_SIZE > self.max_size or (
                size > self._largest_payload and max(map(len, payloads)) > self._largest_payload
            ):
                payloads = await self._admit(payloads)
                if not payloads:
                    return None
                size = sum(map(len, payloads)) + HEADER_SIZE * len(payloads)
            if self.closing():  # the writer may be stopping: nothing submitted now is written
                self._drop(len(payloads), "closed")
                return None
            first = self._next_seq
            parts = frame_records(first, payloads)
            self._next_seq += len(payloads)
            self._reserved += size + SEGMENT_HEADER_SIZE  # it may start a segment
            done: asyncio.Future[None] = self._loop.create_future()
            self._submitted.add(done)
            request = WriteRequest(first, payloads, parts, size, done, room_freed=self._room_freed)
            self._writer.submit(request)
            return request

    async def _made_room(self, error: OSError, room_freed: int) -> bool:
        """After a write failed on a full disk under drop_oldest: free space the way max_size
        does (set-aside files first, then the oldest segment) so the append can be retried.
        False when it must be dropped instead. Space freed since the failed write was
        submitted is enough to retry: concurrent failures free one segment, not one each."""
        if error.errno not in _DISK_FULL or self.when_full != "drop_oldest":
            return False
        async with self._admission:
            if self._closing:
                return False
            if self._room_freed != room_freed:
                return True
            if self._corrupt:
                await self._delete_oldest_corrupt("the disk is full")
                return True
            if len(self._segments) > 1:
                await self._drop_oldest_segment("disk_full")
                return True
        return False

    async def _admit(self, payloads: list[bytes]) -> list[bytes]:
        """The events to write now; the others are counted as dropped (when_full)."""
        if max(map(len, payloads)) > self._largest_payload:
            kept = [p for p in payloads if len(p) <= self._largest_payload]
            self._drop(len(payloads) - len(kept), "too_large")
            payloads = kept
            if not payloads:
                return []
        need = sum(map(len, payloads)) + HEADER_SIZE * len(payloads) + SEGMENT_HEADER_SIZE
        while self._used + self._reserved + need > self.max_size:
            if self._freeing and self._used - self._freeing + self._reserved + need <= (
                self.max_size
            ):
                # deletions under way make room: wait for them rather than drop anything
                waiter = self._changed
                await waiter.wait()
                continue
            if self._corrupt:  # never replayed: they go first, whatever the policy
                await self._delete_oldest_corrupt(f"max_size ({self.max_size} bytes) is reached")
                continue
            if len(self._segments) == 1 and not self._reserved:
                # only the segment being written: it rolls at segment_size, which the
                # settings keep at most half of max_size, so this overshoot is bounded
                break
            if self._closing:
                self._drop(len(payloads), "closed")
                return []
            if self.when_full == "drop_newest":
                room = self.max_size - self._used - self._reserved - SEGMENT_HEADER_SIZE
                fit = 0
                for payload in payloads:
                    room -= len(payload) + HEADER_SIZE
                    if room < 0:
                        break
                    fit += 1
                self._drop(len(payloads) - fit, "full")
                return payloads[:fit]
            if self.when_full == "drop_oldest" and len(self._segments) > 1:
                await self._drop_oldest_segment()
                continue
            # block; or writes under way may seal a segment that can then be dropped
            waiter = self._changed
            await waiter.wait()
        return payloads

    async def _drop_oldest_segment(self, reason: str = "full") -> None:
        seg = self._segments.pop(0)
        seg.gone = True
        unread = seg.count - seg.taken
        seg.taken = seg.count
        self._unread_count -= unread
        self._used -= seg.size
        self._room_freed += 1
        self._drop_floor = max(self._drop_floor, seg.end)
        if unread:
            self._drop(unread, reason, notice=f"{reason}/oldest")
        self._advance_position()
        self._gauges()
        # a descriptor the reader keeps open on it would keep its blocks allocated
        await self._io(self._reader.release, seg)
        await self._unlink([seg.path])

    async def _delete_oldest_corrupt(self, why: str) -> None:
        path, size = self._corrupt.popleft()
        self._used -= size
        self._room_freed += 1
        self.metrics.add("spool.corrupt.deleted")
        log.warning("deleted %s (%d bytes, set aside as damaged): %s", path, size, why)
        self._gauges()
        await self._unlink([path])

    def _report(self, outcome: GroupOutcome | None) -> None:
        """Called in the writer thread."""
        # RuntimeError: the event loop is gone (an abandoned spool)
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._on_group, outcome)

    def _on_group(self, outcome: GroupOutcome | None) -> None:
        if outcome is None:
            if not self._writer_stopped.done():
                self._writer_stopped.set_result(None)
            return
        if self._abandoned:
            for request in outcome.requests:
                request.done.cancel()
            return
        for first, path in outcome.new_segments:
            if self._segments[-1].first == first:
                continue  # an empty segment replaced by a fresh one of the same name
            self._segments.append(SegmentInfo(first, path, 0, first))
        touched = {s.first: s for s in self._segments[-(len(outcome.new_segments) + 2) :]}
        for first, size in outcome.sizes.items():
            seg = touched.get(first)
            if seg is not None:
                self._used += size - seg.size
                seg.size = size
                seg.crc = outcome.crcs.get(first)
                if seg.crc is not None:  # replay reads what it wrote range by range
                    seg.checkpoints.mark(size, seg.crc)
        appended = 0
        for request in outcome.requests:
            self._reserved -= request.size + SEGMENT_HEADER_SIZE
            count = len(request.payloads)
            if request.error is None:
                seg = touched[request.segment]
                seg.end = request.first + count
                seg.count += count
                self._unread_count += count
                appended += count
                self._reader.feed(seg, request.start, request.end, request.first, request.payloads)
            self._submitted.discard(request.done)
            if not request.done.done():
                request.done.set_result(None)
        if outcome.failure is not None:
            # number new appends from the last durable record again
            self._next_seq = outcome.next_seq
        self.metrics.add("spool.events.appended", appended)
        if outcome.fsyncs:
            self.metrics.add("spool.fsync.count", outcome.fsyncs)
            self.metrics.add("spool.fsync.seconds", outcome.fsync_seconds)
            self.metrics.set(
                "spool.fsync.latency_ms", outcome.fsync_seconds / outcome.fsyncs * 1000
            )
        self._gauges()
        self._notify()

    # -- get / ack -----------------------------------------------------------------------

    async def get(self, max_events: int) -> Batch | None:
        if max_events < 1:
            raise ValueError(f"get of {max_events} events")
        async with self._read_lock:
            while not self._reader.buffered():
                if self._closing:
                    return None
                lost = await self._reader.read_more(self._io)
                if lost is None:  # nothing stored past what was handed out
                    waiter = self._changed
                    await waiter.wait()
                elif lost:
                    self._unreadable(lost)
            if self._closing:
                return None
            first, events = self._reader.take(max_events)
        self._read_ahead()
        count = len(events)
        self._unread_count -= count
        self._inflight_unacked += count
        batch = Batch(first=first, events=events)
        self._inflight.append(batch)
        return batch

    def _read_ahead(self) -> None:
        """Decode the next events while the output sends these: a get then finds them
        buffered instead of waiting for a read (the reader keeps at most READ_AHEAD and the
        rest of one checked range)."""
        if self._closing or self._read_ahead_task is not None or not self._reader.wants_more():
            return
        self._read_ahead_task = self._loop.create_task(self._read_ahead_once(), name="spool-read")

    async def _read_ahead_once(self) -> None:
        try:
            async with self._read_lock:
                # more than one read when one only steps to the next segment
                while not self._closing and self._reader.wants_more():
                    lost = await self._reader.read_more(self._io)
                    if lost is None:
                        return
                    if lost:
                        self._unreadable(lost)
        finally:
            self._read_ahead_task = None

    def _unreadable(self, lost: int) -> None:
        self._unread_count -= lost
        self.metrics.add("spool.events.dropped", lost, reason="read_error")
        self._gauges()

    def ack(self, batch: Batch, count: int) -> None:
        newly = batch.advance(count)
        if not newly:
            return
        self._inflight_unacked -= newly
        self.metrics.add("spool.events.acked", newly)
        inflight = self._inflight
        while inflight and inflight[0].acked == len(inflight[0].events):
            inflight.popleft()
        self._advance_position()
        self.metrics.set("spool.events.pending", self.pending())
        self._notify()

    def _advance_position(self) -> None:
        """Move the in-memory position over the acknowledged prefix; persist it later."""
        if self._inflight:
            head = self._inflight[0]
            position = head.first + head.acked
        else:
            position = self._reader.next_seq()
        position = max(position, self._drop_floor)
        if position > self._position:
            self._position = position
            if not self._abandoned:
                self._schedule_persist()

    async def wait_drained(self) -> None:
        while self.pending():
            waiter = self._changed
            await waiter.wait()

    # -- persisting the position and deleting segments -----------------------------------

    def _schedule_persist(self) -> None:
        if self._closed or self._abandoned:
            return
        self._persist_kick.set()
        if self._persist_task is None or self._persist_task.done():
            self._persist_task = self._loop.create_task(self._persist(), name="spool-persist")

    async def _persist(self) -> None:
        delay = 1.0
        while not self._abandoned:
            self._persist_kick.clear()
            target = self._position
            if target > self._persisted:
                try:
                    await self._io(write_state, self.directory, target)
                except OSError as exc:
                    if exc.errno in (
                        errno.ENOSPC,
                        errno.EDQUOT,
                    ) and await self._delete_acknowledged(target):
                        # the disk is full of our own acknowledged segments: deleting them
                        # before the position is saved is safe (a crash now replays from the
                        # oldest segment left, which holds nothing older than ``target``)
                        continue
                    self._notices.dropped(
                        "state",
                        1,
                        f"cannot save the spool position in {self.directory} ({exc}); "
                        "retrying (%d failures): until it succeeds, a restart sends "
                        "acknowledged events again",
                    )
                    if self._closing:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._persist_kick.wait(), delay)
                    delay = min(delay * 2, 30.0)
                    continue
                delay = 1.0
                self._persisted = target
                self.metrics.add("spool.state.writes")
            await self._delete_acknowledged(self._persisted)
            if self._position <= self._persisted:
                return

    async def _delete_acknowledged(self, below: int) -> bool:
        """Delete sealed segments wholly below position ``below``; True if any went."""
        doomed: list[SegmentInfo] = []
        while len(self._segments) > 1 and self._segments[0].end <= below:
            seg = self._segments.pop(0)
            seg.gone = True
            doomed.append(seg)
        if doomed:
            freed = sum(seg.size for seg in doomed)
            self._freeing += freed
            try:
                await self._unlink([s.path for s in doomed])
            finally:
                self._freeing -= freed
                self._used -= freed
                self._gauges()
                self._notify()
        return bool(doomed)

    async def _unlink(self, paths: list[str]) -> None:
        try:
            await self._io(_unlink_all, paths)
        except OSError as exc:
            log.warning("cannot delete spool segment: %s", exc)

    async def flush(self) -> None:
        """Persist the acknowledged position now and delete the segments it frees."""
        self._schedule_persist()
        if self._persist_task is not None:
            await asyncio.shield(self._persist_task)

    # -- shutdown ------------------------------------------------------------------------

    async def close(self) -> None:
        if self._close_task is None:
            self._close_task = self._loop.create_task(self._close(), name="spool-close")
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        self._closing = True
        self._notify()
        self._writer.stop()
        await self._writer_stopped
        self._schedule_persist()
        assert self._persist_task is not None
        await self._persist_task
        # the next open verifies each sealed segment with one CRC pass instead of a scan
        await self._io(write_seals, self.directory, self._seals())
        async with self._read_lock:
            await self._io(self._reader.close)
        await asyncio.to_thread(self._executor.shutdown)
        os.close(self._lock_fd)
        self._closed = True
        self._notices.flush()
        self._notify()
        left = self.pending()
        if left:
            log.info("spool closed with %d events to deliver after the next start", left)

    async def abandon(self) -> None:
        """Stop as a killed process would: write nothing more, persist nothing.

        The write under way (already handed to the kernel) completes, as it would in a
        real crash. For crash tests.
        """
        self._abandoned = True
        self._closing = True
        self._writer.abandon()
        await self._writer_stopped
        if self._persist_task is not None:
            self._persist_task.cancel()
        if self._read_ahead_task is not None:
            self._read_ahead_task.cancel()
        await asyncio.to_thread(self._executor.shutdown)
        self._reader.close()
        os.close(self._lock_fd)
        for done in self._submitted:
            done.cancel()
        self._closed = True
        self._notify()

    # -- helpers -------------------------------------------------------------------------

    def _seals(self) -> list[Seal]:
        return [
            Seal(s.first, s.size, s.end, s.crc)
            for s in self._segments
            if s.crc is not None and not s.gone and s.size >= SEGMENT_HEADER_SIZE
        ]

    async def _io(self, fn: Callable[..., T], *args: object) -> T:
        return await self._loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _gauges(self) -> None:
        self.metrics.set("spool.events.pending", self.pending())
        self.metrics.set("spool.bytes", self._used)
        if len(self._segments) != self._segments_gauge:
            self._segments_gauge = len(self._segments)
            self.metrics.set("spool.segments", self._segments_gauge)

    def _drop(
        self, count: int, reason: str, error: OSError | None = None, notice: str = ""
    ) -> None:
        """Count dropped events; ``notice`` names the log line (default: the reason)."""
        if not count:
            return
        self.metrics.add("spool.events.dropped", count, reason=reason)
        # every drop is logged at once, never summed for later: a count held back for a
        # rate-limited line would be lost to a SIGKILL, and drops come at most once per
        # append (a poll), so the lines stay few
        log.warning(_drop_message(self, notice or reason, error), count)


def _reason(error: OSError) -> str:
    return "disk_full" if error.errno in _DISK_FULL else "write_error"


def _drop_message(spool: DiskSpool, reason: str, error: OSError | None) -> str:
    where = spool.directory.replace("%", "%%")
    cause = (error.strerror or str(error)) if error is not None else ""
    cause = cause.replace("%", "%%")
    if reason in ("full", "full/oldest"):
        which = "oldest" if spool.when_full == "drop_oldest" else "newest"
        return (
            f"spool {where} is full (max_size {spool.max_size} bytes): dropped %d of the "
            f"{which} events (when_full: {spool.when_full})"
        )
    if reason == "disk_full/oldest":
        return (
            f"no space left on the disk of spool {where}: deleted its oldest segment, "
            f"dropped %d of the oldest events (when_full: {spool.when_full})"
        )
    if reason == "disk_full":
        return (
            f"no space left to store events in spool {where} ({cause}): dropped %d events; "
            "appends resume as soon as space is freed"
        )
    if reason == "write_error":
        return f"cannot write to spool {where} ({cause}): dropped %d events"
    if reason == "too_large":
        return f"dropped %d events larger than queue.spool.max_size ({spool.max_size} bytes)"
    return f"spool {where} is closed: dropped %d events appended during shutdown"


def _unlink_all(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
