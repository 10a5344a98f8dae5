"""The simulator over real sockets on 127.0.0.1: HTTP/1.1, the Sora API, faults, control."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from sorabeat.event import AgentInfo, EnvelopeSettings, MetricsetEncoder
from sorabeat.monitoring.registry import Registry
from sorabeat.simulator import SoraSimulator
from sorabeat.sora.catalog import metricsets_for
from sorabeat.sora.hosts import parse_sora_host
from sorabeat.sora.poller import MetricsetPoller

STATS = {"x-sora-target": "Sora_20171010.GetStatsReport"}
CONNECTIONS = {"x-sora-target": "Sora_20171101.GetStatsAllConnections"}
Factory = Callable[..., Awaitable[SoraSimulator]]


@pytest.fixture
async def simulator() -> AsyncIterator[Factory]:
    started: list[SoraSimulator] = []

    async def start(**kwargs: Any) -> SoraSimulator:
        kwargs.setdefault("churn", 0.0)
        sim = SoraSimulator(**kwargs)
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await asyncio.wait_for(sim.close(), 10)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def control(
    http: httpx.AsyncClient, sim: SoraSimulator, target: str, body: Any
) -> httpx.Response:
    return await http.post(sim.url, headers={"x-sora-target": target}, json=body)


async def raw_exchange(sim: SoraSimulator, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection (10 s at most)."""
    assert sim.address is not None
    reader, writer = await asyncio.open_connection(*sim.address)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read(-1)
    finally:
        writer.close()


def split_responses(data: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        # names are case-insensitive; h11 writes a Connection: close of its own title-cased
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        out.append((lines[0], headers, rest[:length]))
        data = rest[length:]
    return out


# -- the two statistics targets -----------------------------------------------------------


@pytest.mark.parametrize("profile", ["2017", "2018", "current"])
async def test_both_targets_answer_like_sora(
    simulator: Factory, http: httpx.AsyncClient, profile: str
) -> None:
    sim = await simulator(profile=profile, connections=7)
    stats = await http.post(sim.url, headers=STATS)
    assert stats.status_code == 200
    assert stats.headers["content-type"] == "application/json"
    assert stats.headers["server"] == "Cowboy"
    assert int(stats.headers["content-length"]) == len(stats.content)
    report = stats.json()
    assert isinstance(report, dict)
    assert report["total_ongoing_connections"] == 7
    connections = await http.post(sim.url, headers=CONNECTIONS)
    assert connections.status_code == 200
    documents = connections.json()
    assert isinstance(documents, list)
    assert len(documents) == 7
    assert all(isinstance(d, dict) and "rtp" in d and "turn" in d for d in documents)


async def test_no_connections_is_an_empty_array(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=0)
    response = await http.post(sim.url, headers=CONNECTIONS)
    assert response.status_code == 200
    assert response.content == b"[]"


async def test_a_local_false_body_is_accepted_with_or_without_content_type(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=3)
    with_json = await http.post(sim.url, headers=CONNECTIONS, json={"local": False})
    plain = await http.post(sim.url, headers=CONNECTIONS, content=b'{"local": false}')
    assert with_json.status_code == plain.status_code == 200
    assert len(with_json.json()) == len(plain.json()) == 3


async def test_a_chunked_request_body_is_accepted(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=4)

    async def body() -> AsyncIterator[bytes]:
        for piece in (b'{"lo', b'cal": ', b"false}"):
            yield piece

    response = await http.post(sim.url, headers=CONNECTIONS, content=body())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200
    assert len(response.json()) == 4


# -- HTTP/1.1 connection handling -----------------------------------------------------------


async def test_keep_alive_reuses_one_connection(simulator: Factory) -> None:
    sim = await simulator(connections=2)
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(5):
            assert (await http.post(sim.url, headers=STATS)).status_code == 200
            assert (await http.post(sim.url, headers=CONNECTIONS)).status_code == 200
    assert sim.connections_accepted == 1


async def test_pipelined_requests_on_one_socket_get_answers_in_order(simulator: Factory) -> None:
    sim = await simulator(connections=2)
    request = b"POST / HTTP/1.1\r\nHost: t\r\nx-sora-target: %s\r\n%s\r\n"
    data = (
        request % (b"Sora_20171010.GetStatsReport", b"")
        + request % (b"Sora_20171101.GetStatsAllConnections", b"")
        + request % (b"Sora_20171010.GetStatsReport", b"Connection: close\r\n")
    )
    responses = split_responses(await raw_exchange(sim, data))
    assert [r[0] for r in responses] == ["HTTP/1.1 200 OK"] * 3
    assert isinstance(json.loads(responses[0][2]), dict)
    assert isinstance(json.loads(responses[1][2]), list)
    assert responses[2][1]["connection"] == "close"  # and then the server closed
    assert sim.connections_accepted == 1


async def test_http_10_without_keep_alive_is_closed_after_the_answer(simulator: Factory) -> None:
    sim = await simulator(connections=1)
    data = b"POST / HTTP/1.0\r\nx-sora-target: Sora_20171010.GetStatsReport\r\n\r\n" * 2
    responses = split_responses(await raw_exchange(sim, data))
    assert len(responses) == 1  # the second request was never read


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"THIS IS NOT HTTP\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nx-sora-target: Sora_20171010.GetStatsReport\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
    ],
)
async def test_malformed_requests_get_an_error_and_a_close(
    simulator: Factory, data: bytes, status: int
) -> None:
    sim = await simulator(connections=1)
    responses = split_responses(await raw_exchange(sim, data))
    assert len(responses) == 1
    line, headers, body = responses[0]
    assert line.startswith(f"HTTP/1.1 {status} ")
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)) == {"error_type", "message"}


