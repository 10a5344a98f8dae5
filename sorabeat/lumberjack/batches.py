"""The Logstash output's batch queue: batches waiting to be cut into windows.

Each batch given to ``publish`` is a ``Job``; it waits in one FIFO of ``Segment``s
(consecutive events of a job). Connections ``take`` windows from the front; after a failure
the unacknowledged remainder of each window a connection had in flight is ``requeue``d to the
front, oldest first, so it is resent before anything newer and never an acknowledged event
again. No sockets or tasks here: connections and their wake-ups live in ``session`` and
``output``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from sorabeat.outputs.base import AckFn


class Job:
    """One batch given to ``publish``: reports its acknowledged prefix as windows of it are
    acknowledged, possibly out of order across connections."""

    def __init__(self, events: Sequence[bytes], ack: AckFn) -> None:
        self.events = events
        self.ack = ack
        self.prefix = 0
        self.cancelled = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acked: dict[int, int] = {}  # start -> end of acknowledged runs past the prefix

    def acknowledge(self, start: int, end: int) -> None:
        if end <= start or self.cancelled:
            return
        self._acked[start] = max(end, self._acked.get(start, start))
        before = self.prefix
        while self.prefix in self._acked:
            self.prefix = self._acked.pop(self.prefix)
        if self.prefix != before:
            self.ack(self.prefix)
            if self.prefix >= len(self.events) and not self.done.done():
                self.done.set_result(None)


@dataclass
class Segment:
    """Events ``start:end`` of a job: waiting in the queue, or a window in flight."""

    job: Job
    start: int
    end: int
    acked: int = 0  # events of this window acknowledged on the connection carrying it

    def __len__(self) -> int:
        return self.end - self.start

    @property
    def events(self) -> Sequence[bytes]:
        return self.job.events[self.start : self.end]


class BatchQueue:
    """Segments waiting to be sent, oldest first."""

    def __init__(self) -> None:
        self._segments: deque[Segment] = deque()

    def __len__(self) -> int:
        return len(self._segments)

    def add(self, job: Job) -> None:
        """A new batch, behind everything waiting."""
        self._segments.append(Segment(job, 0, len(job.events)))

    def drop(self, job: Job) -> None:
        """Forget what waits of a cancelled job."""
        self._segments = deque(s for s in self._segments if s.job is not job)

    def has_work(self) -> bool:
        return any(not s.job.cancelled for s in self._segments)

    def take(self, size: int) -> Segment | None:
        """The next window of at most ``size`` events, cut from the front segment."""
        while self._segments:
            segment = self._segments.popleft()
            if segment.job.cancelled:
                continue
            if len(segment) > size:
                self._segments.appendleft(Segment(segment.job, segment.start + size, segment.end))
                segment = Segment(segment.job, segment.start, segment.start + size)
            return segment
        return None

    def requeue(self, windows: Sequence[Segment]) -> int:
        """Put the unacknowledged remainders back in front, oldest first; return how many."""
        count = 0
        for segment in reversed(windows):
            if segment.job.cancelled or segment.acked >= len(segment):
                continue
            rest = Segment(segment.job, segment.start + segment.acked, segment.end)
            self._segments.appendleft(rest)
            count += len(rest)
        return count
