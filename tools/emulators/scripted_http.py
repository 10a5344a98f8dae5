"""A loopback HTTP server that answers every request with bytes the test scripted.

For the responses a well-behaved server never sends (wrong shapes, lying lengths, endless
bodies) that the Sora input must survive. Requests are read by sorabeat's HTTP core; the
answers are written as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sorabeat import httpd

Responder = Callable[["Request"], Awaitable[bytes | None]]
LIMITS = httpd.Limits(max_header_bytes=1 << 20, max_body_bytes=1 << 30, idle_timeout=10.0)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    responder: Responder
    close_after_reply: bool = False
    requests: list[Request] = field(default_factory=list)
    _server: httpd.HttpServer | None = None

    async def start(self) -> tuple[str, int]:
        self._server = httpd.HttpServer(self._answer, limits=LIMITS, name="scripted server")
        return await self._server.start("127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _answer(self, request: httpd.Request) -> httpd.RawResponse:
        mine = Request(request.method, request.target, dict(request.headers), request.body)
        self.requests.append(mine)
        reply = await self.responder(mine)
        if reply is None:
            return httpd.RawResponse(b"", close=True)
        return httpd.RawResponse(reply, close=self.close_after_reply)


def http_response(status: int, body: bytes, *, reason: str = "OK", extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body
