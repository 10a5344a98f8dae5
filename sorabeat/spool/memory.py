"""``queue.mem``: the spool interface kept in memory only (events are lost on exit)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.base import Batch
from sorabeat.spool.settings import MemQueueSettings

log = logging.getLogger("sorabeat.spool")


class MemoryQueue:
    """A bounded FIFO of encoded events.

    Events handed to an output stay counted until acknowledged, but their bytes live in the
    Batch the output holds, so the queue itself keeps only the unread ones.
    """

    def __init__(self, settings: MemQueueSettings, metrics: Registry | None = None) -> None:
        self.capacity = settings.events
        self.when_full = settings.when_full
        self.metrics = metrics or Registry()
        self._unread: deque[bytes] = deque()
        self._next = 0  # position of _unread[0]
        self._in_flight_count = 0
        self._changed = asyncio.Event()
        self._closed = False

    def pending(self) -> int:
        return len(self._unread) + self._in_flight_count

    def closed(self) -> bool:
        return self._closed

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def append(self, events: Sequence[bytes]) -> int:
        if self._closed:
            self._drop(len(events), "closed")
            return 0
        stored = 0
        remaining = list(events)
        while remaining:
            room = self.capacity - self.pending()
            if room <= 0 and self.closed():  # closed while this append was blocked
                self._drop(len(remaining), "closed")
                break
            if room <= 0:
                if self.when_full == "block":
                    waiter = self._changed
                    await waiter.wait()
                    continue
                if self.when_full == "drop_newest" or not self._unread:
                    self._drop(len(remaining), "full")
                    break
                # drop_oldest: the oldest events nobody is sending yet make room
                oldest = min(len(self._unread), len(remaining))
                for _ in range(oldest):
                    self._unread.popleft()
                self._next += oldest
                self._drop(oldest, "full")
                continue
            chunk, remaining = remaining[:room], remaining[room:]
            self._unread.extend(chunk)
            stored += len(chunk)
            self.metrics.add("spool.events.appended", len(chunk))
            self._notify()
        self.metrics.set("spool.events.pending", self.pending())
        return stored

    def _drop(self, count: int, reason: str) -> None:
        if count:
            self.metrics.add("spool.events.dropped", count, reason=reason)
            log.warning(
                "queue.mem is %s: dropped %d events (when_full: %s)", reason, count, self.when_full
            )

    async def get(self, max_events: int) -> Batch | None:
        while not self._unread:
            if self._closed:
                return None
            waiter = self._changed
            await waiter.wait()
        take = min(max_events, len(self._unread))
        events = [self._unread.popleft() for _ in range(take)]
        batch = Batch(first=self._next, events=events)
        self._next += take
        self._in_flight_count += take
        return batch

    def ack(self, batch: Batch, count: int) -> None:
        newly = batch.advance(count)
        if not newly:
            return
        self._in_flight_count -= newly
        self.metrics.add("spool.events.acked", newly)
        self.metrics.set("spool.events.pending", self.pending())
        self._notify()

    async def wait_drained(self) -> None:
        while self.pending():
            waiter = self._changed
            await waiter.wait()

    async def close(self) -> None:
        self._closed = True
        lost = self.pending()
        if lost:
            log.warning("queue.mem closed with %d events not acknowledged: they are lost", lost)
        self._notify()
