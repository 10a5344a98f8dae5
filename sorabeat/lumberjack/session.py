"""One Logstash connection's life: send windows taken from the batch queue, read their ACKs,
and end with a ``SessionEnd`` saying why (a failure, an idle close, or the ttl).

A session keeps up to ``window_slots`` windows in flight. When it ends on an error, the
unacknowledged remainder of each window in flight goes back to the front of the queue. A
connection with events waiting and none acknowledged for ``stall_timeout`` (keepalives do not
count) logs a warning and shows in the ``output.stalled.*`` gauges; with ``move_stalled`` its
windows are also requeued for the other hosts while it stays open for late ACKs. A
connection that Logstash closed because it sat idle (``client_inactivity_timeout``) ends
``silent``: the output reconnects without backoff and without an error in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sorabeat.event import escape_html
from sorabeat.lumberjack import protocol
from sorabeat.lumberjack.batches import BatchQueue, Segment
from sorabeat.lumberjack.client import (
    LumberjackClient,
    PeerClosedError,
    TLSFailureError,
    TransportError,
)
from sorabeat.lumberjack.hosts import Endpoint
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.lumberjack.stall import AckStall
from sorabeat.lumberjack.window import WindowSizer
from sorabeat.monitoring.registry import Registry

log = logging.getLogger("sorabeat.lumberjack")

COMPRESS_IN_THREAD = 256 * 1024  # windows larger than this are encoded off the loop


@dataclass
class Worker:
    """One connection slot of the output: the hosts it may use (in failover order), which one
    is next, its window size, and the event that wakes it when work arrives."""

    endpoints: list[Endpoint]
    index: int
    sizer: WindowSizer
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class SessionEnd:
    reason: str | None = None  # why the connection ended; None for a planned reconnect (ttl)
    error: BaseException | None = None
    silent: bool = False  # an idle close: reconnect without backoff or error
    sent_windows: int = 0


async def encode_window(
    events: Sequence[bytes], settings: LogstashSettings, deflate: protocol.NewDeflate
) -> bytes:
    """The window's bytes; a large compressed window is built in a worker thread so the loop
    keeps reading ACKs meanwhile."""
    if settings.escape_html:
        events = [escape_html(e) for e in events]
    level = settings.compression_level
    if level > 0 and protocol.frames_size(events) > COMPRESS_IN_THREAD:
        return await asyncio.to_thread(protocol.encode_window, events, level, deflate)
    return protocol.encode_window(events, level, deflate)


def describe_failure(error: BaseException) -> str:
    if isinstance(error, protocol.ProtocolError):
        return f"protocol error: {error}"
    if isinstance(error, TLSFailureError):
        return f"TLS: {error}"
    if isinstance(error, TransportError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class Session:
    """Sends windows and reads ACKs on one open connection until it fails or reaches its ttl.

    ``settings`` is read anew before each step, so a fixed configuration applies at once.
    ``window_acked`` is called each time a whole window is acknowledged (the output resets
    its backoff and logs a recovery); ``work_requeued`` after events went back to the queue.
    ``move_stalled``: requeue the windows of a stalled connection for other hosts.
    """

    def __init__(
        self,
        client: LumberjackClient,
        worker: Worker,
        queue: BatchQueue,
        *,
        settings: Callable[[], LogstashSettings],
        window_slots: int,
        batch_size: int,
        metrics: Registry,
        deflate: protocol.NewDeflate,
        window_acked: Callable[[], None],
        work_requeued: Callable[[], None],
        move_stalled: bool = False,
    ) -> None:
        self.client = client
        self.worker = worker
        self.queue = queue
        self.settings = settings
        self.window_slots = window_slots
        self.batch_size = batch_size
        self.metrics = metrics
        self.deflate = deflate
        self.window_acked = window_acked
        self.work_requeued = work_requeued
        self.host = str(client.endpoint)
        self.in_flight: deque[Segment] = deque()  # oldest first
        self.sent_at: deque[float] = deque()  # loop time each window in flight was sent
        self.sent_windows = 0
        # ACK frames seen when the first window after an idle spell went out: if none came
        # since and the server closes, the close was for idleness, not for that window
        self.acks_when_resumed: int | None = None
        self.acked = asyncio.Event()  # set after each acknowledged window
        self.move_stalled = move_stalled
        self.stall = AckStall(settings().stall_timeout, asyncio.get_running_loop().time())

    # --- the two halves of a connection --------------------------------------------------

    def on_progress(self, progress: protocol.AckProgress) -> None:
        """An ACK for the oldest window in flight."""
        segment = self.in_flight[0]
        newly = segment.job.acknowledge(
            segment.start + progress.acked - progress.newly, segment.start + progress.acked
        )
        segment.acked = progress.acked
        # a late ACK for a moved window counts only events no other host acknowledged
        self.metrics.add("output.events.acked", newly, host=self.host)
        if progress.newly and self.stall.acknowledged(asyncio.get_running_loop().time()):
            self._stall_ended()
        if progress.complete:
            self.in_flight.popleft()
            started = self.sent_at.popleft()
            rtt_ms = (asyncio.get_running_loop().time() - started) * 1000
            self.metrics.set("output.rtt_ms", rtt_ms, host=self.host)
            self.worker.sizer.succeeded(len(segment.job.events))
            self.window_acked()  # back only once a window made it, not on connect
            self.acked.set()

    async def _wait_for_an_ack(self) -> None:
        self.acked.clear()
        await self.acked.wait()

    async def _wait_for_work(self, ttl: float) -> None:
        self.worker.wake.clear()
        waiter = asyncio.ensure_future(self.worker.wake.wait())
        try:
            if ttl > 0:
                remaining = ttl - self.client.age()
                await asyncio.wait({waiter}, timeout=max(remaining, 0))
            else:
                await waiter
        finally:
            waiter.cancel()

    async def send_windows(self) -> None:
        """Send until the ttl is reached and everything in flight is acknowledged (returns),
        or the connection fails (raises)."""
        client = self.client
        while True:
            settings = self.settings()
            if settings.ttl > 0 and client.age() >= settings.ttl:
                while self.in_flight:  # ttl: finish what is in flight, then reconnect
                    await self._wait_for_an_ack()
                return
            if len(self.in_flight) >= self.window_slots or self.stall.stalled:
                await self._wait_for_an_ack()  # stalled: send nothing more to this host
                continue
            segment = self.queue.take(self.worker.sizer.next_size(self.batch_size))
            if segment is None:
                await self._wait_for_work(settings.ttl)
                continue
            if not self.in_flight:
                self.acks_when_resumed = client.acks_seen if self.sent_windows else None
                self.stall.waiting_began(asyncio.get_running_loop().time())
            self.in_flight.append(segment)
            self.sent_at.append(asyncio.get_running_loop().time())
            data = await encode_window(segment.events, settings, self.deflate)
            await client.send(data, len(segment))
            self.sent_windows += 1
            self.metrics.add("output.windows.sent", host=self.host)
            self.metrics.add("output.write.bytes", len(data), host=self.host)

    # --- stalls: keepalives but no acknowledged event -----------------------------------

    def waiting(self) -> int:
        """Events sent on this connection and not acknowledged yet."""
        return sum(len(s) - s.acked for s in self.in_flight)

    async def watch_for_stalls(self) -> None:
        limit = self.stall.limit
        if limit <= 0:
            return
        loop = asyncio.get_running_loop()
        step = min(limit / 4, 5.0)  # how fresh output.stalled.seconds is
        while True:
            await asyncio.sleep(step)
            now = loop.time()
            waiting = self.waiting()
            if self.stall.check(now, waiting):
                self._stall_began(now, waiting)
            if self.stall.stalled:
                self.metrics.set("output.stalled.seconds", self.stall.seconds(now), host=self.host)
                self.metrics.set("output.stalled.events", self.waiting(), host=self.host)

    def _stall_began(self, now: float, waiting: int) -> None:
        seconds = self.stall.seconds(now)
        self.metrics.set(
            "output.stalled.connections",
            self.metrics.gauge("output.stalled.connections", host=self.host) + 1,
            host=self.host,
        )
        self.metrics.add("output.stalls", host=self.host)
        action = "waiting for it (only ACK 0 keepalives: is the Logstash pipeline stuck?)"
        if self.move_stalled:
            moved = self.queue.move(list(self.in_flight))
            if moved:
                self.metrics.add("output.events.moved", moved, host=self.host)
                self.work_requeued()
            action = f"resending {moved} through the other hosts, keeping this connection"
        log.warning(
            "logstash %s: no event acknowledged for %.1fs while %d events wait; %s",
            self.host,
            seconds,
            waiting,
            action,
        )

    def _stall_ended(self, *, acknowledged: bool = True) -> None:
        left = self.metrics.gauge("output.stalled.connections", host=self.host) - 1
        self.metrics.set("output.stalled.connections", max(0, left), host=self.host)
        if left <= 0:
            self.metrics.set("output.stalled.seconds", 0, host=self.host)
            self.metrics.set("output.stalled.events", 0, host=self.host)
        if acknowledged:
            log.info("logstash %s: events acknowledged again", self.host)

    # --- the whole life ------------------------------------------------------------------

    async def run(self) -> SessionEnd:
        client = self.client
        send_task = asyncio.create_task(self.send_windows())
        receive_task = asyncio.create_task(client.receive(self.on_progress))
        watch_task = asyncio.create_task(self.watch_for_stalls())
        try:
            await asyncio.wait({send_task, receive_task}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            client.abort()
            self._requeue()
            raise
        finally:
            for task in (send_task, receive_task, watch_task):
                task.cancel()
            for task in (send_task, receive_task, watch_task):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self.stall.stalled:
                self.stall.stalled = False
                self._stall_ended(acknowledged=False)  # the connection ended stalled
        if send_task.done() and not send_task.cancelled() and send_task.exception() is None:
            await client.close()  # ttl reached: nothing in flight
            self.worker.sizer.reset()
            return SessionEnd(sent_windows=self.sent_windows)
        client.abort()
        error = next(
            (
                t.exception()
                for t in (send_task, receive_task)
                if t.done() and not t.cancelled() and t.exception() is not None
            ),
            None,
        )
        if error is None:
            raise AssertionError("a connection task ended without a result")
        idle_close = isinstance(error, PeerClosedError) and (
            not self.in_flight
            or (self.acks_when_resumed is not None and client.acks_seen == self.acks_when_resumed)
        )
        retried = self._requeue()
        if retried:
            self.metrics.add("output.events.retried", retried, host=self.host)
        reason = describe_failure(error)
        if idle_close:
            reason = f"connection closed while idle ({reason})"
        return SessionEnd(reason, error, idle_close, self.sent_windows)

    def _requeue(self) -> int:
        count = self.queue.requeue(list(self.in_flight))
        if count:
            self.work_requeued()
        return count
