"""Each host and metricset polls on its own schedule: a slow host never delays another."""

from __future__ import annotations

import asyncio
import gc
import logging
import tracemalloc
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.event import AgentInfo, EnvelopeSettings, MetricsetEncoder
from sorabeat.monitoring.registry import Registry
from sorabeat.sora.hosts import parse_sora_host
from sorabeat.sora.poller import MetricsetPoller, next_tick
from sorabeat.sora.stats import StatsReport
from tools.emulators.scripted_http import Request, ScriptedServer, http_response

AGENT = AgentInfo(name="n", hostname="h", id="i", ephemeral_id="e", version="0.1.0")


@given(st.floats(0, 1e10, allow_nan=False), st.sampled_from([0.5, 1, 10, 60, 7]))
def test_next_tick_is_the_next_multiple_of_the_period(now: float, period: float) -> None:
    tick = next_tick(now, period)
    assert tick > now
    assert tick - now <= period + 1e-6 * max(1, now)
    assert abs(round(tick / period) * period - tick) <= 1e-6 * max(1, tick)


class Sink:
    def __init__(self) -> None:
        self.events: list[bytes] = []

    async def append(self, events: Any) -> int:
        self.events.extend(events)
        return len(events)


def poller(
    port: int, http: httpx.AsyncClient, sink: Sink, period: float, timeout: float
) -> MetricsetPoller:
    host = parse_sora_host(f"127.0.0.1:{port}")
    return MetricsetPoller(
        host=host,
        metricset=StatsReport(),
        period=period,
        timeout=timeout,
        max_response_size=1 << 20,
        headers={},
        http=http,
        encoders={
            "stats": MetricsetEncoder(
                EnvelopeSettings(agent=AGENT),
                metricset="stats",
                period_s=period,
                address=host.address,
            )
        },
        sink=sink,
        metrics=Registry(),
    )


async def test_slow_host_does_not_delay_a_fast_one() -> None:
    async def fast(_: Request) -> bytes:
        return http_response(200, b'{"ok":1}')

    async def slow(_: Request) -> bytes:
        await asyncio.sleep(5)
        return http_response(200, b'{"ok":1}')

    fast_server, slow_server = ScriptedServer(fast), ScriptedServer(slow)
    _, fast_port = await fast_server.start()
    _, slow_port = await slow_server.start()
    fast_sink, slow_sink = Sink(), Sink()
    stop = asyncio.Event()
    async with httpx.AsyncClient(trust_env=False, timeout=None) as http:
        tasks = [
            asyncio.ensure_future(poller(fast_port, http, fast_sink, 0.2, 0.2).run(stop)),
            asyncio.ensure_future(poller(slow_port, http, slow_sink, 0.2, 0.15).run(stop)),
        ]
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
    await fast_server.close()
    await slow_server.close()
    fast_docs = [orjson.loads(e) for e in fast_sink.events]
    slow_docs = [orjson.loads(e) for e in slow_sink.events]
    assert len(fast_docs) >= 4 and all("error" not in d for d in fast_docs)
    assert slow_docs and all("within 0.15s" in d["error"]["message"] for d in slow_docs)
    # ticks are aligned to the period: timestamps fall on multiples of 200 ms (+ scheduling slack)
    stamps = [int(d["@timestamp"][20:23]) for d in fast_docs]
    assert sum(1 for ms in stamps if ms % 200 < 60) >= len(stamps) - 1


async def test_stop_abandons_a_fetch_under_way() -> None:
    async def never(_: Request) -> bytes:
        await asyncio.sleep(30)
        return b""

    server = ScriptedServer(never)
    _, port = await server.start()
    sink, stop = Sink(), asyncio.Event()
    async with httpx.AsyncClient(trust_env=False, timeout=None) as http:
        task = asyncio.ensure_future(poller(port, http, sink, 0.1, 20).run(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 2)
    await server.close()
    assert sink.events == []


class DroppingSink(Sink):
    """A spool that is full: it stores nothing and says so."""

    async def append(self, events: Any) -> int:
        self.events.extend(events)
        return 0


async def test_the_spooled_line_counts_only_what_the_spool_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the fault campaign and crash tests take "spooled N" as durable: a dropped poll must
    # not be reported as spooled
    async def answer(_: Request) -> bytes:
        return http_response(200, b'{"ok":1}')

    server = ScriptedServer(answer)
    _, port = await server.start()
    sink, stop = DroppingSink(), asyncio.Event()
    caplog.set_level(logging.DEBUG, logger="sorabeat.sora")
    async with httpx.AsyncClient(trust_env=False, timeout=None) as http:
        task = asyncio.ensure_future(poller(port, http, sink, 0.1, 1).run(stop))
        for _ in range(100):  # bounded: up to 5 s for the first poll
            if sink.events:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)
    await server.close()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("spooled ")]
    assert sink.events and lines
    assert all(m.startswith("spooled 0 stats events") and "(1 dropped)" in m for m in lines)


class ForgettingSink(Sink):
    """A spool that stores elsewhere: it keeps nothing of what it was given, and measures
    how much memory is still traced a moment after each append."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[int] = []
        self.sizes: list[int] = []

    async def append(self, events: Any) -> int:
        self.sizes.append(sum(map(len, events)))
        asyncio.get_running_loop().call_later(0.3, self._measure)
        return len(events)

    def _measure(self) -> None:
        self.held.append(sorabeat_allocations())


def sorabeat_allocations() -> int:
    """Bytes still held that sorabeat's own code allocated (not the test's server, whose
    last answer sits in its buffers, nor httpx's)."""
    gc.collect()
    ours = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/sorabeat/*")])
    return sum(stat.size for stat in ours.statistics("filename"))


async def test_a_spooled_poll_is_not_held_until_the_next_one() -> None:
    # at 10,000 connections a poll's events are tens of MB: held by the poller while the
    # next poll builds its own, they doubled the node's peak memory
    big = 768 << 10  # under the poller's max_response_size (1 MiB)
    body = orjson.dumps({"total_ongoing_connections": 1, "label": "x" * big})

    async def answer(_: Request) -> bytes:
        return http_response(200, body)

    server = ScriptedServer(answer)
    _, port = await server.start()
    sink, stop = ForgettingSink(), asyncio.Event()
    tracemalloc.start()
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=None) as http:
            polling = poller(port, http, sink, 2.0, 5)
            baseline = sorabeat_allocations()
            task = asyncio.ensure_future(polling.run(stop))
            for _ in range(100):  # bounded: up to 10 s for a measure after the first poll
                if sink.held:
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.wait_for(task, 5)
    finally:
        tracemalloc.stop()
        await server.close()
    assert sink.held, "no poll was appended"
    assert sink.sizes[0] > big  # the report itself, not an error event
    # the response body and its event (768 KiB each) are gone once the append returned
    assert sink.held[0] - baseline < big // 2, (sink.held[0] - baseline, big)
