"""The self-monitoring HTTP endpoint (``http.enabled``), on asyncio streams.

``GET /`` identity, ``GET /stats`` libbeat-like JSON, ``GET /metrics`` Prometheus text,
``GET /health`` 200 or 503. Add ``?pretty`` for indented JSON. One request per connection;
every read is bounded in size and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

import orjson

from sorabeat.config.secrets import SecretScrubber
from sorabeat.config.settings import HttpSettings
from sorabeat.event import AgentInfo
from sorabeat.monitoring import prometheus
from sorabeat.monitoring.health import Health
from sorabeat.monitoring.registry import Registry
from sorabeat.monitoring.snapshot import Snapshot
from sorabeat.monitoring.stats import identity, stats

log = logging.getLogger("sorabeat.monitoring")

MAX_REQUEST_HEAD = 8192
READ_TIMEOUT = 10.0
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Response:
    status: HTTPStatus
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, head_only: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status.value} {self.status.phrase}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in self.headers),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def json_response(status: HTTPStatus, doc: Any, pretty: bool) -> Response:
    option = orjson.OPT_INDENT_2 if pretty else 0
    return Response(status, JSON, orjson.dumps(doc, option=option) + b"\n")


class MonitoringServer:
    def __init__(
        self,
        settings: HttpSettings,
        agent: AgentInfo,
        registry: Registry,
        clock: Callable[[], float] = time.monotonic,
        scrubber: SecretScrubber | None = None,
    ) -> None:
        self.settings = settings
        self.agent = agent
        self.registry = registry
        self.clock = clock
        # labels and messages in /stats and /metrics may quote settings or a server's words
        self.scrubber = scrubber or SecretScrubber(())
        self.started = clock()
        self.health = Health(registry, settings.unhealthy_after, self.started)
        self._server: asyncio.Server | None = None
        self._sampler: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the monitoring server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen; raises OSError when the address cannot be bound."""
        self._server = await asyncio.start_server(
            self._serve, self.settings.host, self.settings.port, limit=MAX_REQUEST_HEAD
        )
        self._sampler = asyncio.create_task(self._sample(), name="health-sampler")
        log.info(
            "monitoring endpoint on http://%s:%d (/, /stats, /metrics, /health)",
            self.settings.host,
            self.port,
        )

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _sample(self) -> None:
        interval = min(1.0, self.settings.unhealthy_after / 4)
        while True:
            self.health.sample(self.clock())
            await asyncio.sleep(interval)

    def respond(self, method: str, target: str) -> Response:
        """The response to one request, scrubbed (no I/O: tests call it directly too)."""
        response = self._route(method, target)
        return replace(response, body=self.scrubber.scrub_bytes(response.body))

    def _route(self, method: str, target: str) -> Response:
        path, _, query = target.partition("?")
        pretty = "pretty" in query.split("&")
        routes: dict[str, Callable[[bool], Response]] = {
            "/": self._identity,
            "/stats": self._stats,
            "/metrics": self._metrics,
            "/health": self._health,
        }
        route = routes.get(path.rstrip("/") or "/")
        if route is None:
            return json_response(HTTPStatus.NOT_FOUND, {"error": f"no such path {path}"}, pretty)
        if method not in ("GET", "HEAD"):
            response = json_response(
                HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{method} is not allowed"}, pretty
            )
            return Response(
                response.status, response.content_type, response.body, (("Allow", "GET, HEAD"),)
            )
        return route(pretty)

    def _identity(self, pretty: bool) -> Response:
        return json_response(HTTPStatus.OK, identity(self.agent), pretty)

    def _stats(self, pretty: bool) -> Response:
        doc = stats(self.agent, Snapshot.of(self.registry), self.clock() - self.started)
        return json_response(HTTPStatus.OK, doc, pretty)

    def _metrics(self, pretty: bool) -> Response:
        info = {"name": self.agent.name, "uuid": self.agent.id, "version": self.agent.version}
        fams = prometheus.families(Snapshot.of(self.registry), info, self.clock() - self.started)
        return Response(HTTPStatus.OK, prometheus.CONTENT_TYPE, prometheus.render(fams).encode())

    def _health(self, pretty: bool) -> Response:
        status = self.health.status(self.clock())
        if status.healthy:
            return json_response(HTTPStatus.OK, {"status": "ok"}, pretty)
        doc = {"status": "unhealthy", "reason": status.reason}
        return json_response(HTTPStatus.SERVICE_UNAVAILABLE, doc, pretty)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            except (asyncio.LimitOverrunError, ValueError):
                response = Response(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, JSON, b'{"error":"too large"}\n'
                )
                writer.write(response.encode(head_only=False))
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                response = Response(HTTPStatus.BAD_REQUEST, JSON, b'{"error":"bad request"}\n')
                writer.write(response.encode(head_only=False))
                return
            method, target, _ = parts
            writer.write(self.respond(method, target).encode(head_only=method == "HEAD"))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away or never finished its request
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), READ_TIMEOUT)
