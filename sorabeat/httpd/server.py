"""The asyncio side of the HTTP/1.1 core: listening, reading with an idle timeout, calling
the handler for each request in order, writing answers, and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from sorabeat.httpd.exchange import Exchange, Limits
from sorabeat.httpd.messages import ProtocolError, RawResponse, Request, Response

log = logging.getLogger("sorabeat.httpd")

Handler = Callable[[Request], Awaitable[Response | RawResponse]]
ErrorResponder = Callable[[ProtocolError], Response]
_READ_SIZE = 64 * 1024
DEFAULT_LIMITS = Limits()


def _write(writer: asyncio.StreamWriter, pieces: list[bytes]) -> None:
    # one write for a small answer; a large body goes alone, never joined (copied) to its head
    if sum(map(len, pieces)) <= _READ_SIZE:
        writer.write(b"".join(pieces))
    else:
        for piece in pieces:
            writer.write(piece)


def plain_error(error: ProtocolError) -> Response:
    """The default answer to a request the server refuses: the phrase and the reason."""
    text = f"{HTTPStatus(error.status).phrase}: {error.message}\n"
    return Response(error.status, text.encode(), (("content-type", "text/plain"), *error.headers))


class HttpServer:
    """Serves ``handler`` over HTTP/1.1 (keep-alive, pipelining, ``Expect: 100-continue``)
    within ``limits``; TLS with ``ssl_context``.

    Requests the server refuses (malformed: 400, limits: 413 and 431, methods: 405, version:
    505) and handler failures (500) are answered with ``error_response`` and a close.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        limits: Limits = DEFAULT_LIMITS,
        error_response: ErrorResponder = plain_error,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "server",
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.error_response = error_response
        self.ssl_context = ssl_context
        self.name = name  # in log lines and the 500 message
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reset_on_close = False
        self.accepted = 0  # TCP connections accepted, so tests can see keep-alive at work

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the bound (host, port), the real port when ``port`` is 0."""
        self._reset_on_close = False
        self._server = await asyncio.start_server(
            self._connection, host, port, ssl=self.ssl_context
        )
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets (none once closed)."""
        return tuple(self._server.sockets) if self._server is not None else ()

    async def close(self, *, reset: bool = False) -> None:
        """Stop listening and end every connection, answers under way included; ``reset``
        ends them with a TCP reset (a server going down hard)."""
        self._reset_on_close = reset
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        reset = False
        try:
            reset = await self._serve(reader, writer)
        except (ConnectionError, ssl.SSLError):
            pass  # the client went away
        except asyncio.CancelledError:
            # close() cancels connections; ending normally matters on Python 3.11, whose
            # asyncio logs an error for a cancelled client_connected_cb task.
            reset = self._reset_on_close
        except Exception:  # a bug (an answer h11 cannot write): log it, end this connection
            log.exception("%s: the connection failed", self.name)
            reset = True
        finally:
            self._tasks.discard(task)
            if reset:
                writer.transport.abort()
            else:
                writer.close()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(writer.wait_closed(), self.limits.idle_timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer requests until the connection ends; True to end it with a reset."""
        exchange = Exchange(self.limits)
        while True:
            item = exchange.next_request()
            if item is None:
                writer.write(exchange.continue_bytes())
                try:
                    async with asyncio.timeout(self.limits.idle_timeout):
                        data = await reader.read(_READ_SIZE)
                except TimeoutError:
                    return False
                if not data:
                    return False
                exchange.feed(data)
                continue
            if isinstance(item, ProtocolError):
                log.debug("%s: refused a request: %s", self.name, item.message)
                _write(writer, exchange.respond(self.error_response(item), close=True))
                return not await self._drain(writer)
            answer = await self._answer(item)
            if isinstance(answer, RawResponse):
                writer.write(answer.data)
                if not await self._drain(writer):
                    return True
                if answer.close or answer.reset:
                    return answer.reset
                exchange.responded_raw()
            else:
                _write(writer, exchange.respond(answer))
                if not await self._drain(writer):
                    return True
                if answer.body_bytes is not None or answer.reset:
                    return answer.reset
            if not exchange.next_cycle():
                return False

    async def _drain(self, writer: asyncio.StreamWriter) -> bool:
        """Wait until the answer is on its way; False when the peer read nothing of it for
        the idle timeout (a client that stopped reading must not hold the connection, and
        the answer's memory, forever)."""
        try:
            async with asyncio.timeout(self.limits.idle_timeout):
                await writer.drain()
        except TimeoutError:
            log.debug("%s: the client read nothing for %gs", self.name, self.limits.idle_timeout)
            return False
        return True

    async def _answer(self, request: Request) -> Response | RawResponse:
        try:
            return await self.handler(request)
        except Exception:
            log.exception(
                "%s: the handler failed on %s %s", self.name, request.method, request.target
            )
            error = ProtocolError(500, f"internal error of the {self.name}")
            response = self.error_response(error)
            return Response(response.status, response.body, response.headers, close=True)
