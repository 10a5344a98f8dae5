"""Shared pieces of the Lumberjack integration tests: receivers, outputs, waiting."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson

from sorabeat.lumberjack.output import LogstashOutput
from sorabeat.lumberjack.receiver import LumberjackReceiver, ReceiverOptions
from sorabeat.lumberjack.server import ServerOptions
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import BackoffSettings

DEADLINE = 30.0


def make_events(n: int, start: int = 0, pad: int = 0) -> list[bytes]:
    return [
        orjson.dumps(
            {"@timestamp": "2026-01-02T03:04:05.000Z", "@metadata": {"beat": "t"}, "n": i}
            | ({"pad": "x" * pad} if pad else {})
        )
        for i in range(start, start + n)
    ]


def numbers(events: Sequence[bytes]) -> list[int]:
    return [orjson.loads(e)["n"] for e in events]


@asynccontextmanager
async def receiver(**server: Any) -> AsyncIterator[LumberjackReceiver]:
    server.setdefault("record", True)
    r = LumberjackReceiver(ReceiverOptions(ServerOptions(**server), keep_events=True))
    await r.start()
    try:
        yield r
    finally:
        await r.close()


def address(r: LumberjackReceiver) -> str:
    assert r.server._server is not None
    host, port = r.server._server.sockets[0].getsockname()[:2]
    return f"{host}:{port}"


def settings(hosts: list[str], **overrides: Any) -> LogstashSettings:
    overrides.setdefault("backoff", BackoffSettings(init=0.05, max=0.2))
    overrides.setdefault("timeout", 5.0)
    return dataclasses.replace(LogstashSettings(hosts=hosts), **overrides)


@asynccontextmanager
async def output(s: LogstashSettings) -> AsyncIterator[tuple[LogstashOutput, Registry]]:
    metrics = Registry()
    out = LogstashOutput(s, metrics)
    try:
        yield out, metrics
    finally:
        await out.close()


async def publish_all(
    out: LogstashOutput, batches: Sequence[Sequence[bytes]], deadline: float = DEADLINE
) -> list[list[int]]:
    """Publish the batches as the pipeline would (up to max_in_flight at once); return
    each batch's ack calls."""
    acks: list[list[int]] = [[] for _ in batches]
    slots = asyncio.Semaphore(out.max_in_flight)

    async def one(i: int) -> None:
        async with slots:
            await out.publish(batches[i], acks[i].append)

    async with asyncio.timeout(deadline):
        tasks = []
        for i in range(len(batches)):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(0)  # start them in order, as the pipeline does
        await asyncio.gather(*tasks)
    return acks


async def wait_for(condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    """Poll a condition on state the test does not own (no event to wait on)."""
    async with asyncio.timeout(deadline):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def chunks(events: list[bytes], size: int) -> list[list[bytes]]:
    return [events[i : i + size] for i in range(0, len(events), size)]
