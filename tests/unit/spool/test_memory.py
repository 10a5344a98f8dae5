from __future__ import annotations

import asyncio

import pytest

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.memory import MemoryQueue
from sorabeat.spool.settings import MemQueueSettings


def ev(n: int) -> bytes:
    return b'{"n":%d}' % n


async def test_fifo_batches_and_acks() -> None:
    q = MemoryQueue(MemQueueSettings(events=100))
    await q.append([ev(i) for i in range(10)])
    b1 = await q.get(4)
    b2 = await q.get(100)
    assert b1 is not None and b2 is not None
    assert b1.events == [ev(i) for i in range(4)] and b2.events == [ev(i) for i in range(4, 10)]
    assert q.pending() == 10
    q.ack(b2, 6)  # out of order
    q.ack(b1, 2)  # partial
    assert q.pending() == 2
    q.ack(b1, 4)
    assert q.pending() == 0
    await asyncio.wait_for(q.wait_drained(), 1)


async def test_ack_beyond_batch_is_a_bug() -> None:
    q = MemoryQueue(MemQueueSettings(events=10))
    await q.append([ev(1)])
    b = await q.get(5)
    assert b is not None
    with pytest.raises(ValueError, match="ack of 2 events"):
        q.ack(b, 2)


async def test_drop_oldest_keeps_the_newest() -> None:
    metrics = Registry()
    q = MemoryQueue(MemQueueSettings(events=5, when_full="drop_oldest"), metrics)
    await q.append([ev(i) for i in range(8)])
    b = await q.get(10)
    assert b is not None and b.events == [ev(i) for i in range(3, 8)]
    assert metrics.counter("spool.events.dropped", reason="full") == 3


async def test_drop_newest_refuses_new_events() -> None:
    metrics = Registry()
    q = MemoryQueue(MemQueueSettings(events=5, when_full="drop_newest"), metrics)
    await q.append([ev(i) for i in range(8)])
    b = await q.get(10)
    assert b is not None and b.events == [ev(i) for i in range(5)]
    assert metrics.total("spool.events.dropped") == 3


async def test_in_flight_events_count_but_are_not_dropped() -> None:
    q = MemoryQueue(MemQueueSettings(events=4, when_full="drop_oldest"))
    await q.append([ev(i) for i in range(4)])
    b = await q.get(4)  # all in flight
    await q.append([ev(9)])  # nothing unread to drop: the new one goes
    assert b is not None and q.pending() == 4
    q.ack(b, 4)
    assert q.pending() == 0


async def test_block_waits_for_acks() -> None:
    q = MemoryQueue(MemQueueSettings(events=3, when_full="block"))
    await q.append([ev(i) for i in range(3)])
    blocked = asyncio.ensure_future(q.append([ev(3), ev(4)]))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    b = await q.get(2)
    assert b is not None
    q.ack(b, 2)
    await asyncio.wait_for(blocked, 1)
    rest = await q.get(10)
    assert rest is not None and rest.events == [ev(2), ev(3), ev(4)]


async def test_close_wakes_getters() -> None:
    q = MemoryQueue(MemQueueSettings(events=3))
    getter = asyncio.ensure_future(q.get(1))
    await asyncio.sleep(0)
    await q.close()
    assert await asyncio.wait_for(getter, 1) is None


async def test_close_while_blocked_drops_nothing_it_had_and_counts_the_rest_as_closed() -> None:
    metrics = Registry()
    q = MemoryQueue(MemQueueSettings(events=2, when_full="block"), metrics)
    assert await q.append([ev(1), ev(2)]) == 2
    blocked = asyncio.ensure_future(q.append([ev(3)]))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    await q.close()
    assert await asyncio.wait_for(blocked, 5) == 0
    # block never drops what was stored; the refused event is "closed", not "full"
    assert metrics.counter("spool.events.dropped", reason="closed") == 1
    assert metrics.total("spool.events.dropped") == 1
