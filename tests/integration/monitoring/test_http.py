"""The monitoring endpoint over real loopback HTTP, and /health following a real pipeline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sorabeat.event import AgentInfo
from sorabeat.monitoring.registry import Registry
from sorabeat.monitoring.server import MonitoringServer
from sorabeat.monitoring.settings import HttpSettings
from sorabeat.outputs.base import AckFn
from sorabeat.pipeline.publish import Publisher
from sorabeat.spool.memory import MemoryQueue
from sorabeat.spool.settings import MemQueueSettings

AGENT = AgentInfo(
    name="shipper-1", hostname="host-1", id="0b6c-uuid", ephemeral_id="eph-1", version="0.1.0"
)


@contextlib.asynccontextmanager
async def serving(
    registry: Registry, unhealthy_after: float = 300.0
) -> AsyncIterator[tuple[MonitoringServer, httpx.AsyncClient]]:
    settings = HttpSettings(enabled=True, host="127.0.0.1", port=0, unhealthy_after=unhealthy_after)
    server = MonitoringServer(settings, AGENT, registry)
    await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", timeout=10, trust_env=False
        ) as client:
            yield server, client
    finally:
        await server.close()


def busy_registry() -> Registry:
    reg = Registry()
    reg.add("sora.polls.ok", 4, host="127.0.0.1:3000", metricset="stats")
    reg.add("sora.polls.failed", 1, host="127.0.0.1:3000", metricset="connections")
    reg.add("sora.events", 40, host="127.0.0.1:3000", metricset="stats")
    reg.add("spool.events.appended", 40)
    reg.add("spool.events.acked", 30)
    reg.add("spool.events.dropped", 2, reason="full")
    reg.set("spool.events.pending", 10)
    reg.set("output.latency_ms", 3.5)
    reg.add("lumberjack.events.retried", 6)
    return reg


async def test_identity() -> None:
    async with serving(Registry()) as (_, client):
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "beat": "sorabeat",
        "name": "shipper-1",
        "hostname": "host-1",
        "uuid": "0b6c-uuid",
        "ephemeral_id": "eph-1",
        "version": "0.1.0",
    }


async def test_stats_are_built_from_the_registry() -> None:
    async with serving(busy_registry()) as (_, client):
        response = await client.get("/stats")
        pretty = await client.get("/stats?pretty")
    doc = response.json()
    assert doc["beat"]["info"]["uuid"] == "0b6c-uuid"
    assert doc["beat"]["info"]["uptime"]["ms"] >= 0
    assert doc["events"] == {
        "produced": 40,
        "spooled": 40,
        "acked": 30,
        "dropped": 2,
        "pending": 10,
    }
    assert doc["sora"]["polls"]["ok"] == {"host=127.0.0.1:3000,metricset=stats": 4}
    assert doc["sora"]["polls"]["failed"] == {"host=127.0.0.1:3000,metricset=connections": 1}
    assert doc["lumberjack"]["events"]["retried"] == 6
    assert doc["output"]["latency_ms"] == 3.5
    assert b"\n  " in pretty.content and orjson.loads(pretty.content)["events"] == doc["events"]


async def test_metrics_are_prometheus_text() -> None:
    async with serving(busy_registry()) as (_, client):
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    fams = {f.name: f for f in text_string_to_metric_families(response.text)}
    polls = fams["sorabeat_sora_polls_ok"]
    assert polls.type == "counter"
    assert [(s.labels, s.value) for s in polls.samples] == [
        ({"host": "127.0.0.1:3000", "metricset": "stats"}, 4)
    ]
    assert fams["sorabeat_spool_events_pending"].type == "gauge"
    assert fams["sorabeat_spool_events_pending"].samples[0].value == 10
    assert fams["sorabeat_spool_events_dropped"].samples[0].labels == {"reason": "full"}
    assert fams["sorabeat_info"].samples[0].labels["uuid"] == "0b6c-uuid"


async def test_unknown_paths_methods_and_garbage() -> None:
    async with serving(Registry()) as (server, client):
        assert (await client.get("/nope")).status_code == 404
        post = await client.post("/stats")
        assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
        head = await client.head("/health")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) > 0
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"NONSENSE\r\n\r\n")
        reply = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert reply.startswith(b"HTTP/1.1 400 ")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
        reply = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert reply.startswith(b"HTTP/1.1 431 ")


class GatedOutput:
    """Acknowledges batches only while its gate is open."""

    name = "gated"
    batch_size = 10
    max_in_flight = 1

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        await self.gate.wait()
        ack(len(events))

    async def close(self) -> None:
        return None


async def wait_health(client: httpx.AsyncClient, status: int) -> httpx.Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        response = await client.get("/health")
        if response.status_code == status or loop.time() > deadline:
            return response
        await asyncio.sleep(0.05)


@pytest.mark.timeout(60)
async def test_health_flips_when_the_output_stops_acking_and_back() -> None:
    registry = Registry()
    spool = MemoryQueue(MemQueueSettings(), registry)
    output = GatedOutput()
    publisher = asyncio.create_task(Publisher(spool, output, registry).run())
    try:
        async with serving(registry, unhealthy_after=0.5) as (_, client):
            await spool.append([b"{}"] * 25)
            await asyncio.wait_for(spool.wait_drained(), 10)
            assert (await client.get("/health")).json() == {"status": "ok"}

            output.gate.clear()  # the output stalls while events wait
            await spool.append([b"{}"] * 25)
            sick = await wait_health(client, 503)
            assert sick.status_code == 503
            body = sick.json()
            assert body["status"] == "unhealthy" and "events wait" in body["reason"]

            output.gate.set()
            well = await wait_health(client, 200)
            assert well.status_code == 200 and well.json() == {"status": "ok"}
            assert registry.total("spool.events.acked") == 50
    finally:
        await spool.close()
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher


async def test_idle_pipeline_stays_healthy() -> None:
    registry = Registry()
    async with serving(registry, unhealthy_after=0.2) as (_, client):
        await asyncio.sleep(0.5)
        assert (await client.get("/health")).status_code == 200
