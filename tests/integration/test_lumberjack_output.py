"""LogstashOutput against the receiver over real TCP on 127.0.0.1, in every ACK mode and
fault the receiver can reproduce."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from sorabeat.event import escape_html
from sorabeat.lumberjack.output import LogstashOutput
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import BackoffSettings
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

pytestmark = pytest.mark.timeout(60)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("sorabeat.lumberjack")
    ]


@pytest.mark.parametrize("ack_style", ["highest", "count"])
@pytest.mark.parametrize("partial", [0, 37])
@pytest.mark.parametrize("compression", [0, 3])
@pytest.mark.parametrize("pipelining", [0, 2])
async def test_every_ack_mode_delivers_everything_once_in_order(
    ack_style: str, partial: int, compression: int, pipelining: int
) -> None:
    events = make_events(1000)
    async with receiver(ack_style=ack_style, partial_ack_every=partial) as r:
        s = settings(
            [address(r)], bulk_max_size=128, compression_level=compression, pipelining=pipelining
        )
        async with output(s) as (out, metrics):
            acks = await publish_all(out, chunks(events, 128))
        assert r.events == events
        assert all(a[-1] == len(b) for a, b in zip(acks, chunks(events, 128), strict=True))
        assert all(a == sorted(set(a)) for a in acks)  # acked prefixes only grow
        assert metrics.total("output.events.acked") == 1000
        assert metrics.total("output.windows.sent") == 8
        assert metrics.total("output.failures") == 0
        assert len(r.connections) == 1
        if partial:
            assert any(0 < a < 128 for a in r.connections[0].acks_sent)
        # 1..N numbering: the highest seq and the count are the same number
        assert r.connections[0].acks_sent[-1] == 1000 % 128


async def test_a_dropped_connection_resends_exactly_the_unacknowledged_remainder() -> None:
    events = make_events(1000)
    async with receiver(partial_ack_every=100, drop_after_events=250) as r:
        async with output(settings([address(r)], bulk_max_size=1000, pipelining=0)) as (out, m):
            await publish_all(out, [events])
        first, second = r.connections
        assert numbers(first.received) == list(range(250))
        assert first.events_acked == 200
        assert numbers(second.received) == list(range(200, 1000))  # from the first unacked
        assert r.events == events  # nothing written twice
        assert m.total("output.events.retried") == 800


async def test_pipelined_windows_are_requeued_in_order_after_a_drop() -> None:
    events = make_events(2000)
    async with receiver(partial_ack_every=30, drop_after_events=450) as r:
        s = settings([address(r)], bulk_max_size=100, pipelining=4)
        async with output(s) as (out, _):
            await publish_all(out, chunks(events, 100))
        first, second = r.connections[:2]
        acked = first.events_acked
        assert 0 < acked < 450
        assert numbers(first.received) == list(range(450))
        assert numbers(second.received)[: 2000 - acked] == list(range(acked, 2000))
        assert r.events == events


async def test_keepalives_keep_a_slow_server_within_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = make_events(300)
    async with receiver(ack_delay=1.5, keepalive_interval=0.2) as r:
        async with output(settings([address(r)], timeout=0.8, bulk_max_size=100)) as (out, m):
            await publish_all(out, chunks(events, 100))
        assert r.events == events
        assert len(r.connections) == 1
        assert r.connections[0].acks_sent.count(0) >= 3
        assert m.total("output.failures") == 0
        assert errors(caplog) == []


async def test_a_server_that_never_acks_times_out_and_the_window_is_resent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = make_events(50)
    async with receiver(never_ack=True) as r:
        async with output(settings([address(r)], timeout=0.4)) as (out, m):
            task = asyncio.create_task(publish_all(out, [events]))
            await wait_for(lambda: m.total("output.failures") >= 1)
            r.server.options.never_ack = False
            await task
        assert any("no ACK within 0.4s" in e and address(r) in e for e in errors(caplog))
        assert r.events == events
        assert numbers(r.connections[0].received) == list(range(50))
        assert numbers(r.connections[-1].received) == list(range(50))


async def test_loadbalance_spreads_windows_over_hosts() -> None:
    events = make_events(2000)
    async with receiver(ack_delay=0.05) as a, receiver(ack_delay=0.05) as b:
        s = settings([address(a), address(b)], loadbalance=True, bulk_max_size=50)
        async with output(s) as (out, m):
            assert out.max_in_flight == 4
            await publish_all(out, chunks(events, 50))
        assert a.events
        assert b.events
        assert sorted(numbers(a.events + b.events)) == list(range(2000))
        assert m.total("output.failures") == 0


async def test_failover_skips_a_dead_host_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = server.sockets[0].getsockname()[1]  # a port nothing listens on once closed
    server.close()
    await server.wait_closed()
    events = make_events(100)
    # the first host of a worker is chosen at random: make it the dead one, every time
    monkeypatch.setattr("sorabeat.lumberjack.output.random.randrange", lambda n: 0)
    async with receiver() as r:
        from sorabeat.outputs.backoff import BackoffSettings

        s = settings(
            [f"127.0.0.1:{dead_port}", address(r)],
            backoff=BackoffSettings(init=60, max=60),  # a backoff would outlast the test
        )
        async with output(s) as (out, m):
            await publish_all(out, [events], deadline=10)
        assert len(r.events) == 100
        assert m.total("output.failures") == 1  # the dead host was tried, then skipped


async def test_failover_moves_to_the_next_host_when_one_fails() -> None:
    events = make_events(200)
    async with receiver(never_ack=True) as bad, receiver() as good:
        s = settings([address(bad), address(good)], timeout=0.3, bulk_max_size=50)
        async with output(s) as (out, _m):
            await publish_all(out, chunks(events, 50))
        assert good.events == events


async def test_an_idle_connection_closed_with_rst_is_reopened_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with receiver(idle_timeout=0.3, idle_close_rst=True) as r:
        async with output(settings([address(r)])) as (out, m):
            await publish_all(out, [make_events(10)])
            await wait_for(lambda: r.connections[0].closed)
            await asyncio.sleep(0.1)
            await publish_all(out, [make_events(10, start=10)])
        assert numbers(r.events) == list(range(20))
        assert len(r.connections) == 2
        assert r.connections[0].error == "closed for inactivity"
        assert m.total("output.failures") == 0
        assert m.total("output.reconnects") >= 1
        assert errors(caplog) == []


async def test_a_window_sent_as_the_server_resets_an_idle_connection_is_resent_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The race Logstash users meet: the window goes out on a connection that had been
    # idle, and the server resets it without an ACK. Reproduced by dropping the second
    # window's connection as soon as it arrives.
    async with receiver(drop_after_events=11) as r:
        async with output(settings([address(r)], pipelining=0)) as (out, m):
            await publish_all(out, [make_events(10)])
            await publish_all(out, [make_events(10, start=10)])
        assert numbers(r.events) == list(range(20))
        assert m.total("output.failures") == 0
        assert errors(caplog) == []


async def test_a_fresh_connection_that_fails_counts_as_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with receiver(drop_after_events=5) as r:
        async with output(settings([address(r)])) as (out, m):
            await publish_all(out, [make_events(10)])
        assert numbers(r.events) == list(range(10))
        assert m.total("output.failures") == 1
        assert len(errors(caplog)) == 1
        assert address(r) in errors(caplog)[0]


async def test_ttl_reconnects_between_windows_with_pipelining(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = make_events(1500)
    async with receiver(ack_delay=0.02) as r:
        s = settings([address(r)], ttl=0.15, pipelining=2, bulk_max_size=50)
        async with output(s) as (out, m):
            await publish_all(out, chunks(events, 50))
        assert r.events == events
        assert len(r.connections) >= 3
        for conn in r.connections:
            assert conn.events_acked == conn.events_received  # no window cut by the ttl
            assert conn.error is None or "EOF" not in conn.error
        assert m.total("output.failures") == 0
        assert errors(caplog) == []


async def test_slow_start_grows_then_halves_after_a_failure() -> None:
    async with receiver() as r:
        s = settings([address(r)], slow_start=True, bulk_max_size=500, timeout=0.3, pipelining=0)
        async with output(s) as (out, m):
            await publish_all(out, [make_events(500)])
            sizes = r.connections[0].window_sizes
            assert sizes[:5] == [10, 15, 23, 35, 53]
            r.server.options.never_ack = True
            task = asyncio.create_task(publish_all(out, [make_events(500)]))
            await wait_for(lambda: m.total("output.failures") >= 1)
            failed_size = r.connections[-1].window_sizes[-1]
            r.server.options.never_ack = False
            await task
        assert r.connections[-1].window_sizes[0] == failed_size // 2


async def test_escape_html_rewrites_only_string_content() -> None:
    raw = b'{"a":"<b>&amp;</b>","n":1}'
    escaped = escape_html(raw)
    assert escaped == b'{"a":"\\u003cb\\u003e\\u0026amp;\\u003c/b\\u003e","n":1}'
    import orjson

    assert orjson.loads(escaped) == orjson.loads(raw)
    async with receiver() as r:
        async with output(settings([address(r)], escape_html=True)) as (out, _):
            await publish_all(out, [[raw]])
        assert r.events == [escaped]


async def test_an_invalid_event_is_refused_and_retried_not_acked() -> None:
    async with receiver() as r:
        async with output(settings([address(r)])) as (out, m):
            task = asyncio.create_task(publish_all(out, [[b"[1,2]", b'{"n":1}']]))
            await wait_for(lambda: m.total("output.failures") >= 2)
            assert r.events == []
            r.options.validate = False
            await task
        assert r.events == [b"[1,2]", b'{"n":1}']
        assert r.server.protocol_errors >= 2


async def test_an_ack_above_the_window_is_a_protocol_error_and_the_window_is_resent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken server acks N+1 on its first connection; the output names the problem,
    drops the connection and resends the whole window elsewhere."""
    from sorabeat.lumberjack.protocol import FrameDecoder, WindowEnd, ack_frame

    connections = 0
    received: list[list[bytes]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        bad = connections == 1
        decoder = FrameDecoder()
        got: list[bytes] = []
        received.append(got)
        while data := await reader.read(65536):
            for frame in decoder.feed(data):
                if isinstance(frame, WindowEnd):
                    writer.write(ack_frame(frame.size + 1 if bad else frame.size))
                elif hasattr(frame, "payload"):
                    got.append(frame.payload)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        events = make_events(20)
        async with output(settings([f"127.0.0.1:{port}"])) as (out, m):
            await publish_all(out, [events])
        assert received[0] == events
        assert received[1] == events
        assert m.total("output.failures") == 1
        assert "protocol error: ACK 21 is above the window of 20 events" in errors(caplog)[0]
    finally:
        server.close()
        await server.wait_closed()


async def test_reconnects_back_off_on_libbeats_schedule_and_fail_over_without_waiting() -> None:
    # bound but not listening: every dial is refused at once
    refused = [socket.socket() for _ in range(2)]
    for sock in refused:
        sock.bind(("127.0.0.1", 0))
    hosts = [f"127.0.0.1:{sock.getsockname()[1]}" for sock in refused]
    slept: list[float] = []
    enough = asyncio.Event()
    never = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 4:
            enough.set()
            await never.wait()  # the test ends here

    metrics = Registry()
    s = settings(hosts, backoff=BackoffSettings(init=1.0, max=3.0))
    out = LogstashOutput(s, metrics, sleep=sleep, rand=lambda x: x / 2)
    publishing = asyncio.create_task(out.publish(make_events(3), lambda n: None))
    try:
        async with asyncio.timeout(20):
            await enough.wait()
    finally:
        await out.close()
        publishing.cancel()
        for sock in refused:
            sock.close()
    assert slept == [1.5, 2.25, 2.25, 2.25]  # d/2 + half of the random half, d = 2, 3, 3, 3
    # each wait follows a failure of both hosts: the first one fails over at once
    assert metrics.total("output.failures") == 8
    per_host = [v for (name, _), v in metrics.counters().items() if name == "output.failures"]
    assert per_host == [4, 4]
