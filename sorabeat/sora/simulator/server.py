"""The Sora API as the simulator answers it, and ``SoraSimulator``, its in-process handle.

Transport as Sora's (reference, section a): ``POST /`` with the operation in
``x-sora-target``, JSON in and out, server Cowboy. Error answers carry a JSON body
``{"error_type": ..., "message": ...}``. That Sora's errors have an ``error_type`` member
is seen in a Sora API client that reads it from non-2xx answers; the status (400) and the
``error_type`` values below are inferred, not confirmed against a real Sora.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from sorabeat.httpd import HttpServer, ProtocolError, Request, Response
from sorabeat.sora.simulator.cowboy import LIMITS, HttpDate, answer
from sorabeat.sora.simulator.faults import FaultError, FaultPlan, make_plan, plan_from_request
from sorabeat.sora.simulator.profiles import PROFILES
from sorabeat.sora.simulator.report import stats_report
from sorabeat.sora.simulator.served import ServedCounts
from sorabeat.sora.simulator.state import NodeState

log = logging.getLogger("sorabeat.sora.simulator")

TARGETS = {
    "Sora_20171010.GetStatsReport": "stats",
    "Sora_20171101.GetStatsAllConnections": "connections",
}
SET_FAULT = "Simulator.SetFault"
GET_SERVED = "Simulator.GetServed"
SET_CONNECTIONS = "Simulator.SetConnections"


def error_body(error_type: str, message: str) -> bytes:
    return orjson.dumps({"error_type": error_type, "message": message})


class SoraSimulator:
    """A simulated Sora node serving the statistics API.

    ``churn`` is the share of the connections replaced per minute (0.1: a tenth leave
    and as many arrive each minute). ``clock`` gives seconds on a monotonic scale and
    ``epoch`` the wall time matching the clock's reading at construction; both are
    there so tests can drive time.
    """

    def __init__(
        self,
        profile: str = "current",
        connections: int = 10,
        *,
        seed: int = 0,
        schedulers: int = 4,
        churn: float = 0.1,
        fault: str = "none",
        slow_seconds: float = 30.0,
        cluster_peers: int = 2,
        clock: Callable[[], float] = time.monotonic,
        epoch: float | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
        if slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, got {slow_seconds}")
        self.profile = PROFILES[profile]
        self.state = NodeState(
            self.profile,
            connections=connections,
            seed=seed,
            churn=churn,
            schedulers=schedulers,
            cluster_peers=cluster_peers,
            epoch=epoch,
        )
        self.plan: FaultPlan = make_plan(fault)
        self.slow_seconds = slow_seconds
        self.served = ServedCounts()
        self.clock = clock
        self._t0 = clock()
        self._date = HttpDate()
        self._http = HttpServer(
            self.handle, limits=LIMITS, error_response=self._refused, name="simulator"
        )
        self.address: tuple[str, int] | None = None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen; returns the bound (host, port), the real port when ``port`` is 0."""
        self.address = await self._http.start(host, port)
        return self.address

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> SoraSimulator:
        if self.address is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far (keep-alive reuses one)."""
        return self._http.accepted

    @property
    def url(self) -> str:
        if self.address is None:
            raise RuntimeError("the simulator is not started")
        host, port = self.address
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    # -- control ----------------------------------------------------------------------

    def set_fault(
        self, fault: str, count: int | None = None, targets: list[str] | None = None
    ) -> None:
        """Answer the next ``count`` requests (all, if None) of ``targets`` (both metricsets,
        if None) with ``fault``; "none" heals."""
        self.plan = make_plan(fault, count, targets)

    def set_connections(self, count: int) -> None:
        """Connections arrive or leave now until ``count`` are live."""
        self.state.advance(self.now())
        self.state.set_connections(count)

    def now(self) -> float:
        """Simulation seconds since construction."""
        return self.clock() - self._t0

    # -- documents --------------------------------------------------------------------

    def stats_document(self) -> dict[str, Any]:
        return stats_report(self.state, self.now())

    def connection_documents(self) -> list[dict[str, Any]]:
        return self.state.connection_documents(self.now())

    # -- the API ----------------------------------------------------------------------

    def _reply(self, status: int, body: bytes, body_bytes: int | None = None) -> Response:
        return answer(status, body, self._date(), body_bytes)

    def _error(self, error_type: str, message: str, status: int = 400) -> Response:
        return self._reply(status, error_body(error_type, message))

    def _refused(self, error: ProtocolError) -> Response:
        """A request the HTTP layer refused (malformed, over a limit): Sora's error body."""
        return self._error("BadRequest", error.message, error.status)

    async def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return self._reject("InvalidMethod", f"{request.method} is not allowed; use POST")
        path = urlsplit(request.target).path if "://" in request.target else request.target
        if path.split("?", 1)[0] != "/":
            return self._reject("InvalidPath", f"no API at {request.target}; the path is /")
        target = request.header("x-sora-target")
        if target is None:
            return self._reject("MissingTarget", "the x-sora-target header is required")
        try:
            params = _parse_params(request.body)
        except ValueError as exc:
            return self._reject("InvalidJSON", str(exc))
        if target in TARGETS:
            return await self._statistics(TARGETS[target], params)
        if target == SET_FAULT:
            return self._set_fault(params)
        if target == GET_SERVED:
            return self._get_served(params)
        if target == SET_CONNECTIONS:
            return self._set_connections(params)
        return self._reject("UnknownTarget", f"unknown x-sora-target {target!r}")

    def _reject(self, error_type: str, message: str) -> Response:
        self.served.rejected += 1
        return self._error(error_type, message)

    async def _statistics(self, metricset: str, params: dict[str, Any]) -> Response:
        local = params.get("local", True)
        if not isinstance(local, bool):
            return self._reject("InvalidParameter", f'"local" must be a boolean, got {local!r}')
        # A single node: local or cluster-wide, the same connections.
        fault = self.plan.take(metricset)
        if fault == "500":
            self.served.count_fault(metricset, fault)
            return self._error("InternalError", "simulated failure", status=500)
        if fault == "slow":
            self.served.count_fault(metricset, fault)
            await asyncio.sleep(self.slow_seconds)
            body, _ = self._render(metricset)
            return self._reply(200, body)
        body, objects = self._render(metricset)
        if fault == "invalid-json":
            self.served.count_fault(metricset, fault)
            return self._reply(
                200, body[: len(body) // 2]
            )  # a document cut short: never valid JSON
        if fault == "truncated":
            self.served.count_fault(metricset, fault)
            return self._reply(200, body, body_bytes=len(body) // 2)
        self.served.count_ok(metricset, objects)
        return self._reply(200, body)

    def _render(self, metricset: str) -> tuple[bytes, int]:
        if metricset == "stats":
            return orjson.dumps(self.stats_document()), 0
        documents = self.connection_documents()
        return orjson.dumps(documents), len(documents)

    def _set_fault(self, params: dict[str, Any]) -> Response:
        try:
            self.plan = plan_from_request(params)
        except FaultError as exc:
            return self._error("InvalidParameter", str(exc))
        log.info("simulator: fault set to %s", self.plan.describe())
        return self._reply(200, orjson.dumps(self.plan.describe()))

    def _get_served(self, params: dict[str, Any]) -> Response:
        reset = params.get("reset", False)
        if not isinstance(reset, bool):
            return self._error("InvalidParameter", f'"reset" must be a boolean, got {reset!r}')
        body = orjson.dumps(self.served.snapshot())
        if reset:
            self.served.reset()
        return self._reply(200, body)

    def _set_connections(self, params: dict[str, Any]) -> Response:
        count = params.get("count")
        if type(count) is not int:
            return self._error("InvalidParameter", f'"count" must be an integer, got {count!r}')
        try:
            self.set_connections(count)
        except ValueError as exc:
            return self._error("InvalidParameter", str(exc))
        return self._reply(200, orjson.dumps({"count": len(self.state.live)}))


def _parse_params(body: bytes) -> dict[str, Any]:
    """The optional JSON object of a request; no body (what sorabeat sends) is ``{}``."""
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("the request body must be a JSON object")
    return value
