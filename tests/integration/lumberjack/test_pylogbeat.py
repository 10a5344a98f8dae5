"""pylogbeat (an independent Python implementation) as a client of our receiver."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from pylogbeat import PyLogBeatClient

from tests.integration.lumberjack_helpers import receiver

pytestmark = pytest.mark.timeout(60)


def send_with_pylogbeat(port: int, batches: list[list[dict[str, int]]], reset: bool) -> None:
    with PyLogBeatClient("127.0.0.1", port, timeout=10) as client:
        for batch in batches:
            if reset:
                # its sequence never restarts: a count-acking server would never match it
                client._sequence = 0
            client.send(batch)


@pytest.mark.parametrize(("ack_style", "reset"), [("highest", False), ("count", True)])
async def test_all_pylogbeat_events_arrive(ack_style: str, reset: bool) -> None:
    batches = [[{"n": b * 100 + i} for i in range(100)] for b in range(5)]
    async with receiver(ack_style=ack_style) as r:
        port = r.server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await asyncio.wait_for(asyncio.to_thread(send_with_pylogbeat, port, batches, reset), 30)
        assert [orjson.loads(e)["n"] for e in r.events] == list(range(500))
        conn = r.connections[0]
        assert conn.windows == 5
        if ack_style == "highest":
            # seqs run on across windows: Logstash-style ACKs carry them
            assert conn.acks_sent == [100, 200, 300, 400, 500]
        else:
            assert conn.acks_sent == [100] * 5
