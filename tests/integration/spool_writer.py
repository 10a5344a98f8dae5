"""A process that writes to and reads from a disk spool until it is killed.

    python -m tests.integration.spool_writer DIRECTORY SEED FIRST_ID

Two producers append numbered events (producer p numbers FIRST_ID + p, + 2p, ...), in
batches of random sizes; a consumer gets batches and acknowledges them, partly, out of
order, or not at all. It prints, flushing each line:

    D id id ...   after append() returned: these events are durable
    A id id ...   after ack(): these events are done (the position may not be saved yet)
"""

from __future__ import annotations

import asyncio
import random
import sys

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.base import Batch
from sorabeat.spool.disk import DiskSpool
from tests.spool_support import event, event_id, tiny

SETTINGS = tiny(segment_size=8192)


def say(kind: str, ids: list[int]) -> None:
    if ids:
        sys.stdout.write(kind + " " + " ".join(map(str, ids)) + "\n")
        sys.stdout.flush()


async def produce(spool: DiskSpool, rng: random.Random, first_id: int, producer: int) -> None:
    n = first_id + producer
    while True:
        ids = [n + 2 * k for k in range(rng.randint(1, 40))]
        n = ids[-1] + 2
        await spool.append([event(i, rng.randint(40, 600)) for i in ids])
        say("D", ids)
        await asyncio.sleep(rng.uniform(0, 0.01))


async def consume(spool: DiskSpool, rng: random.Random) -> None:
    held: list[Batch] = []
    while True:
        batch = await spool.get(rng.randint(1, 80))
        if batch is None:
            return
        held.append(batch)
        if rng.random() < 0.3:
            continue  # acknowledged later, out of order
        rng.shuffle(held)
        for b in held[: rng.randint(1, len(held))]:
            before = b.acked
            count = len(b.events) if rng.random() < 0.8 else rng.randint(b.acked, len(b.events))
            spool.ack(b, count)
            say("A", [event_id(e) for e in b.events[before:count]])
        held = [b for b in held if b.acked < len(b.events)]
        await asyncio.sleep(rng.uniform(0, 0.005))


async def main() -> None:
    directory, seed, first_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    spool = await DiskSpool.open(directory, SETTINGS, Registry())
    sys.stdout.write(f"R {spool.pending()}\n")
    sys.stdout.flush()
    await asyncio.gather(
        produce(spool, random.Random(rng.random()), first_id, 0),
        produce(spool, random.Random(rng.random()), first_id, 1),
        consume(spool, random.Random(rng.random())),
    )


if __name__ == "__main__":
    asyncio.run(main())