async def test_expect_100_continue_gets_a_continue_before_the_body(simulator: Factory) -> None:
    sim = await simulator(connections=3)
    assert sim.address is not None
    reader, writer = await asyncio.open_connection(*sim.address)
    try:
        writer.write(
            b"POST / HTTP/1.1\r\nHost: t\r\nx-sora-target: Sora_20171101.GetStatsAllConnections"
            b"\r\nExpect: 100-continue\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        async with asyncio.timeout(10):
            interim = await reader.readuntil(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b'{"local": false}')
        async with asyncio.timeout(10):
            rest = await reader.read(-1)
    finally:
        writer.close()
    (line, _, body), *_ = split_responses(rest)
    assert line == "HTTP/1.1 200 OK"
    assert len(json.loads(body)) == 3


# -- Sora API errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "error_type"),
    [
        ("GET", "/", STATS, b"", "InvalidMethod"),
        ("PUT", "/", STATS, b"", "InvalidMethod"),
        ("POST", "/api", STATS, b"", "InvalidPath"),
        ("POST", "/", {}, b"", "MissingTarget"),
        ("POST", "/", {"x-sora-target": "Sora_20171010.NoSuchThing"}, b"", "UnknownTarget"),
        ("POST", "/", STATS, b"{not json", "InvalidJSON"),
        ("POST", "/", STATS, b"[1, 2]", "InvalidJSON"),
        ("POST", "/", STATS, b'{"local": "no"}', "InvalidParameter"),
    ],
)
async def test_requests_sora_cannot_serve_get_a_json_error(
    simulator: Factory,
    http: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    error_type: str,
) -> None:
    sim = await simulator(connections=1)
    response = await http.request(method, sim.url.rstrip("/") + path, headers=headers, content=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error_type"] == error_type
    assert isinstance(error["message"], str)
    assert error["message"]
    served = (await control(http, sim, "Simulator.GetServed", {})).json()
    assert served["rejected"] == 1
    assert served["stats"]["ok"] == served["stats"]["faulted"] == 0


# -- faults -----------------------------------------------------------------------------------


async def test_fault_500(simulator: Factory, http: httpx.AsyncClient) -> None:
    sim = await simulator(connections=2, fault="500")
    response = await http.post(sim.url, headers=STATS)
    assert response.status_code == 500
    assert set(response.json()) == {"error_type", "message"}


async def test_fault_invalid_json(simulator: Factory, http: httpx.AsyncClient) -> None:
    sim = await simulator(connections=2, fault="invalid-json")
    for headers in (STATS, CONNECTIONS):
        response = await http.post(sim.url, headers=headers)
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)


