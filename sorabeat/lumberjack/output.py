"""``output.logstash``: ships batches to Logstash's beats input over Lumberjack v2.

Batches handed to ``publish`` wait in one FIFO of segments (consecutive events of a batch).
Each connection takes windows from its front: ``loadbalance: false`` gives ``worker``
connections that each use one host and fail over to the next on errors;
``loadbalance: true`` gives ``worker`` connections per host, all sending at once. A
connection keeps ``pipelining`` + 1 windows in flight as libbeat does (go-lumber's
``AsyncClient`` queues ``pipelining - 1`` ACK callbacks in a channel, its ACK loop holds one
more, and the sender writes the next before it blocks on the full channel); 0: one window,
then wait, like libbeat's synchronous client.

After any error the connection is dropped and the unacknowledged remainder of each window it
had in flight goes back to the front of the FIFO, in order, so it is resent before anything
newer, and never an acknowledged event again. Events are never dropped for transport
errors: they stay in the spool until acknowledged, so ``max_retries`` only exists for
configuration compatibility. A connection Logstash closed because it sat idle
(``client_inactivity_timeout``) is reopened and its window resent without counting as a
failure, without backoff and without an error in the log.

The rooms, as libbeat splits ``outputs/logstash/``: ``hosts`` (endpoints), ``batches`` (the
queue of batches cut into windows), ``session`` (one connection's life, window encoding),
``window`` (slow start), ``client`` and ``protocol`` (the connection and the codec); this
module distributes the work over connections and reconnects them with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import zlib
from collections.abc import Awaitable, Callable, Sequence

from sorabeat.failure_streak import FailureStreak
from sorabeat.lumberjack import compression, protocol
from sorabeat.lumberjack.batches import BatchQueue, Job
from sorabeat.lumberjack.client import LumberjackClient, TLSFailureError, TransportError
from sorabeat.lumberjack.hosts import parse_endpoint
from sorabeat.lumberjack.session import Session, Worker
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.lumberjack.window import WindowSizer
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import Backoff, Rand
from sorabeat.outputs.base import AckFn

log = logging.getLogger("sorabeat.lumberjack")


class LogstashOutput:
    name = "logstash"

    def __init__(
        self,
        settings: LogstashSettings,
        metrics: Registry,
        *,
        compression_libraries: Sequence[str] = compression.LIBRARIES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Rand | None = None,
    ) -> None:
        """``sleep`` and ``rand`` drive the reconnect backoff (tests inject them);
        ``compression_libraries`` pins the compressors (benchmarks measure ``("zlib",)``)."""
        if not settings.hosts:
            raise ValueError("output.logstash.hosts: at least one host is needed")
        self.settings = settings
        self.metrics = metrics
        self.batch_size = settings.bulk_max_size
        self.endpoints = [parse_endpoint(h) for h in settings.hosts]
        self.window_slots = settings.pipelining + 1 if settings.pipelining > 0 else 1
        # a stalled window can only go elsewhere when the connections use different hosts
        self.move_stalled = settings.loadbalance and len(set(self.endpoints)) > 1
        if settings.loadbalance:
            plans = [[ep] for ep in self.endpoints for _ in range(settings.worker)]
        else:
            plans = [list(self.endpoints) for _ in range(settings.worker)]
        self._workers = [
            Worker(
                plan,
                random.randrange(len(plan)),
                WindowSizer(settings.bulk_max_size, slow_start=settings.slow_start),
            )
            for plan in plans
        ]
        self.max_in_flight = len(self._workers) * self.window_slots
        self._queue = BatchQueue()
        self.deflate: protocol.NewDeflate = zlib.compressobj
        if settings.compression_level > 0:
            chosen = compression.deflater(settings.compression_level, compression_libraries)
            self.deflate = chosen.stream
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._sleep = sleep
        self._rand = rand
        # per host, shared by its connections: a host that stays down is logged once a minute
        self._streaks = {str(ep): FailureStreak(f"logstash {ep}") for ep in self.endpoints}

    # --- the Output protocol -------------------------------------------------------------

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        if self._closed:
            raise RuntimeError("publish after close")
        if not events:
            return
        self._start()
        job = Job(events, ack)
        self._queue.add(job)
        self._wake_all()
        try:
            await job.done
        except asyncio.CancelledError:
            job.cancelled = True
            self._queue.drop(job)
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

    async def _wait_for_work(self, worker: Worker) -> None:
        while not self._queue.has_work():
            worker.wake.clear()
            await worker.wake.wait()

    # --- reconnecting with backoff ------------------------------------------------------------

    async def _run(self, worker: Worker) -> None:
        settings = self.settings
        backoff = Backoff(settings.backoff, self._rand)
        failed_in_a_row = 0  # connect failures since the last success, over all hosts
        while True:
            await self._wait_for_work(worker)
            endpoint = worker.endpoints[worker.index % len(worker.endpoints)]
            host = str(endpoint)
            settings = self.settings  # read anew: a fixed configuration applies at once
            try:
                client = await LumberjackClient.connect(
                    endpoint, io_timeout=settings.timeout, tls=settings.ssl, proxy=settings.proxy()
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
                await self._sleep(wait)
                continue
            failed_in_a_row = 0
            log.debug("logstash %s: connected", host)
            outcome = await self._session(worker, client, backoff).run()
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
            await self._sleep(wait)

    def _session(self, worker: Worker, client: LumberjackClient, backoff: Backoff) -> Session:
        host = str(client.endpoint)

        def window_acked() -> None:
            backoff.reset()
            self._succeeded(host)

        return Session(
            client,
            worker,
            self._queue,
            settings=lambda: self.settings,
            window_slots=self.window_slots,
            batch_size=self.batch_size,
            metrics=self.metrics,
            deflate=self.deflate,
            window_acked=window_acked,
            work_requeued=self._wake_all,
            move_stalled=self.move_stalled,
        )

    def _failed(self, host: str, reason: str) -> None:
        line = self._streaks[host].failed(reason)
        if line is not None:
            log.error("%s", line)

    def _succeeded(self, host: str) -> None:
        line = self._streaks[host].succeeded()
        if line is not None:
            log.info("%s", line)
