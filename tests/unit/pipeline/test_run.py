"""Input -> spool -> output wiring and the graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.base import AckFn
from sorabeat.pipeline.publish import Publisher
from sorabeat.pipeline.run import Pipeline
from sorabeat.spool.memory import MemoryQueue
from sorabeat.spool.settings import MemQueueSettings


class CountingInput:
    """Appends one numbered event every `interval` until stopped."""

    def __init__(self, spool: MemoryQueue, interval: float = 0.01) -> None:
        self.spool = spool
        self.interval = interval
        self.produced = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.spool.append([b'{"n":%d}' % self.produced])
            self.produced += 1
            await asyncio.sleep(self.interval)


class SlowOutput:
    name = "slow"
    batch_size = 5
    max_in_flight = 2

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: list[bytes] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self.closed = False

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            await asyncio.sleep(self.delay)
            self.received.extend(events)
            ack(len(events))
        finally:
            self.concurrent -= 1

    async def close(self) -> None:
        self.closed = True


def make(
    delay: float, shutdown_timeout: float
) -> tuple[Pipeline, CountingInput, SlowOutput, MemoryQueue]:
    spool = MemoryQueue(MemQueueSettings(events=10_000), Registry())
    source = CountingInput(spool)
    output = SlowOutput(delay)
    pipeline = Pipeline(source, spool, output, Publisher(spool, output), shutdown_timeout)
    return pipeline, source, output, spool


async def test_events_flow_in_order_and_stop_drains() -> None:
    pipeline, source, output, spool = make(0.02, shutdown_timeout=5)
    stop = asyncio.Event()
    task = asyncio.ensure_future(pipeline.run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert source.produced > 5
    assert output.received == [b'{"n":%d}' % i for i in range(source.produced)]
    assert spool.pending() == 0
    assert output.closed
    assert output.max_concurrent <= SlowOutput.max_in_flight


async def test_stop_gives_up_after_shutdown_timeout() -> None:
    pipeline, _source, output, _spool = make(60, shutdown_timeout=0.3)
    stop = asyncio.Event()
    task = asyncio.ensure_future(pipeline.run(stop))
    await asyncio.sleep(0.1)
    stop.set()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(task, 10)
    assert loop.time() - started < 5  # bounded by shutdown_timeout, not by the output
    assert output.received == []
    assert output.closed


async def test_a_failing_stage_is_reported_after_cleanup() -> None:
    class Broken:
        async def run(self, stop: asyncio.Event) -> None:
            raise RuntimeError("input bug")

    spool = MemoryQueue(MemQueueSettings(events=10))
    output = SlowOutput(0)
    pipeline = Pipeline(Broken(), spool, output, Publisher(spool, output), 1)
    with pytest.raises(RuntimeError, match="input bug"):
        await asyncio.wait_for(pipeline.run(asyncio.Event()), 5)
    assert output.closed


async def test_stop_ends_when_everything_is_acknowledged_not_at_the_timeout() -> None:
    shutdown_timeout = 30.0
    pipeline, source, output, spool = make(0.2, shutdown_timeout=shutdown_timeout)
    stop = asyncio.Event()
    task = asyncio.ensure_future(pipeline.run(stop))
    await asyncio.sleep(0.3)
    assert spool.pending() > 0  # the stop finds events in flight
    loop = asyncio.get_running_loop()
    started = loop.time()
    stop.set()
    await asyncio.wait_for(task, shutdown_timeout * 2)
    assert loop.time() - started < shutdown_timeout / 2  # acks came in well under a second
    assert output.received == [b'{"n":%d}' % i for i in range(source.produced)]
    assert spool.pending() == 0
