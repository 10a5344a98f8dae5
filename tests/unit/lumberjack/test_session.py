"""One Logstash connection's life (``lumberjack/session.py``) against a scripted server on a
real TCP socket: what it sends, what an ACK changes, and how each kind of end is reported."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from sorabeat.lumberjack import protocol
from sorabeat.lumberjack.batches import BatchQueue, Job
from sorabeat.lumberjack.client import LumberjackClient
from sorabeat.lumberjack.compression import Deflate
from sorabeat.lumberjack.hosts import Endpoint
from sorabeat.lumberjack.session import COMPRESS_IN_THREAD, Session, Worker, encode_window
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.lumberjack.window import WindowSizer
from sorabeat.monitoring.registry import Registry

pytestmark = pytest.mark.timeout(30)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def next_window(reader: asyncio.StreamReader, decoder: protocol.FrameDecoder) -> int:
    """Read until a whole window arrived; return its size (0 at EOF)."""
    while True:
        data = await reader.read(65536)
        if not data:
            return 0
        for frame in decoder.feed(data):
            if isinstance(frame, protocol.WindowEnd):
                return frame.size


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[Endpoint]:
    server = await asyncio.start_server(script, "127.0.0.1", 0)
    try:
        yield Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()


class Harness:
    def __init__(self, client: LumberjackClient, **settings: object) -> None:
        self.queue = BatchQueue()
        self.worker = Worker([client.endpoint], 0, WindowSizer(10, slow_start=False))
        self.metrics = Registry()
        self.acked_windows = 0
        self.requeues = 0
        s = dataclasses.replace(LogstashSettings(hosts=[str(client.endpoint)]), **settings)
        self.session = Session(
            client,
            self.worker,
            self.queue,
            settings=lambda: s,
            window_slots=1,
            batch_size=10,
            metrics=self.metrics,
            deflate=zlib.compressobj,
            window_acked=self.on_window_acked,
            work_requeued=self.on_requeued,
        )

    def on_window_acked(self) -> None:
        self.acked_windows += 1

    def on_requeued(self) -> None:
        self.requeues += 1

    def publish(self, n: int) -> tuple[Job, list[int]]:
        calls: list[int] = []
        job = Job([b'{"n":%d}' % i for i in range(n)], calls.append)
        self.queue.add(job)
        self.worker.wake.set()
        return job, calls


async def test_windows_are_sent_acknowledged_and_the_ttl_ends_the_session_cleanly() -> None:
    received: list[int] = []

    async def ack_each_window(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = protocol.FrameDecoder()
        while size := await next_window(reader, decoder):
            received.append(size)
            writer.write(protocol.ack_frame(size))
        writer.close()

    async with scripted(ack_each_window) as endpoint:
        client = await LumberjackClient.connect(endpoint, io_timeout=5)
        h = Harness(client, ttl=0.5)
        job, calls = h.publish(25)
        end = await h.session.run()
    assert (end.reason, end.silent, end.sent_windows) == (None, False, 3)
    assert received == [10, 10, 5]
    assert calls == [10, 20, 25] and job.done.done()
    assert h.acked_windows == 3 and h.requeues == 0
    assert h.metrics.total("output.events.acked") == 25
    assert not h.session.in_flight


async def test_a_failure_requeues_exactly_the_unacknowledged_remainder() -> None:
    async def ack_four_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await next_window(reader, protocol.FrameDecoder())
        writer.write(protocol.ack_frame(4))
        await writer.drain()
        writer.close()

    async with scripted(ack_four_then_close) as endpoint:
        client = await LumberjackClient.connect(endpoint, io_timeout=5)
        h = Harness(client)
        job, calls = h.publish(25)
        end = await h.session.run()
    assert end.reason is not None and "closed by the server" in end.reason
    assert not end.silent  # a window was in flight and never answered as a whole
    assert calls == [4]
    assert h.requeues == 1
    assert h.metrics.total("output.events.retried") == 6
    rest = h.queue.take(100)
    assert rest is not None and (rest.job, rest.start, rest.end) == (job, 4, 10)


async def test_a_close_with_nothing_in_flight_is_an_idle_close() -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with scripted(close_at_once) as endpoint:
        client = await LumberjackClient.connect(endpoint, io_timeout=5)
        h = Harness(client)
        end = await h.session.run()
    assert end.silent
    assert end.reason is not None and end.reason.startswith("connection closed while idle")
    assert end.sent_windows == 0 and h.requeues == 0


async def test_a_window_sent_after_an_idle_spell_and_closed_unanswered_is_resent_silently() -> None:
    second_window = asyncio.Event()

    async def ack_first_close_on_second(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        decoder = protocol.FrameDecoder()
        writer.write(protocol.ack_frame(await next_window(reader, decoder)))
        await next_window(reader, decoder)
        second_window.set()
        writer.close()  # as Logstash does when its inactivity timeout hit just before

    async with scripted(ack_first_close_on_second) as endpoint:
        client = await LumberjackClient.connect(endpoint, io_timeout=5)
        h = Harness(client)
        first, _ = h.publish(3)
        run = asyncio.create_task(h.session.run())
        await first.done  # then the link is idle
        second, calls = h.publish(2)
        end = await run
    assert second_window.is_set()
    assert end.silent and end.sent_windows == 2
    assert calls == []
    rest = h.queue.take(100)
    assert rest is not None and (rest.job, rest.start, rest.end) == (second, 0, 2)


@pytest.mark.parametrize("level", [0, 3])
async def test_encoding_uses_the_compress_hook_and_a_thread_only_for_large_windows(
    level: int,
) -> None:
    used: list[bool] = []  # per compression: whether it ran on the loop's thread

    def counting(lvl: int) -> Deflate:
        used.append(threading.get_ident() == loop_thread)
        return zlib.compressobj(lvl)

    loop_thread = threading.get_ident()

    settings = LogstashSettings(hosts=["ls"], compression_level=level, escape_html=True)
    small = [b'{"a":"<b>"}']
    large = [b'{"pad":"' + b"x" * COMPRESS_IN_THREAD + b'"}']
    for payloads in (small, large):
        data = await encode_window(payloads, settings, counting)
        frames = protocol.FrameDecoder(max_payload=2 * COMPRESS_IN_THREAD).feed(data)
        got = [f.payload for f in frames if isinstance(f, protocol.Event)]
        assert len(got) == 1 and b"<" not in got[0]  # escape_html applied
    assert used == ([True, False] if level else [])  # the large one off the loop
