"""Moves batches from the spool to the output and reports the output's acks back."""

from __future__ import annotations

import asyncio
import logging
import time

from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.base import Output
from sorabeat.spool.base import Batch, Spool

log = logging.getLogger("sorabeat.publish")


class Publisher:
    """Hands batches to the output in spool order, at most ``max_in_flight`` at once."""

    def __init__(self, spool: Spool, output: Output, metrics: Registry | None = None) -> None:
        self.spool = spool
        self.output = output
        self.metrics = metrics or Registry()

    async def run(self) -> None:
        """Publish until the spool closes; cancelling stops every publish under way."""
        slots = asyncio.Semaphore(self.output.max_in_flight)
        async with asyncio.TaskGroup() as group:
            while True:
                await slots.acquire()
                batch = await self.spool.get(self.output.batch_size)
                if batch is None:
                    slots.release()
                    return
                group.create_task(self._deliver(batch, slots))

    async def _deliver(self, batch: Batch, slots: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        try:
            await self.output.publish(batch.events, lambda n: self.spool.ack(batch, n))
            self.metrics.add("output.batches.acked")
            self.metrics.set("output.latency_ms", (time.perf_counter() - started) * 1000)
            log.debug("published %d events to %s", len(batch.events), self.output.name)
        finally:
            slots.release()
