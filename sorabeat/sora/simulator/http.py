"""The asyncio side of the HTTP/1.1 server: sockets, keep-alive, replies, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sorabeat.sora.simulator.httpcodec import (
    CONTINUE,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    ProtocolError,
    Request,
    RequestParser,
    encode_head,
)

log = logging.getLogger("sorabeat.sora.simulator")

IDLE_TIMEOUT = 60.0  # Cowboy's default idle_timeout
_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    close: bool = False
    send_bytes: int | None = None  # write only this much of the body, then close
    content_type: str = "application/json"


Handler = Callable[[Request], Awaitable[Reply]]
ErrorBody = Callable[[ProtocolError], bytes]


class _Date:
    """The ``date`` header value, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._text = email.utils.formatdate(now, usegmt=True)
        return self._text


class HttpServer:
    def __init__(
        self,
        handler: Handler,
        error_body: ErrorBody,
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.handler = handler
        self.error_body = error_body
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._date = _Date()
        self.accepted = 0  # TCP connections accepted, so tests can see keep-alive at work

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._connection, host, port)
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        """Stop listening and end every connection, replies under way included."""
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except asyncio.CancelledError:
            # close() cancels connections; ending normally matters on Python 3.11, whose
            # asyncio logs an error for a cancelled client_connected_cb task.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = RequestParser(
            max_header_bytes=self.max_header_bytes, max_body_bytes=self.max_body_bytes
        )
        while True:
            try:
                async with asyncio.timeout(self.idle_timeout):
                    data = await reader.read(_READ_SIZE)
            except TimeoutError:
                return
            if not data:
                return
            items = parser.feed(data)
            if parser.want_continue():
                writer.write(CONTINUE)
            for item in items:
                if isinstance(item, ProtocolError):
                    log.debug("simulator: bad request: %s", item.message)
                    await self._send(writer, Reply(item.status, self.error_body(item), close=True))
                    return
                try:
                    reply = await self.handler(item)
                except Exception:
                    log.exception("simulator: the handler failed on %s", item.target)
                    error = ProtocolError(500, "internal error of the simulator")
                    reply = Reply(500, self.error_body(error), close=True)
                close = reply.close or not item.keep_alive or reply.send_bytes is not None
                await self._send(writer, reply, close=close)
                if close:
                    return
            await writer.drain()

    async def _send(
        self, writer: asyncio.StreamWriter, reply: Reply, *, close: bool = True
    ) -> None:
        head = encode_head(
            reply.status,
            len(reply.body),
            date=self._date(),
            close=close and reply.send_bytes is None,
            content_type=reply.content_type,
        )
        writer.write(head)
        if reply.send_bytes is None:
            writer.write(reply.body)
        else:
            writer.write(reply.body[: reply.send_bytes])
        await writer.drain()
