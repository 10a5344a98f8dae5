"""The self-monitoring HTTP endpoint (``http.enabled``), on the HTTP/1.1 core.

``GET /`` identity, ``GET /stats`` libbeat-like JSON, ``GET /metrics`` Prometheus text,
``GET /health`` 200 or 503. Add ``?pretty`` for indented JSON. One request per connection;
the head, the body and the wait for them are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from http import HTTPStatus
from typing import Any

import orjson

from sorabeat.config.secrets import SecretScrubber
from sorabeat.config.settings import HttpSettings
from sorabeat.event import AgentInfo
from sorabeat.httpd import HttpServer, Limits, ProtocolError, Request, Response
from sorabeat.monitoring import prometheus
from sorabeat.monitoring.health import Health
from sorabeat.monitoring.registry import Registry
from sorabeat.monitoring.snapshot import Snapshot
from sorabeat.monitoring.stats import identity, stats

log = logging.getLogger("sorabeat.monitoring")

LIMITS = Limits(
    max_header_bytes=8192, max_body_bytes=8192, idle_timeout=10.0, methods=("GET", "HEAD")
)
JSON = "application/json; charset=utf-8"


def json_response(status: HTTPStatus, doc: Any, pretty: bool) -> Response:
    option = orjson.OPT_INDENT_2 if pretty else 0
    body = orjson.dumps(doc, option=option) + b"\n"
    return Response(status, body, (("content-type", JSON),), close=True)


def refused(error: ProtocolError) -> Response:
    """A request the HTTP layer refused (malformed, too large, a method other than GET)."""
    response = json_response(HTTPStatus(error.status), {"error": error.message}, pretty=False)
    return Response(response.status, response.body, response.headers + error.headers, close=True)


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
        self._http = HttpServer(
            self._handle, limits=LIMITS, error_response=refused, name="monitoring endpoint"
        )
        self._port: int | None = None
        self._sampler: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the monitoring server is not listening")
        return self._port

    async def start(self) -> None:
        """Listen; raises OSError when the address cannot be bound."""
        _, self._port = await self._http.start(self.settings.host, self.settings.port)
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
        await self._http.close()
        self._port = None

    async def _sample(self) -> None:
        interval = min(1.0, self.settings.unhealthy_after / 4)
        while True:
            self.health.sample(self.clock())
            await asyncio.sleep(interval)

    def respond(self, target: str) -> Response:
        """The response to one request, scrubbed (no I/O: tests call it directly too)."""
        response = self._route(target)
        return replace(response, body=self.scrubber.scrub_bytes(response.body))

    def _route(self, target: str) -> Response:
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
        return route(pretty)

    def _identity(self, pretty: bool) -> Response:
        return json_response(HTTPStatus.OK, identity(self.agent), pretty)

    def _stats(self, pretty: bool) -> Response:
        doc = stats(self.agent, Snapshot.of(self.registry), self.clock() - self.started)
        return json_response(HTTPStatus.OK, doc, pretty)

    def _metrics(self, pretty: bool) -> Response:
        info = {"name": self.agent.name, "uuid": self.agent.id, "version": self.agent.version}
        fams = prometheus.families(Snapshot.of(self.registry), info, self.clock() - self.started)
        body = prometheus.render(fams).encode()
        return Response(
            HTTPStatus.OK, body, (("content-type", prometheus.CONTENT_TYPE),), close=True
        )

    def _health(self, pretty: bool) -> Response:
        status = self.health.status(self.clock())
        if status.healthy:
            return json_response(HTTPStatus.OK, {"status": "ok"}, pretty)
        doc = {"status": "unhealthy", "reason": status.reason}
        return json_response(HTTPStatus.SERVICE_UNAVAILABLE, doc, pretty)

    async def _handle(self, request: Request) -> Response:
        # the core answers 405 for methods other than GET and HEAD, and leaves HEAD's body out
        return self.respond(request.target)