async def test_fault_truncated_leaves_the_body_incomplete(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=5, fault="truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(sim.url, headers=CONNECTIONS)
    sim.set_fault("none")
    assert (await http.post(sim.url, headers=CONNECTIONS)).status_code == 200


async def test_fault_truncated_on_the_wire(simulator: Factory) -> None:
    sim = await simulator(connections=5, fault="truncated")
    data = await raw_exchange(
        sim, b"POST / HTTP/1.1\r\nHost: t\r\nx-sora-target: Sora_20171010.GetStatsReport\r\n\r\n"
    )
    head, _, body = data.partition(b"\r\n\r\n")
    declared = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    assert 0 < len(body) < declared  # fewer bytes than announced, then the close


async def test_fault_slow_delays_the_answer(simulator: Factory, http: httpx.AsyncClient) -> None:
    sim = await simulator(connections=2, slow_seconds=30.0)
    sim.set_fault("slow", count=1, targets=["stats"])
    with pytest.raises(httpx.ReadTimeout):
        await http.post(sim.url, headers=STATS, timeout=0.5)
    fast = await http.post(sim.url, headers=STATS, timeout=10)  # count 1: healed
    assert fast.status_code == 200
    served = sim.served.snapshot()
    assert served["stats"] == {"ok": 1, "faulted": 1, "faults": {"slow": 1}}


async def test_a_slow_reply_arrives_after_the_delay(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=2, slow_seconds=0.3, fault="slow")
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await http.post(sim.url, headers=CONNECTIONS)
    assert loop.time() - started >= 0.3
    assert len(response.json()) == 2


async def test_close_ends_replies_under_way(simulator: Factory) -> None:
    sim = await simulator(connections=1, fault="slow", slow_seconds=300.0)
    async with httpx.AsyncClient(timeout=30) as http:
        pending = asyncio.ensure_future(http.post(sim.url, headers=STATS))
        await asyncio.sleep(0.2)
        await asyncio.wait_for(sim.close(), 5)
        with pytest.raises(httpx.HTTPError):
            await asyncio.wait_for(pending, 10)


# -- control targets --------------------------------------------------------------------------


async def test_set_fault_with_count_and_targets_then_exact_served_counts(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=6)
    answer = await control(
        http, sim, "Simulator.SetFault", {"fault": "500", "count": 2, "targets": ["stats"]}
    )
    assert answer.json() == {"fault": "500", "count": 2, "targets": ["stats"]}
    statuses = []
    for _ in range(3):
        statuses.append((await http.post(sim.url, headers=STATS)).status_code)
        statuses.append((await http.post(sim.url, headers=CONNECTIONS)).status_code)
    assert statuses == [500, 200, 500, 200, 200, 200]
    served = (await control(http, sim, "Simulator.GetServed", {})).json()
    assert served == {
        "stats": {"ok": 1, "faulted": 2, "faults": {"500": 2}},
        "connections": {"ok": 3, "faulted": 0, "faults": {}, "objects": 18},
        "rejected": 0,
    }
    assert sim.served.snapshot() == served


async def test_get_served_can_reset(simulator: Factory, http: httpx.AsyncClient) -> None:
    sim = await simulator(connections=3)
    held = sim.served
    await http.post(sim.url, headers=CONNECTIONS)
    first = (await control(http, sim, "Simulator.GetServed", {"reset": True})).json()
    assert held.snapshot()["connections"]["objects"] == 0  # reset in place
    assert first["connections"]["objects"] == 3
    second = (await control(http, sim, "Simulator.GetServed", {})).json()
    assert second["connections"] == {"ok": 0, "faulted": 0, "faults": {}, "objects": 0}


async def test_set_fault_none_heals(simulator: Factory, http: httpx.AsyncClient) -> None:
    sim = await simulator(connections=1, fault="500")
    assert (await http.post(sim.url, headers=STATS)).status_code == 500
    await control(http, sim, "Simulator.SetFault", {"fault": "none"})
    assert (await http.post(sim.url, headers=STATS)).status_code == 200


async def test_set_connections_changes_what_is_listed(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=5)
    answer = await control(http, sim, "Simulator.SetConnections", {"count": 12})
    assert answer.json() == {"count": 12}
    assert len((await http.post(sim.url, headers=CONNECTIONS)).json()) == 12
    assert (await http.post(sim.url, headers=STATS)).json()["total_ongoing_connections"] == 12
    await control(http, sim, "Simulator.SetConnections", {"count": 0})
    assert (await http.post(sim.url, headers=CONNECTIONS)).json() == []


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("Simulator.SetFault", {"fault": "explode"}),
        ("Simulator.SetFault", {"fault": "500", "targets": ["nodes"]}),
        ("Simulator.SetConnections", {"count": -1}),
        ("Simulator.SetConnections", {"count": "3"}),
        ("Simulator.GetServed", {"reset": 1}),
    ],
)
async def test_bad_control_requests_are_refused(
    simulator: Factory, http: httpx.AsyncClient, target: str, body: dict[str, Any]
) -> None:
    sim = await simulator(connections=1)
    response = await control(http, sim, target, body)
    assert response.status_code == 400
    assert response.json()["error_type"] == "InvalidParameter"


