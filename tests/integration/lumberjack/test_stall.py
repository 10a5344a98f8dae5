"""A Logstash that keeps sending ACK 0 keepalives but never acknowledges (a wedged pipeline),
and windows in flight per connection as libbeat counts them, on real sockets."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sorabeat.event import AgentInfo
from sorabeat.monitoring.prometheus import families, render
from sorabeat.monitoring.snapshot import Snapshot
from sorabeat.monitoring.stats import stats
from tests.integration.lumberjack_helpers import (
    address,
    chunks,
    make_events,
    numbers,
    output,
    publish_all,
    receiver,
    settings,
    wait_for,
)

WEDGED = {"hold_acks": True, "keepalive_interval": 0.05}


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_a_stalled_connection_warns_with_the_waiting_count_and_shows_in_metrics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = make_events(40)
    async with receiver(**WEDGED) as r:
        host = address(r)
        s = settings([host], stall_timeout=0.3, timeout=2.0, bulk_max_size=40)
        async with output(s) as (out, m):
            task = asyncio.create_task(publish_all(out, [events]))
            await wait_for(lambda: m.gauge("output.stalled.connections", host=host) == 1)
            assert any(
                host in w and "40 events wait" in w and "no event acknowledged" in w
                for w in warnings(caplog)
            )
            await wait_for(lambda: m.gauge("output.stalled.seconds", host=host) >= 0.3)
            assert m.gauge("output.stalled.events", host=host) == 40
            snapshot = Snapshot.of(m)
            text = render(families(snapshot, {}, 1.0))
            assert f'sorabeat_output_stalled_connections{{host="{host}"}} 1' in text
            assert f'sorabeat_output_stalled_events{{host="{host}"}} 40' in text
            doc = stats(AgentInfo("n", "h", "id", "eid", "0"), snapshot, 1.0)
            assert doc["output"]["stalled"]["connections"][f"host={host}"] == 1
            assert doc["output"]["stalled"]["events"][f"host={host}"] == 40
            assert not task.done()  # keepalives alone never complete the batch
            assert r.connections[0].acks_sent.count(0) >= 3

            r.server.options.hold_acks = False  # the pipeline unwedges: late ACKs
            await task
            assert m.gauge("output.stalled.connections", host=host) == 0
            assert m.gauge("output.stalled.seconds", host=host) == 0
        assert r.events == events
        assert len(r.connections) == 1  # a stall alone never drops the connection
        assert m.total("output.events.acked") == 40
        assert m.total("output.failures") == 0


async def test_loadbalance_moves_a_stalled_window_to_the_other_host_and_counts_late_acks_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = make_events(400)
    async with receiver(**WEDGED) as a, receiver() as b:
        s = settings(
            [address(a), address(b)],
            loadbalance=True,
            stall_timeout=0.3,
            timeout=2.0,
            bulk_max_size=50,
        )
        async with output(s) as (out, m):
            acks = await publish_all(out, chunks(events, 50))
            # every event arrived through b, including those a still holds
            assert sorted(numbers(b.events)) == list(range(400))
            held = a.connections[0].events_received
            assert held > 0
            assert a.events == []
            assert m.total("output.events.moved") == held
            assert any(
                address(a) in w and f"{held} events wait" in w and "resending" in w
                for w in warnings(caplog)
            )
            assert m.gauge("output.stalled.connections", host=address(a)) == 1

            a.server.options.hold_acks = False  # a delivers them after all: late ACKs
            await wait_for(lambda: a.connections[0].events_acked == held)
            await wait_for(lambda: m.gauge("output.stalled.connections", host=address(a)) == 0)
        assert m.total("output.events.acked") == 400  # the late ACKs counted nothing twice
        assert all(batch_acks == [50] for batch_acks in acks)
        assert sorted(numbers(a.events)) == sorted(numbers(a.connections[0].received))
        assert len(a.connections) == 1


@pytest.mark.parametrize(("pipelining", "in_flight"), [(0, 1), (1, 2), (2, 3), (4, 5)])
async def test_windows_in_flight_per_connection_as_libbeat_counts_them(
    pipelining: int, in_flight: int
) -> None:
    # go-lumber's AsyncClient (libbeat: queue of pipelining - 1) holds pipelining ACK
    # callbacks and writes one more window before blocking: the receiver sees N + 1 open
    events = make_events(200)
    async with receiver(**WEDGED) as r:
        s = settings([address(r)], pipelining=pipelining, bulk_max_size=10, timeout=5.0)
        async with output(s) as (out, m):
            assert out.max_in_flight == in_flight
            task = asyncio.create_task(publish_all(out, [events]))
            await wait_for(lambda: r.connections and r.connections[0].windows >= in_flight)
            await asyncio.sleep(0.3)  # room for a window too many to arrive
            assert r.connections[0].windows == in_flight
            assert r.connections[0].events_acked == 0
            r.server.options.hold_acks = False
            await task
        assert r.events == events
        assert m.total("output.failures") == 0


async def test_a_stalled_connection_that_fails_clears_the_gauge_and_resends() -> None:
    events = make_events(30)
    async with receiver(**WEDGED) as r:
        host = address(r)
        s = settings([host], stall_timeout=0.2, timeout=0.6, bulk_max_size=30)
        async with output(s) as (out, m):
            task = asyncio.create_task(publish_all(out, [events]))
            await wait_for(lambda: m.gauge("output.stalled.connections", host=host) == 1)
            r.server.options.keepalive_interval = 0  # now silent: the ACK read times out
            await wait_for(lambda: m.total("output.failures") >= 1)
            r.server.options.hold_acks = False
            await task
            assert m.gauge("output.stalled.connections", host=host) == 0
            assert m.gauge("output.stalled.events", host=host) == 0
        assert m.total("output.failures") == 1
        assert m.total("output.events.retried") == 30
        assert numbers(r.connections[-1].received) == list(range(30))
        assert m.total("output.events.acked") == 30
