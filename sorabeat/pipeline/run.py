"""Sora input -> spool -> output, and a graceful stop.

On stop: polling ends (a fetch under way is abandoned, an append under way finishes), the
output keeps delivering for up to ``shutdown_timeout`` while events are pending, then the
spool is closed (persisting its position) and the output closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from sorabeat.outputs.base import Output
from sorabeat.pipeline.publish import Publisher
from sorabeat.spool.base import Spool

log = logging.getLogger("sorabeat.publish")


class Input(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


class Pipeline:
    def __init__(
        self,
        source: Input,
        spool: Spool,
        output: Output,
        publisher: Publisher,
        shutdown_timeout: float,
    ) -> None:
        self.source = source
        self.spool = spool
        self.output = output
        self.publisher = publisher
        self.shutdown_timeout = shutdown_timeout

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set (or a stage fails, which is re-raised after cleanup)."""
        polling_stop = asyncio.Event()
        polling = asyncio.create_task(self.source.run(polling_stop), name="input")
        publishing = asyncio.create_task(self.publisher.run(), name="publisher")
        stopping = asyncio.create_task(stop.wait(), name="stop")
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait(
                {polling, publishing, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task is not stopping and task.exception() is not None:
                    failure = task.exception()
                    log.error("%s stopped: %r", task.get_name(), failure)
        finally:
            polling_stop.set()
            await self._finish(polling, publishing, stopping)
        if failure is not None:
            raise failure

    async def _finish(
        self,
        polling: asyncio.Task[None],
        publishing: asyncio.Task[None],
        stopping: asyncio.Task[bool],
    ) -> None:
        stopping.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        # pollers stop at once unless an append is blocked on a full spool
        await asyncio.wait({polling}, timeout=max(deadline - loop.time(), 0.1))
        polling.cancel()
        pending = self.spool.pending()
        if pending and not publishing.done():
            log.info(
                "stopping: waiting up to %.1fs for %d pending events",
                self.shutdown_timeout,
                pending,
            )
            drained = asyncio.ensure_future(self.spool.wait_drained())
            # whichever comes first: every event acknowledged, the publisher failing, the timeout
            await asyncio.wait(
                {drained, publishing},
                timeout=max(deadline - loop.time(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            drained.cancel()
        publishing.cancel()
        for task in (polling, publishing, stopping):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        left = self.spool.pending()
        await self.spool.close()
        await self.output.close()
        if left:
            log.info("stopped with %d events not acknowledged", left)
