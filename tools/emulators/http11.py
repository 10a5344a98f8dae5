"""A small asyncio HTTP/1.1 server for emulators: keep-alive, Content-Length and chunked
bodies, and handlers that may misbehave on purpose (reset the connection, stall, send a
truncated body). Loopback only; every read has a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

READ_TIMEOUT = 60.0
REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    411: "Length Required",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lowercased names
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # misbehaviour, for fault injection
    delay: float = 0.0  # sleep before answering (after the handler committed its effects)
    reset_before: bool = False  # abort the connection instead of answering
    reset_after_head: bool = False  # send the status line and headers, then abort
    truncate_to: int | None = None  # send only this many body bytes (Content-Length says all)


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.host = "127.0.0.1"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._server = await asyncio.start_server(
            self._connection, host, port or self.port, ssl=self.ssl_context, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Close the listener and every open connection (a server going down)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                try:
                    response = await self.handler(request)
                except Exception as exc:  # an emulator bug: answer 500 so the test sees it
                    response = Response(500, f'{{"emulator_error":"{exc!r}"}}'.encode())
                if not await self._write(writer, request, response):
                    return
                if request.headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, ssl.SSLError):
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort() if writer.transport.is_closing() else writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
        else:
            length = int(headers.get("content-length", "0"))
            body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)
        parts = urlsplit(target)
        return Request(
            method=method.upper(),
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=body,
        )

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        chunks = []
        while True:
            size_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), READ_TIMEOUT)
            size = int(size_line.split(b";")[0], 16)
            data = await asyncio.wait_for(reader.readexactly(size + 2), READ_TIMEOUT)
            if size == 0:
                return b"".join(chunks)
            chunks.append(data[:-2])

    async def _write(
        self, writer: asyncio.StreamWriter, request: Request, response: Response
    ) -> bool:
        if response.delay:
            await asyncio.sleep(response.delay)
        if response.reset_before:
            writer.transport.abort()
            return False
        headers = {
            "content-type": "application/json; charset=UTF-8",
            **response.headers,
            "content-length": str(len(response.body)),
        }
        reason = REASONS.get(response.status, "Unknown")
        head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        writer.write(head.encode("latin-1") + b"\r\n")
        if response.reset_after_head:
            await writer.drain()
            writer.transport.abort()
            return False
        if request.method != "HEAD":
            body = response.body
            if response.truncate_to is not None:
                writer.write(body[: response.truncate_to])
                await writer.drain()
                writer.transport.abort()
                return False
            writer.write(body)
        await writer.drain()
        return True
