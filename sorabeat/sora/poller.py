"""Polls one metricset of one Sora host on its own schedule and hands the events on."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from sorabeat.credentials import SecretScrubber
from sorabeat.event import MetricsetEncoder, event_timestamp
from sorabeat.failure_streak import FailureStreak
from sorabeat.monitoring.registry import Registry
from sorabeat.sora import client as sora_client
from sorabeat.sora.connections import Document
from sorabeat.sora.field_types import InvalidFieldLog
from sorabeat.sora.hosts import SoraHost
from sorabeat.sora.metricset import Metricset, NotJSONError, ResponseError
from sorabeat.spool.base import EventSink

log = logging.getLogger("sorabeat.sora")

Batch = tuple[MetricsetEncoder, list[Document]]  # documents of one metricset of a poll


def _drain(documents: list[Document]) -> Iterator[Document]:
    """Hand out the documents, forgetting each once it is encoded: the events of a large
    poll then replace its documents in memory instead of adding to them."""
    documents.reverse()
    while documents:
        yield documents.pop()


def next_tick(now: float, period: float) -> float:
    """The first wall-clock multiple of ``period`` strictly after ``now``.

    Aligning ticks to the period (not to the start time) gives every host the same
    timestamps, so dashboards can add hosts up.
    """
    tick = math.ceil(now / period) * period
    return tick + period if tick <= now else tick


class MetricsetPoller:
    def __init__(
        self,
        *,
        host: SoraHost,
        metricset: Metricset,
        period: float,
        timeout: float,
        max_response_size: int,
        headers: dict[str, str],
        http: httpx.AsyncClient,
        encoders: Mapping[str, MetricsetEncoder],
        sink: EventSink,
        metrics: Registry,
        clock: Callable[[], float] = time.time,
        scrubber: SecretScrubber | None = None,
    ) -> None:
        """``encoders`` has one encoder for each metricset ``metricset`` emits."""
        self.host = host
        self.metricset = metricset
        self.period = period
        self.timeout = timeout
        self.max_response_size = max_response_size
        self.headers = headers
        self.http = http
        missing = [name for name in metricset.emits if name not in encoders]
        if missing:
            raise ValueError(f"no encoder for metricset {missing[0]!r}")
        self.encoders = [encoders[name] for name in metricset.emits]
        self.sink = sink
        self.metrics = metrics
        self.clock = clock
        # the error event of every failed poll is shipped; the log says it once a minute
        self.failures = FailureStreak(f"sora {metricset.name} from {host.address}")
        self.invalid_log = InvalidFieldLog(host.address, metricset.name)
        # an error message may quote the response, and a server may echo our credentials
        self.scrubber = scrubber or SecretScrubber(())
        self.metricsets = metricset.emits

    async def poll_once(self) -> list[bytes]:
        """Fetch once and return the encoded events (one error event per emitted metricset
        if the fetch failed)."""
        started_ms = time.time_ns() // 1_000_000
        t0 = time.perf_counter_ns()
        name = self.metricset.name
        labels = {"host": self.host.address, "metricset": name}
        try:
            batches = await self._fetch(started_ms)
            duration = time.perf_counter_ns() - t0
            events = [
                event
                for encoder, documents in batches
                for event in encoder.encode(started_ms, duration, _drain(documents))
            ]
        except sora_client.FetchError as exc:
            message = str(exc)
            line = self.failures.failed(message)
            if line is not None:
                log.warning("%s", line)
        except Exception as exc:  # a bug must not stop this poller, nor hide: log it whole
            message = f"internal error handling the response: {exc!r}"
            line = self.failures.failed(message)
            if line is not None:
                log.error("%s", line, exc_info=self.failures.failures == 1)
        else:
            back = self.failures.succeeded()
            if back is not None:
                log.info("%s", back)
            self.metrics.add("sora.polls.ok", 1, **labels)
            self.metrics.add("sora.events", len(events), **labels)
            log.debug("sora %s from %s: %d events", name, self.host.address, len(events))
            return events
        duration = time.perf_counter_ns() - t0
        self.metrics.add("sora.polls.failed", 1, **labels)
        message = self.scrubber.scrub(message)
        return [encoder.encode_error(started_ms, duration, message) for encoder in self.encoders]

    async def _fetch(self, started_ms: int) -> list[Batch]:
        reader = self.metricset.reader(started_ms * 1000)
        await sora_client.fetch(
            self.http,
            self.host,
            self.metricset.target,
            reader,
            time_limit=self.timeout,
            max_size=self.max_response_size,
            headers=self.headers,
            scrubber=self.scrubber,
        )
        url = self.host.url
        try:
            reading = reader.finish()
        except NotJSONError as exc:
            shown = sora_client.snippet(exc.head, self.scrubber)
            raise sora_client.FetchError(f"invalid JSON from {url} ({exc}): {shown}") from None
        except ResponseError as exc:
            raise sora_client.FetchError(f"unexpected response from {url}: {exc}") from None
        if reading.skipped:
            self.metrics.add("sora.values.skipped", reading.skipped, host=self.host.address)
            log.warning(
                "sora %s from %s: skipped %d non-numeric members of erlang_vm lists",
                self.metricset.name,
                self.host.address,
                reading.skipped,
            )
        if reading.invalid:  # left out of this fetch's events: count, log each new one once
            self.metrics.add("sora.values.invalid", len(reading.invalid), host=self.host.address)
            self.invalid_log.report(reading.invalid)
        return [
            (encoder, reading.documents.get(name, []))
            for name, encoder in zip(self.metricset.emits, self.encoders, strict=True)
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Poll at every tick until ``stop`` is set; a slow poll skips the ticks it overran.

        A fetch under way when ``stop`` is set is abandoned; an append under way finishes,
        so the spool never sees half a poll.
        """
        tick = next_tick(self.clock(), self.period)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                delay = tick - self.clock()
                if delay > 0:
                    await asyncio.wait({stopping}, timeout=delay)
                    if stop.is_set():
                        return
                if not await self._poll_and_spool(stopping):
                    return
                tick = self._following(tick)
        finally:
            stopping.cancel()

    async def _poll_and_spool(self, stopping: asyncio.Future[Any]) -> bool:
        """One poll, its events appended to the spool; False if ``stopping`` came first.

        A method of its own so that the poll's events (tens of MB at 10,000 connections)
        are released when it returns, not held by ``run`` until the next poll is built.
        """
        poll = asyncio.ensure_future(self.poll_once())
        await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not poll.done():
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
            return False
        events = poll.result()
        stored = await self.sink.append(events)
        if events and log.isEnabledFor(logging.DEBUG):
            # after append returned, these events are spooled (crash tests and the
            # fault campaign read this); dropped ones were logged by the spool
            log.debug(
                "spooled %d %s events of %s from %s%s",
                stored,
                self.metricset.name,
                event_timestamp(events[0]),
                self.host.address,
                "" if stored == len(events) else f" ({len(events) - stored} dropped)",
            )
        return True

    def _following(self, tick: float) -> float:
        now = self.clock()
        following = tick + self.period
        if following <= now:
            missed = int((now - tick) // self.period)
            self.metrics.add("sora.ticks.missed", missed, host=self.host.address)
            following = next_tick(now, self.period)
        return following
