"""``output.logstash``: ships batches to Logstash's beats input over Lumberjack v2.

Batches handed to ``publish`` wait in one FIFO of segments (consecutive events of a batch).
Each connection takes windows from its front: ``loadbalance: false`` gives ``worker``
connections that each use one host and fail over to the next on errors;
``loadbalance: true`` gives ``worker`` connections per host, all sending at once. A
connection keeps up to ``pipelining`` windows in flight (0 and 1: one window, then wait).

After any error the connection is dropped and the unacknowledged remainder of each window it
had in flight goes back to the front of the FIFO, in order, so it is resent before anything
newer, and never an acknowledged event again. Events are never dropped for transport
errors: they stay in the spool until acknowledged, so ``max_retries`` only exists for
configuration compatibility. A connection Logstash closed because it sat idle
(``client_inactivity_timeout``) is reopened and its window resent without counting as a
failure, without backoff and without an error in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from sorabeat.event import escape_html
from sorabeat.failure_streak import FailureStreak
from sorabeat.lumberjack import compression, protocol
from sorabeat.lumberjack.client import (
    Endpoint,
    LumberjackClient,
    PeerClosedError,
    TLSFailureError,
    TransportError,
    parse_host,
)
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.lumberjack.window import WindowSizer
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import Backoff
from sorabeat.outputs.base import AckFn

log = logging.getLogger("sorabeat.lumberjack")

COMPRESS_IN_THREAD = 256 * 1024  # windows larger than this are compressed off the loop


class _Job:
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
class _Segment:
    job: _Job
    start: int
    end: int
    acked: int = 0  # events of this window acknowledged on the connection carrying it

    def __len__(self) -> int:
        return self.end - self.start


@dataclass
class _Outcome:
    reason: str | None = None  # why the connection ended; None for a planned reconnect
    error: BaseException | None = None
    silent: bool = False  # an idle close: reconnect without backoff or error
    sent_windows: int = 0


@dataclass
class _Worker:
    endpoints: list[Endpoint]
    index: int
    sizer: WindowSizer
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class LogstashOutput:
    name = "logstash"

    def __init__(
        self,
        settings: LogstashSettings,
        metrics: Registry,
        *,
        compression_libraries: Sequence[str] = compression.LIBRARIES,
    ) -> None:
        if not settings.hosts:
            raise ValueError("output.logstash.hosts: at least one host is needed")
        self.settings = settings
        self.metrics = metrics
        self.compression_libraries = compression_libraries  # benchmarks pin ("zlib",)
        self.batch_size = settings.bulk_max_size
        self.endpoints = [parse_host(h) for h in settings.hosts]
        self.window_slots = max(1, settings.pipelining)
        if settings.loadbalance:
            plans = [[ep] for ep in self.endpoints for _ in range(settings.worker)]
        else:
            plans = [list(self.endpoints) for _ in range(settings.worker)]
        self._workers = [
            _Worker(
                plan,
                random.randrange(len(plan)),
                WindowSizer(settings.bulk_max_size, slow_start=settings.slow_start),
            )
            for plan in plans
        ]
        self.max_in_flight = len(self._workers) * self.window_slots
        self._queue: deque[_Segment] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        # per host, shared by its connections: a host that stays down is logged once a minute
        self._streaks = {str(ep): FailureStreak(f"logstash {ep}") for ep in self.endpoints}

    # --- the Output protocol -------------------------------------------------------------

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        if self._closed:
            raise RuntimeError("publish after close")
        if not events:
            return
        self._start()
        job = _Job(events, ack)
        self._queue.append(_Segment(job, 0, len(events)))
        self._wake_all()
        try:
            await job.done
        except asyncio.CancelledError:
            job.cancelled = True
            self._queue = deque(s for s in self._queue if s.job is not job)
            raise

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # --- work distribution ---------------------------------------------------------------

    def _start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(w), name=f"logstash-{n}")
                for n, w in enumerate(self._workers)
            ]

    def _wake_all(self) -> None:
        for worker in self._workers:
            worker.wake.set()

    def _take(self, size: int) -> _Segment | None:
        while self._queue:
            segment = self._queue.popleft()
            if segment.job.cancelled:
                continue
            if len(segment) > size:
                self._queue.appendleft(_Segment(segment.job, segment.start + size, segment.end))
                segment = _Segment(segment.job, segment.start, segment.start + size)
            return segment
        return None

    def _requeue(self, windows: Sequence[_Segment]) -> int:
        """Put the unacknowledged remainders back in front, oldest first; return how many."""
        count = 0
        for segment in reversed(windows):
            if segment.job.cancelled or segment.acked >= len(segment):
                continue
            rest = _Segment(segment.job, segment.start + segment.acked, segment.end)
            self._queue.appendleft(rest)
            count += len(rest)
        if count:
            self._wake_all()
        return count

    async def _wait_for_work(self, worker: _Worker) -> None:
        while not any(not s.job.cancelled for s in self._queue):
            worker.wake.clear()
            await worker.wake.wait()

    # --- one connection's life -----------------------------------------------------------

    async def _run(self, worker: _Worker) -> None:
        settings = self.settings
        backoff = Backoff(settings.backoff)
        failed_in_a_row = 0  # connect failures since the last success, over all hosts
        while True:
            await self._wait_for_work(worker)
            endpoint = worker.endpoints[worker.index % len(worker.endpoints)]
            host = str(endpoint)
            settings = self.settings  # read anew: a fixed configuration applies at once
            try:
                client = await LumberjackClient.connect(
                    endpoint, io_timeout=settings.timeout, tls=settings.ssl
                )
            except Exception as exc:
                if not isinstance(exc, TransportError):
                    # a bug must not end this connection's worker silently, leaving publish
                    # waiting forever: report it whole, back off and try again
                    log.exception("logstash %s: unexpected error while connecting", host)
                    exc = TransportError(f"unexpected {type(exc).__name__}: {exc}")
                self.metrics.add("output.failures", host=host)
                failed_in_a_row += 1
                worker.index += 1
                what = "TLS" if isinstance(exc, TLSFailureError) else "cannot connect"
                if failed_in_a_row < len(worker.endpoints):
                    self._failed(host, f"{what}: {exc}; trying the next host")
                    continue
                failed_in_a_row = 0
                wait = backoff.next_wait()
                self._failed(host, f"{what}: {exc}; retrying in {wait:.1f}s")
                await asyncio.sleep(wait)
                continue
            failed_in_a_row = 0
            log.debug("logstash %s: connected", host)
            outcome = await self._serve(worker, client, backoff)
            self.metrics.add("output.reconnects", host=host)
            if outcome.reason is None or outcome.silent:
                if outcome.silent:
                    log.debug("logstash %s: %s; reconnecting", host, outcome.reason)
                continue
            self.metrics.add("output.failures", host=host)
            worker.sizer.failed()
            if len(worker.endpoints) > 1:
                worker.index += 1
            wait = backoff.next_wait()
            self._failed(host, f"{outcome.reason}; retrying in {wait:.1f}s")
            await asyncio.sleep(wait)

    def _failed(self, host: str, reason: str) -> None:
        line = self._streaks[host].failed(reason)
        if line is not None:
            log.error("%s", line)

    def _succeeded(self, host: str) -> None:
        line = self._streaks[host].succeeded()
        if line is not None:
            log.info("%s", line)

    async def _serve(self, worker: _Worker, client: LumberjackClient, backoff: Backoff) -> _Outcome:
        """Send windows and read ACKs until the connection fails or reaches its ttl."""
        host = str(client.endpoint)
        windows: deque[_Segment] = deque()  # in flight, oldest first
        state = _Outcome()
        loop = asyncio.get_running_loop()
        sent_at: deque[float] = deque()
        resumed_at_acks: list[int] = []  # acks seen when a window went out on an idle link
        ack_event = asyncio.Event()

        def on_progress(progress: protocol.AckProgress) -> None:
            segment = windows[0]
            segment.job.acknowledge(
                segment.start + progress.acked - progress.newly, segment.start + progress.acked
            )
            segment.acked = progress.acked
            self.metrics.add("output.events.acked", progress.newly, host=host)
            if progress.complete:
                windows.popleft()
                started = sent_at.popleft()
                self.metrics.set("output.rtt_ms", (loop.time() - started) * 1000, host=host)
                worker.sizer.succeeded(len(segment.job.events))
                backoff.reset()
                self._succeeded(host)  # back only once a window made it, not on connect
                ack_event.set()

        async def sender() -> None:
            settings = self.settings
            while True:
                if settings.ttl > 0 and client.age() >= settings.ttl:
                    while windows:  # ttl: finish what is in flight, then reconnect
                        ack_event.clear()
                        await ack_event.wait()
                    return
                if len(windows) >= self.window_slots:
                    ack_event.clear()
                    await ack_event.wait()
                    continue
                segment = self._take(worker.sizer.next_size(self.batch_size))
                if segment is None:
                    worker.wake.clear()
                    waiter = asyncio.ensure_future(worker.wake.wait())
                    try:
                        if settings.ttl > 0:
                            remaining = settings.ttl - client.age()
                            await asyncio.wait({waiter}, timeout=max(remaining, 0))
                        else:
                            await waiter
                    finally:
                        waiter.cancel()
                    continue
                if not windows and state.sent_windows:
                    resumed_at_acks[:] = [client.acks_seen]  # first window after an idle spell
                elif not windows:
                    resumed_at_acks.clear()
                windows.append(segment)
                sent_at.append(loop.time())
                data = await self._encode(segment)
                await client.send(data, len(segment))
                state.sent_windows += 1
                self.metrics.add("output.windows.sent", host=host)
                self.metrics.add("output.write.bytes", len(data), host=host)

        send_task = asyncio.create_task(sender())
        receive_task = asyncio.create_task(client.receive(on_progress))
        try:
            await asyncio.wait({send_task, receive_task}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            client.abort()
            self._requeue(list(windows))
            raise
        finally:
            for task in (send_task, receive_task):
                task.cancel()
            for task in (send_task, receive_task):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if send_task.done() and not send_task.cancelled() and send_task.exception() is None:
            await client.close()  # ttl reached: nothing in flight
            worker.sizer.reset()
            return state
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
            not windows or (bool(resumed_at_acks) and client.acks_seen == resumed_at_acks[0])
        )
        retried = self._requeue(list(windows))
        if retried:
            self.metrics.add("output.events.retried", retried, host=host)
        state.error = error
        state.silent = idle_close
        state.reason = self._reason(error)
        if idle_close:
            state.reason = f"connection closed while idle ({state.reason})"
        return state

    @staticmethod
    def _reason(error: BaseException) -> str:
        if isinstance(error, protocol.ProtocolError):
            return f"protocol error: {error}"
        if isinstance(error, TLSFailureError):
            return f"TLS: {error}"
        if isinstance(error, TransportError):
            return str(error)
        return f"{type(error).__name__}: {error}"

    async def _encode(self, segment: _Segment) -> bytes:
        events = segment.job.events[segment.start : segment.end]
        if self.settings.escape_html:
            events = [escape_html(e) for e in events]
        frames = protocol.json_frames(events)
        level = self.settings.compression_level
        if level > 0:
            deflate = compression.deflater(level, self.compression_libraries)
            if len(frames) > COMPRESS_IN_THREAD:
                # the libraries release the GIL: the loop goes on writing and reading ACKs
                compressed = await asyncio.to_thread(deflate, frames)
            else:
                compressed = deflate(frames)
            frames = protocol.compressed_frame(compressed)
        return protocol.window_frame(len(events)) + frames
