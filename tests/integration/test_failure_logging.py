"""A host that keeps failing: every failed poll still gives an error event, but the log says
the first failure, then once a minute, then when the host is back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from sorabeat.lumberjack.receiver import LumberjackReceiver, ReceiverOptions
from sorabeat.lumberjack.server import ServerOptions
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import BackoffSettings
from tests.es_support import AckRecorder, es_settings, new_output
from tests.es_support import make_events as es_events
from tests.integration.lumberjack_helpers import (
    make_events,
    output,
    publish_all,
    settings,
    wait_for,
)
from tests.integration.procs import free_port
from tests.integration.test_sora_fetch import poller_for
from tools.emulators.elasticsearch import ElasticsearchEmulator
from tools.emulators.scripted_http import Request, ScriptedServer, http_response


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_failing_sora_host_logs_once_a_minute_and_when_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = {"fail": True}

    async def respond(_: Request) -> bytes:
        if state["fail"]:
            return http_response(502, b"bad gateway", reason="Bad Gateway")
        return http_response(200, b"{}")

    server = ScriptedServer(respond)
    await server.start()
    try:
        assert server._server is not None
        port = server._server.sockets[0].getsockname()[1]
        poller, http, _ = await poller_for(port, "stats")
        clock = Clock()
        poller.failures.clock = clock
        caplog.set_level(logging.INFO, logger="sorabeat.sora")
        events: list[dict[str, Any]] = []
        async with http:
            for _ in range(10):
                clock.now += 5
                events += [orjson.loads(e) for e in await poller.poll_once()]
            clock.now += 15  # a minute after the first failure
            events += [orjson.loads(e) for e in await poller.poll_once()]
            state["fail"] = False
            events += [orjson.loads(e) for e in await poller.poll_once()]
    finally:
        await server.close()
    assert ["error" in e for e in events] == [True] * 11 + [False]  # an event per failed poll
    lines = [r.getMessage() for r in caplog.records if r.name == "sorabeat.sora"]
    address = f"127.0.0.1:{port}"
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"sora stats from {address}: HTTP 502 Bad Gateway")
    assert lines[1].startswith(f"sora stats from {address}: still failing, 11 times since ")
    assert lines[2].startswith(f"sora stats from {address} is back after 11 failures since ")
    levels = [r.levelname for r in caplog.records if r.name == "sorabeat.sora"]
    assert levels == ["WARNING", "WARNING", "INFO"]


async def test_a_logstash_host_that_stays_down_is_logged_once_then_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sorabeat.lumberjack")
    port = free_port()
    events = make_events(50)
    s = settings([f"127.0.0.1:{port}"], backoff=BackoffSettings(init=0.02, max=0.05))
    async with output(s) as (out, metrics):
        publishing = asyncio.create_task(publish_all(out, [events]))
        await wait_for(lambda: metrics.total("output.failures") >= 8)
        r = LumberjackReceiver(ReceiverOptions(ServerOptions(record=True), keep_events=True))
        await r.start("127.0.0.1", port)
        try:
            await publishing
        finally:
            await r.close()
        assert r.events == events
        failures = metrics.total("output.failures")
    records = [
        r
        for r in caplog.records
        if r.name == "sorabeat.lumberjack" and r.getMessage().startswith("logstash ")
    ]
    lines = [r.getMessage() for r in records]
    assert len(lines) == 2, lines  # not one per attempt
    assert lines[0].startswith(f"logstash 127.0.0.1:{port}: cannot connect: ")
    assert lines[1].startswith(
        f"logstash 127.0.0.1:{port} is back after {failures} failures since "
    )
    assert [r.levelname for r in records] == ["ERROR", "INFO"]


async def test_an_elasticsearch_host_that_stays_down_is_logged_once_then_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sorabeat.elasticsearch")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    metrics = Registry()
    out = new_output(es_settings(url), metrics)
    try:
        ack = AckRecorder(5)
        publishing = asyncio.create_task(out.publish(es_events(5), ack))
        await wait_for(lambda: metrics.total("output.elasticsearch.connect_errors") >= 8)
        es = ElasticsearchEmulator()
        await es.start(port)
        try:
            await publishing
        finally:
            await es.close()
        failures = metrics.total("output.elasticsearch.connect_errors")
    finally:
        await out.close()
    records = [
        r
        for r in caplog.records
        if r.name == "sorabeat.elasticsearch" and r.getMessage().startswith("Elasticsearch at")
    ]
    lines = [r.getMessage() for r in records]
    assert len(lines) == 2, lines  # not one per attempt
    assert lines[0].startswith(f"Elasticsearch at {url}: cannot reach it: ")
    assert lines[1].startswith(f"Elasticsearch at {url} is back after {failures} failures since ")
    assert [r.levelname for r in records] == ["WARNING", "INFO"]