# -- scale ------------------------------------------------------------------------------------


async def test_ten_thousand_connections_are_served_and_parsed(
    simulator: Factory, http: httpx.AsyncClient
) -> None:
    sim = await simulator(connections=10_000, profile="current", seed=5)
    response = await http.post(sim.url, headers=CONNECTIONS, timeout=60)
    assert response.status_code == 200
    documents = orjson.loads(response.content)
    assert len(documents) == 10_000
    assert len({d["connection_id"] for d in documents}) == 10_000
    stats = (await http.post(sim.url, headers=STATS, timeout=60)).json()
    assert stats["total_ongoing_connections"] == 10_000
    assert sim.served.snapshot()["connections"]["objects"] == 10_000


# -- sorabeat's own Sora client against the simulator -----------------------------------------


def sorabeat_poller(
    http: httpx.AsyncClient, url: str, metricset: str, timeout: float
) -> MetricsetPoller:
    host = parse_sora_host(url)
    agent = AgentInfo(name="t", hostname="t", id="i", ephemeral_id="e", version="0.0.0")
    return MetricsetPoller(
        host=host,
        metricset=metricsets_for([metricset], host.address)[0],
        period=10,
        timeout=timeout,
        max_response_size=1 << 26,
        headers={},
        http=http,
        encoders={
            metricset: MetricsetEncoder(
                EnvelopeSettings(agent=agent),
                metricset=metricset,
                period_s=10,
                address=host.address,
            )
        },
        sink=None,  # type: ignore[arg-type]  # poll_once does not append
        metrics=Registry(),
    )


@pytest.mark.parametrize("profile", ["2017", "2018", "current"])
async def test_sorabeat_poller_reads_every_profile(
    simulator: Factory, http: httpx.AsyncClient, profile: str
) -> None:
    sim = await simulator(profile=profile, connections=9)
    (stats,) = await sorabeat_poller(http, sim.url, "stats", 10).poll_once()
    assert orjson.loads(stats)["sora"]["stats"]["total_ongoing_connections"] == 9
    events = await sorabeat_poller(http, sim.url, "connections", 10).poll_once()
    docs = [orjson.loads(e)["sora"]["connections"] for e in events]
    assert len(docs) == 9
    assert {d["client_id"] for d in docs} == {d["client_id"] for d in sim.connection_documents()}
    for d in docs:
        assert d["channel_client_id"] == f"{d['channel_id']}/{d['client_id']}"


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("500", "HTTP 500"),
        ("truncated", "incomplete response"),
        ("slow", "no complete response"),
        ("invalid-json", "invalid JSON"),
    ],
)
@pytest.mark.parametrize("metricset", ["stats", "connections"])
async def test_each_fault_is_an_error_event_for_sorabeat(
    simulator: Factory, http: httpx.AsyncClient, fault: str, words: str, metricset: str
) -> None:
    sim = await simulator(connections=3, fault=fault, slow_seconds=30.0)
    limit = 0.5 if fault == "slow" else 10.0  # slow_seconds is 30
    (event,) = await sorabeat_poller(http, sim.url, metricset, limit).poll_once()
    assert words in orjson.loads(event)["error"]["message"]
    assert sim.served.snapshot()[metricset]["faulted"] == 1


async def test_close_with_idle_keep_alive_connections_logs_no_error(
    simulator: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await simulator(connections=2)
    http = httpx.AsyncClient(timeout=10)
    try:
        for _ in range(3):
            assert (await http.post(sim.url, headers=STATS)).status_code == 200
        await asyncio.wait_for(sim.close(), 5)  # the keep-alive connection is still open
        await asyncio.sleep(0.1)  # let asyncio run the connection callbacks
    finally:
        await http.aclose()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
