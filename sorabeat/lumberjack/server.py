"""A Lumberjack v2 server on asyncio (the codec is ``protocol.FrameDecoder``).

By default it behaves like Logstash's beats input: one ACK per window with the highest seq,
written after the window's events were handed over; ``A 0`` keepalives while a window is
pending; ``A 0`` for an empty window; idle connections closed. ``ServerOptions`` switches
reproduce the other servers a client meets (go-lumber's count ACKs, the old Ruby server's
partial ACKs, slow or silent servers, dropped connections, RST on idle close).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from sorabeat.lumberjack.protocol import (
    DEFAULT_MAX_PAYLOAD,
    MAX_WINDOW,
    Event,
    FrameDecoder,
    ProtocolError,
    WindowEnd,
    WindowStart,
    ack_frame,
)

log = logging.getLogger("sorabeat.lumberjack.server")

READ_SIZE = 256 * 1024

AckStyle = Literal["highest", "count"]


@dataclass
class ServerOptions:
    ack_style: AckStyle = "highest"  # highest: Logstash; count: go-lumber (same with 1..N)
    partial_ack_every: int = 0  # also ack every N events of a window (the old Ruby server)
    ack_delay: float = 0.0  # wait this long before each ACK (keepalives keep flowing)
    never_ack: bool = False  # a stuck server: no ACK, no keepalive
    # a wedged Logstash pipeline: read every window, answer only ACK 0 keepalives; turned off,
    # the held windows are handed over and acknowledged late, oldest first
    hold_acks: bool = False
    drop_after_events: int = 0  # abort a connection once it delivered this many events
    drop_connections: int = 1  # how many connections the drop switch hits (0: every one)
    keepalive_interval: float = 5.0  # A 0 while a window is pending (Logstash: 5 s; 0: never)
    idle_timeout: float = 60.0  # close connections without reads or writes this long (0: never)
    idle_close_rst: bool = False  # close idle connections with RST (SO_LINGER 0) as Logstash
    answer_empty_window: bool = True  # W 0 -> A 0 (Logstash >= 6.7); False: go-lumber
    max_window: int = MAX_WINDOW
    max_payload: int = DEFAULT_MAX_PAYLOAD
    ssl_context: ssl.SSLContext | None = None
    handshake_timeout: float = 10.0
    record: bool = False  # keep every received payload per connection (tests)


@dataclass
class ConnectionState:
    id: int
    peer: str
    received: list[bytes] = field(default_factory=list)  # only with record=True
    events_received: int = 0
    events_acked: int = 0
    windows: int = 0
    window_sizes: list[int] = field(default_factory=list)  # only with record=True
    acks_sent: list[int] = field(default_factory=list)
    closed: bool = False
    error: str | None = None
    tls_version: str | None = None
    peer_certificate: bool = False


EventsHandler = Callable[[ConnectionState, list[bytes]], Awaitable[None]]
"""Receives events before they are acknowledged; raising ProtocolError refuses them
(the connection is closed without an ACK, as Logstash does with invalid JSON)."""


class _DropConnectionError(Exception):
    pass


class LumberjackServer:
    def __init__(self, options: ServerOptions, handler: EventsHandler) -> None:
        self.options = options
        self.handler = handler
        self.connections: list[ConnectionState] = []
        self.protocol_errors = 0
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self._drops_done = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, host, port)
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        state = ConnectionState(next(self._ids), peer)
        self.connections.append(state)
        try:
            await _Connection(self, state, reader, writer).run()
        except asyncio.CancelledError:
            # close() cancels connections; ending quietly keeps asyncio's stream server from
            # logging the cancellation as an error on every ordinary stop
            pass
        finally:
            state.closed = True
            self._tasks.discard(task)

    def _should_drop(self) -> bool:
        opts = self.options
        if opts.drop_connections and self._drops_done >= opts.drop_connections:
            return False
        self._drops_done += 1
        return True


class _PlainChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self) -> bytes:
        return await self.reader.read(READ_SIZE)

    def write(self, data: bytes) -> None:
        self.writer.write(data)


class _TLSChannel(_PlainChannel):
    """TLS over the plain stream with memory BIOs, so that a failed handshake still sends
    its alert to the client (asyncio's TLS transport drops it), as Logstash's Netty does:
    the client then learns why (certificate required, protocol version...)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext
    ) -> None:
        super().__init__(reader, writer)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)

    def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self.writer.write(pending)

    async def _fill(self) -> bool:
        data = await self.reader.read(READ_SIZE)
        if not data:
            self._incoming.write_eof()
            return False
        self._incoming.write(data)
        return True

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                await self.writer.drain()
                await self._fill()
            except ssl.SSLError:
                self._flush()  # the alert that tells the client why
                with contextlib.suppress(OSError):
                    await asyncio.wait_for(self.writer.drain(), 1)
                raise
            else:
                self._flush()
                await self.writer.drain()
                return

    async def read(self) -> bytes:
        while True:
            try:
                return self.tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                self._flush()  # TLS 1.3 session tickets and the like
                if not await self._fill():
                    return b""
            except ssl.SSLZeroReturnError:
                return b""
            except ssl.SSLError:
                self._flush()
                raise

    def write(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()


class _Connection:
    def __init__(
        self,
        server: LumberjackServer,
        state: ConnectionState,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.opts = server.options
        self.state = state
        self.writer = writer
        self.channel = _PlainChannel(reader, writer)
        loop = asyncio.get_running_loop()
        self.last_io = loop.time()
        self.last_write = loop.time()
        self.window_pending = False
        self.idle_closed = False
        self.held: list[tuple[list[bytes], int, int]] = []  # hold_acks: (events, highest, count)

    async def run(self) -> None:
        state = self.state
        ticker = None
        try:
            context = self.opts.ssl_context
            if context is not None and not await self._start_tls(context):
                return
            ticker = asyncio.create_task(self._tick())
            await self._read_loop()
        except ProtocolError as exc:
            self.server.protocol_errors += 1
            state.error = f"protocol error: {exc}"
            log.warning(
                "lumberjack connection %d from %s: protocol error: %s; closing",
                state.id,
                state.peer,
                exc,
            )
        except _DropConnectionError:
            state.error = "dropped by the drop_after_events switch"
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            if not self.idle_closed:
                state.error = f"{type(exc).__name__}: {exc}"
                log.debug("lumberjack connection %d from %s: %s", state.id, state.peer, exc)
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            self.writer.transport.abort()

    async def _start_tls(self, context: ssl.SSLContext) -> bool:
        channel = _TLSChannel(self.channel.reader, self.writer, context)
        try:
            async with asyncio.timeout(self.opts.handshake_timeout):
                await channel.handshake()
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            self.state.error = f"TLS handshake failed: {exc}"
            log.warning(
                "lumberjack connection %d from %s: TLS handshake failed: %s",
                self.state.id,
                self.state.peer,
                getattr(exc, "reason", None) or exc or "timeout",
            )
            return False
        self.channel = channel
        self.state.tls_version = channel.tls.version()
        self.state.peer_certificate = channel.tls.getpeercert(binary_form=True) is not None
        return True

    async def _read_loop(self) -> None:
        decoder = FrameDecoder(max_payload=self.opts.max_payload, max_window=self.opts.max_window)
        loop = asyncio.get_running_loop()
        pending: list[bytes] = []
        acked_seqs = 0  # events of the current window acknowledged
        highest = 0
        remaining = 0  # events still due in the current window
        while True:
            data = await self.channel.read()
            if not data:
                if decoder.in_window or decoder.buffered:
                    log.debug(
                        "lumberjack connection %d from %s: closed in the middle of a window",
                        self.state.id,
                        self.state.peer,
                    )
                return
            self.last_io = loop.time()
            for frame in decoder.feed(data):
                if type(frame) is Event:
                    pending.append(frame.payload)
                    if frame.seq > highest:
                        highest = frame.seq
                    remaining -= 1
                    self._count_received(frame.payload)
                    if (
                        self.opts.partial_ack_every
                        and len(pending) >= self.opts.partial_ack_every
                        and remaining > 0
                    ):
                        acked_seqs += len(pending)
                        await self._accept(pending, highest, acked_seqs)
                        pending = []
                elif type(frame) is WindowStart:
                    self.window_pending = True
                    self.state.windows += 1
                    if self.opts.record:
                        self.state.window_sizes.append(frame.size)
                    pending, acked_seqs, highest, remaining = [], 0, 0, frame.size
                elif type(frame) is WindowEnd:
                    if frame.size == 0:
                        self.window_pending = False
                        if self.opts.answer_empty_window and not self.opts.never_ack:
                            await self._write_ack(0)
                        continue
                    acked_seqs += len(pending)
                    if self.opts.hold_acks or self.held:
                        self.held.append((pending, frame.highest_seq, acked_seqs))
                    else:
                        await self._accept(pending, frame.highest_seq, acked_seqs)
                    pending = []
                    self.window_pending = bool(self.held)

    def _count_received(self, payload: bytes) -> None:
        state = self.state
        state.events_received += 1
        if self.opts.record:
            state.received.append(payload)
        drop = self.opts.drop_after_events
        if drop and state.events_received == drop and self.server._should_drop():
            raise _DropConnectionError

    async def _accept(self, events: list[bytes], highest: int, count: int) -> None:
        """Hand events over, then acknowledge them."""
        if self.opts.never_ack:
            return
        if events:
            await self.server.handler(self.state, events)
        if self.opts.ack_delay > 0:
            await asyncio.sleep(self.opts.ack_delay)
        await self._write_ack(highest if self.opts.ack_style == "highest" else count)
        self.state.events_acked += len(events)

    async def _write_ack(self, seq: int) -> None:
        self.channel.write(ack_frame(seq))
        self.state.acks_sent.append(seq)
        now = asyncio.get_running_loop().time()
        self.last_write = now
        self.last_io = now
        await self.writer.drain()

    async def _tick(self) -> None:
        """Keepalives while a window is pending; the idle close."""
        opts = self.opts
        periods = [p for p in (opts.keepalive_interval, opts.idle_timeout) if p > 0]
        if not periods:
            return
        step = min(min(periods) / 5, 0.5)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(step)
            if self.held and not opts.hold_acks:
                while self.held:
                    await self._accept(*self.held.pop(0))
                self.window_pending = False
            now = loop.time()
            if (
                opts.keepalive_interval > 0
                and self.window_pending
                and not opts.never_ack
                and now - self.last_write >= opts.keepalive_interval
            ):
                self.channel.write(ack_frame(0))
                self.state.acks_sent.append(0)
                self.last_write = now
                self.last_io = now
            if opts.idle_timeout > 0 and now - self.last_io >= opts.idle_timeout:
                self.idle_closed = True
                self.state.error = "closed for inactivity"
                log.debug(
                    "lumberjack connection %d from %s: idle for %.1fs, closing",
                    self.state.id,
                    self.state.peer,
                    now - self.last_io,
                )
                if opts.idle_close_rst:
                    sock = self.writer.get_extra_info("socket")
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.setsockopt(
                                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                            )
                    self.writer.transport.abort()
                else:
                    self.writer.close()
                return
