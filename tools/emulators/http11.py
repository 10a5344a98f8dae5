"""The emulators' face of sorabeat's HTTP/1.1 core (``sorabeat.httpd``): requests with the
path and query split out, mutable responses, and handlers that may misbehave on purpose
(reset the connection, stall, send a truncated body). Loopback only; reads time out."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from sorabeat import httpd

LIMITS = httpd.Limits(max_header_bytes=1 << 20, max_body_bytes=1 << 30, idle_timeout=60.0)


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
        self._core = httpd.HttpServer(
            self._answer, limits=LIMITS, ssl_context=ssl_context, name="emulator"
        )
        self._listening = False
        self.port = 0
        self.host = "127.0.0.1"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        _, self.port = await self._core.start(host, port or self.port)
        self._listening = True

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Close the listener and every open connection (a server going down)."""
        if self._listening:
            self._listening = False
            await self._core.close(reset=True)

    async def _answer(self, request: httpd.Request) -> httpd.Response | httpd.RawResponse:
        parts = urlsplit(request.target)
        mine = Request(
            method=request.method.upper(),
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=dict(request.headers),
            body=request.body,
        )
        try:
            response = await self.handler(mine)
        except Exception as exc:  # an emulator bug: answer 500 so the test sees it
            response = Response(500, f'{{"emulator_error":"{exc!r}"}}'.encode())
        if response.delay:
            await asyncio.sleep(response.delay)
        if response.reset_before:
            return httpd.RawResponse(b"", reset=True)
        headers = {"content-type": "application/json; charset=UTF-8", **response.headers}
        cut = 0 if response.reset_after_head else response.truncate_to
        return httpd.Response(
            response.status,
            response.body,
            tuple(headers.items()),
            body_bytes=cut,
            reset=cut is not None,
        )
