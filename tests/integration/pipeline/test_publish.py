"""The disk spool driven by the real Publisher, with an output that finishes its batches
in random order and acknowledges them bit by bit."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path

from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.base import AckFn
from sorabeat.pipeline.publish import Publisher
from sorabeat.spool.state import read_state
from tests.spool_support import WAIT, event, open_spool, read_backlog, tiny


class ShuffledOutput:
    name = "shuffled"
    batch_size = 37
    max_in_flight = 4

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.delivered: list[bytes] = []

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        done = 0
        while done < len(events):
            await asyncio.sleep(self.rng.uniform(0, 0.003))
            step = self.rng.randint(1, len(events) - done)
            self.delivered.extend(events[done : done + step])
            done += step
            ack(done)

    async def close(self) -> None:
        pass


async def test_publisher_delivers_everything_and_the_position_follows(tmp_path: Path) -> None:
    directory = str(tmp_path / "spool")
    metrics = Registry()
    spool = await open_spool(directory, tiny(segment_size=4096), metrics)
    output = ShuffledOutput(seed=7)
    publishing = asyncio.ensure_future(Publisher(spool, output, metrics).run())
    events = [event(i, 150) for i in range(2000)]
    for i in range(0, 2000, 50):
        await spool.append(events[i : i + 50])
    await asyncio.wait_for(spool.wait_drained(), WAIT)
    publishing.cancel()
    await asyncio.gather(publishing, return_exceptions=True)
    assert sorted(output.delivered) == sorted(events) and len(output.delivered) == 2000
    assert spool.position == 2000
    await spool.close()
    assert read_state(directory) == 2000
    again = await open_spool(directory)
    assert await read_backlog(again) == []
    await again.close()
