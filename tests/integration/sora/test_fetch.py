"""The Sora input's checks over real HTTP on 127.0.0.1: every failure becomes one error event
whose message names the cause, and the poller keeps going."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from sorabeat.event import AgentInfo, EnvelopeSettings, MetricsetEncoder
from sorabeat.monitoring.registry import Registry
from sorabeat.sora.catalog import metricsets_for
from sorabeat.sora.hosts import parse_sora_host
from sorabeat.sora.poller import MetricsetPoller
from tools.emulators.scripted_http import Request, ScriptedServer, http_response

AGENT = AgentInfo(name="n", hostname="h", id="i", ephemeral_id="e", version="0.1.0")


class Collect:
    def __init__(self) -> None:
        self.events: list[bytes] = []

    async def append(self, events: Any) -> int:
        self.events.extend(events)
        return len(events)


async def poller_for(
    port: int, metricset: str, *, timeout: float = 5, max_size: int = 1 << 20
) -> tuple[MetricsetPoller, httpx.AsyncClient, Registry]:
    host = parse_sora_host(f"127.0.0.1:{port}")
    http = httpx.AsyncClient(trust_env=False, timeout=None)
    metrics = Registry()
    enc = MetricsetEncoder(
        EnvelopeSettings(agent=AGENT), metricset=metricset, period_s=1, address=host.address
    )
    poller = MetricsetPoller(
        host=host,
        metricset=metricsets_for([metricset], host.address)[0],
        period=1,
        timeout=timeout,
        max_response_size=max_size,
        headers={"X-Extra": "1"},
        http=http,
        encoders={metricset: enc},
        sink=Collect(),
        metrics=metrics,
    )
    return poller, http, metrics


@pytest.fixture
async def serve() -> AsyncIterator[
    Callable[[Callable[[Request], Awaitable[bytes | None]]], Awaitable[ScriptedServer]]
]:
    servers: list[ScriptedServer] = []

    async def start(
        responder: Callable[[Request], Awaitable[bytes | None]], close: bool = False
    ) -> ScriptedServer:
        server = ScriptedServer(responder, close_after_reply=close)
        await server.start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        await s.close()


def fixed(reply: bytes | None) -> Callable[[Request], Awaitable[bytes | None]]:
    async def respond(_: Request) -> bytes | None:
        return reply

    return respond


async def poll(
    server: ScriptedServer, metricset: str, **kw: Any
) -> tuple[list[dict[str, Any]], Registry]:
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    poller, http, metrics = await poller_for(port, metricset, **kw)
    async with http:
        events = await poller.poll_once()
    return [orjson.loads(e) for e in events], metrics


async def test_request_is_what_sora_expects(serve: Any) -> None:
    server = await serve(fixed(http_response(200, b"{}")))
    await poll(server, "stats")
    await poll(server, "connections")
    stats_req, conn_req = server.requests
    assert (stats_req.method, stats_req.path) == ("POST", "/")
    assert stats_req.headers["x-sora-target"] == "Sora_20171010.GetStatsReport"
    assert conn_req.headers["x-sora-target"] == "Sora_20171101.GetStatsAllConnections"
    assert stats_req.body == b"" and "content-type" not in stats_req.headers
    assert stats_req.headers["x-extra"] == "1"


async def test_stats_event_with_aggregates(serve: Any) -> None:
    report = {"total_ongoing_connections": 2, "erlang_vm": {"statistics": {"active_tasks": [1, 3]}}}
    server = await serve(fixed(http_response(200, orjson.dumps(report))))
    (event,), metrics = await poll(server, "stats")
    stats = event["sora"]["stats"]
    assert stats["total_ongoing_connections"] == 2
    assert stats["erlang_vm"]["statistics"]["active_tasks_mean"] == 2.0
    assert metrics.total("sora.polls.ok") == 1


async def test_one_event_per_connection_and_none_for_empty(serve: Any) -> None:
    conns = [{"channel_id": "c", "client_id": str(i), "rtp": {"total_sent": i}} for i in range(3)]
    server = await serve(fixed(http_response(200, orjson.dumps(conns))))
    events, _ = await poll(server, "connections")
    assert [e["sora"]["connections"]["channel_client_id"] for e in events] == ["c/0", "c/1", "c/2"]
    empty = await serve(fixed(http_response(200, b"[]")))
    events, metrics = await poll(empty, "connections")
    assert events == [] and metrics.total("sora.polls.ok") == 1


@pytest.mark.parametrize(
    ("metricset", "reply", "expected"),
    [
        (
            "stats",
            http_response(500, b'{"error":"boom"}', reason="Internal Server Error"),
            "HTTP 500 Internal Server Error from http://127.0.0.1:",
        ),
        ("stats", http_response(200, b"not json at all"), "invalid JSON from"),
        (
            "stats",
            http_response(200, b"[1, 2]"),
            "GetStatsReport must be a JSON object, got an array",
        ),
        (
            "connections",
            http_response(200, b"{}"),
            "GetStatsAllConnections must be a JSON array of objects, got an object",
        ),
        (
            "connections",
            http_response(200, b'[{"a":1}, 7]'),
            "GetStatsAllConnections element 1 is a number, not an object",
        ),
        (
            "stats",
            b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"a":',
            "incomplete response from",
        ),
        (
            "stats",
            http_response(200, b"{}", extra="").replace(
                b"content-length: 2", b"content-length: 99999999"
            ),
            "over max_response_size",
        ),
    ],
)
async def test_each_failure_is_one_error_event(
    serve: Any, metricset: str, reply: bytes, expected: str
) -> None:
    server = await serve(fixed(reply), close=True)
    (event,), metrics = await poll(server, metricset)
    assert expected in event["error"]["message"], event["error"]["message"]
    assert "sora" not in event
    assert event["event"]["dataset"] == f"sora.{metricset}"
    assert metrics.total("sora.polls.failed") == 1


async def test_error_body_snippet_is_included(serve: Any) -> None:
    server = await serve(
        fixed(http_response(503, b'{"error_type":"X"}' + b"y" * 5000, reason="Service Unavailable"))
    )
    (event,), _ = await poll(server, "stats")
    message = event["error"]["message"]
    assert "HTTP 503" in message and "error_type" in message and len(message) < 400


async def test_chunked_body_over_the_limit_is_not_read_whole(serve: Any) -> None:
    chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
    reply = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunk * 64
    server = await serve(fixed(reply))
    (event,), _ = await poll(server, "stats", max_size=16 * 1024)
    assert "exceeds max_response_size" in event["error"]["message"]


async def test_timeout_and_refused(serve: Any) -> None:
    async def slow(_: Request) -> bytes:
        await asyncio.sleep(30)
        return b""

    server = await serve(slow)
    (event,), _ = await poll(server, "stats", timeout=0.3)
    assert "within 0.3s" in event["error"]["message"]
    await server.close()
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1] if server._server.sockets else 1
    poller, http, _ = await poller_for(port, "stats")
    async with http:
        (raw,) = await poller.poll_once()
    assert "cannot connect to http://127.0.0.1" in orjson.loads(raw)["error"]["message"]


@pytest.mark.parametrize("metricset", ["stats", "connections"])
async def test_values_that_do_not_fit_are_left_out_listed_counted_and_logged_once(
    serve: Any, metricset: str, caplog: pytest.LogCaptureFixture
) -> None:
    if metricset == "stats":
        body = orjson.dumps({"total_ongoing_connections": "4", "total_failed_connections": 2})
        path, kept = "total_ongoing_connections", {"total_failed_connections": 2}
    else:
        bad = {
            "channel_id": "c",
            "client_id": "k",
            "rtp": {"total_received": True, "total_sent": 3},
        }
        body = orjson.dumps([bad, bad])
        path, kept = "rtp.total_received", {"channel_id": "c", "rtp": {"total_sent": 3}}
    server = await serve(fixed(http_response(200, body)))
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    poller, http, metrics = await poller_for(port, metricset)
    with caplog.at_level(logging.WARNING, logger="sorabeat.sora"):
        for _ in range(3):
            events = [orjson.loads(e) for e in await poller.poll_once()]
    await http.aclose()
    for event in events:
        doc = event["sora"][metricset]
        assert doc.items() >= kept.items()
        assert doc["invalid_fields"] == [path]
        assert "error" not in event
    assert metrics.total("sora.polls.ok") == 3
    assert metrics.total("sora.values.invalid") == 3  # per fetch, each field once
    lines = [r.getMessage() for r in caplog.records if path in r.getMessage()]
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0] and metricset in lines[0]
