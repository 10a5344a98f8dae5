"""The Logstash output through a real SOCKS5 proxy (Dante): TLS inside the tunnel checked
against the Logstash name, username/password, load balancing, reconnects, and one clear
error for each way the proxy can fail."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sorabeat.certs import make_ca, make_certificate
from sorabeat.lumberjack.client import (
    ConnectError,
    Endpoint,
    LumberjackClient,
    TLSFailureError,
)
from sorabeat.lumberjack.receiver import LumberjackReceiver, ReceiverOptions
from sorabeat.lumberjack.server import ServerOptions
from sorabeat.proxy.socks5_dial import Socks5Proxy, open_socks5_connection
from sorabeat.tls import TLSSettings, server_context
from tests.integration.lumberjack_helpers import (
    address,
    chunks,
    make_events,
    numbers,
    output,
    publish_all,
    receiver,
    settings,
    wait_for,
)
from tests.integration.procs import free_port
from tests.integration.proxy_servers import dante, proxy_user

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def open_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with dante(tmp_path_factory.mktemp("dante")) as port:
        yield port


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """An authenticating proxy, and a port its rules forbid."""
    forbidden = free_port()
    proxy_user()
    with dante(
        tmp_path_factory.mktemp("dante-auth"), authenticate=True, blocked_ports=(forbidden,)
    ) as port:
        yield port, forbidden


def auth_url(port: int, password: str | None = None) -> str:
    user, good = proxy_user()
    return f"socks5://{user}:{password or good}@127.0.0.1:{port}"


def port_of(r: LumberjackReceiver) -> int:
    return int(address(r).rpartition(":")[2])


async def test_tls_inside_the_tunnel_is_verified_against_the_logstash_name(
    tmp_path: Path, open_proxy: int
) -> None:
    ca = make_ca()
    ca_path, _ = ca.write(str(tmp_path), "ca")
    # a certificate for the Logstash name only: the proxy's address (127.0.0.1) is not in it
    cert, key = make_certificate(ca, hostnames=("localhost",)).write(str(tmp_path), "ls")
    tls = TLSSettings(certificate_authorities=[ca_path])
    async with receiver(ssl_context=server_context(cert, key)) as r:
        s = settings(
            [f"localhost:{port_of(r)}"], ssl=tls, proxy_url=f"socks5://127.0.0.1:{open_proxy}"
        )
        async with output(s) as (out, m):
            await publish_all(out, chunks(make_events(30), 10))
        assert numbers(r.events) == list(range(30))
        assert r.connections[0].tls_version in ("TLSv1.2", "TLSv1.3")
        assert m.total("output.failures") == 0


async def test_a_certificate_for_another_name_is_refused_through_the_tunnel(
    tmp_path: Path, open_proxy: int
) -> None:
    ca = make_ca()
    ca_path, _ = ca.write(str(tmp_path), "ca")
    issued = make_certificate(ca, "not-logstash", hostnames=("127.0.0.1",))
    cert, key = issued.write(str(tmp_path), "ls")
    async with receiver(ssl_context=server_context(cert, key)) as r:
        with pytest.raises(TLSFailureError, match="hostname mismatch"):
            await LumberjackClient.connect(
                Endpoint("localhost", port_of(r)),
                io_timeout=5,
                tls=TLSSettings(certificate_authorities=[ca_path]),
                proxy=Socks5Proxy.parse(f"socks5h://127.0.0.1:{open_proxy}"),
            )


async def test_loadbalance_through_an_authenticating_proxy(auth_proxy: tuple[int, int]) -> None:
    port, _ = auth_proxy
    async with receiver() as a, receiver() as b:
        s = settings(
            [f"localhost:{port_of(a)}", f"localhost:{port_of(b)}"],
            loadbalance=True,
            proxy_url=auth_url(port),
        )
        sent = 0
        async with output(s) as (out, m):
            # a worker connects once there is work: publish until both hosts took some.
            # Bounded by time, not rounds: under load one worker's SOCKS5 handshake can
            # take longer than the other worker needs for many rounds.
            loop = asyncio.get_running_loop()
            give_up = loop.time() + 30
            while not (a.events and b.events) and loop.time() < give_up:
                await publish_all(out, chunks(make_events(40, start=sent), 10))
                sent += 40
                await asyncio.sleep(0.02)
        assert a.events and b.events
        assert sorted(numbers(a.events) + numbers(b.events)) == list(range(sent))
        assert m.total("output.failures") == 0


async def test_reconnects_with_backoff_until_the_target_comes_up(
    open_proxy: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "sorabeat.lumberjack")
    port = free_port()  # nothing listens there yet: the proxy answers "connection refused"
    s = settings([f"127.0.0.1:{port}"], proxy_url=f"socks5://127.0.0.1:{open_proxy}")
    async with output(s) as (out, m):
        task = asyncio.create_task(publish_all(out, chunks(make_events(40), 10), deadline=60))
        await wait_for(lambda: m.total("output.failures") >= 3)
        r = LumberjackReceiver(ReceiverOptions(ServerOptions(record=True), keep_events=True))
        await r.start(port=port)
        try:
            await task
            assert numbers(r.events) == list(range(40))
        finally:
            await r.close()
    refused = [
        rec.getMessage()
        for rec in caplog.records
        if "connection refused (SOCKS5 reply 0x05)" in rec.getMessage()
    ]
    assert refused, [rec.getMessage() for rec in caplog.records]
    assert f"SOCKS5 proxy 127.0.0.1:{open_proxy}" in refused[0]
    assert "retrying in" in " ".join(refused)


async def connect_error(proxy_url: str, port: int) -> str:
    with pytest.raises(ConnectError) as caught:
        await LumberjackClient.connect(
            Endpoint("localhost", port), io_timeout=5, proxy=Socks5Proxy.parse(proxy_url)
        )
    return str(caught.value)


async def test_each_proxy_failure_is_named(auth_proxy: tuple[int, int], open_proxy: int) -> None:
    port, forbidden = auth_proxy
    user, password = proxy_user()
    async with receiver() as r:
        target = port_of(r)
        closed = free_port()
        messages = {
            "refused proxy": await connect_error(f"socks5://127.0.0.1:{closed}", target),
            "wrong password": await connect_error(auth_url(port, "not-the-password"), target),
            "no credentials": await connect_error(f"socks5://127.0.0.1:{port}", target),
            "forbidden": await connect_error(auth_url(port), forbidden),
            "nothing there": await connect_error(f"socks5://127.0.0.1:{open_proxy}", closed),
        }
        with pytest.raises(ConnectError, match=r"host unreachable \(SOCKS5 reply 0x04\)"):
            await LumberjackClient.connect(
                Endpoint("no-such-host.invalid", target),
                io_timeout=5,
                proxy=Socks5Proxy.parse(f"socks5://127.0.0.1:{open_proxy}"),
            )
    assert messages == {
        "refused proxy": f"SOCKS5 proxy 127.0.0.1:{closed}: connection refused",
        "wrong password": f"SOCKS5 proxy 127.0.0.1:{port}: the proxy refused the user name "
        "and password (status 0x01)",
        "no credentials": f"SOCKS5 proxy 127.0.0.1:{port}: the proxy requires authentication: "
        "give user:password in proxy_url",
        "forbidden": f"SOCKS5 proxy 127.0.0.1:{port}: the proxy cannot reach the target: "
        "connection not allowed by ruleset (SOCKS5 reply 0x02)",
        "nothing there": f"SOCKS5 proxy 127.0.0.1:{open_proxy}: the proxy cannot reach the "
        "target: connection refused (SOCKS5 reply 0x05)",
    }
    assert not any(password in text or user in text for text in messages.values())


@dataclasses.dataclass
class Recorded:
    requests: list[bytes]


async def _recording_proxy(record: Recorded) -> AsyncIterator[int]:
    """A SOCKS5 server that records each CONNECT request and answers 'host unreachable'."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(3)
        writer.write(b"\x05\x00")
        head = await reader.readexactly(4)
        if head[3] == 3:
            head += await reader.readexactly(1)
            size = head[4]
        else:
            size = {1: 4, 4: 16}[head[3]]
        rest = await reader.readexactly(size + 2)
        record.requests.append(head + rest)
        writer.write(bytes((5, 4, 0, 1, 0, 0, 0, 0, 0, 0)))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(("local", "expected"), [(False, b"\x03\x09localhost"), (True, b"\x01")])
async def test_who_resolves_the_logstash_name(local: bool, expected: bytes) -> None:
    """proxy_use_local_resolver: false hands the proxy the name; true, an address."""
    record = Recorded([])
    async for port in _recording_proxy(record):
        proxy = Socks5Proxy.parse(f"socks5://127.0.0.1:{port}", local_resolve=local)
        with pytest.raises(Exception, match="0x04"):
            await open_socks5_connection(proxy, "localhost", 5044)
        break
    [request] = record.requests
    assert request[3:].startswith(expected)
    if local:
        assert request[4:-2] in (bytes((127, 0, 0, 1)), bytes(15) + b"\x01")
    assert request[-2:] == (5044).to_bytes(2, "big")


async def test_test_output_goes_through_the_proxy(auth_proxy: tuple[int, int]) -> None:
    from sorabeat.lumberjack.probe import test_output

    port, _ = auth_proxy
    async with receiver() as r:
        lines: list[str] = []
        s = settings([f"localhost:{port_of(r)}"], proxy_url=auth_url(port))
        assert await test_output(s, lines.append), lines
        assert f"    SOCKS5 proxy: 127.0.0.1:{port}" in lines
        assert not any("dns lookup" in line for line in lines)  # the proxy resolves
        lines.clear()
        s = settings([f"localhost:{port_of(r)}"], proxy_url=auth_url(port, "wrong-password"))
        assert not await test_output(s, lines.append)
        assert any("refused the user name and password" in line for line in lines), lines


async def test_a_proxy_that_never_answers_times_out_by_name() -> None:
    held: list[asyncio.StreamWriter] = []  # kept open, never answered
    silent = await asyncio.start_server(lambda r, w: held.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    async with silent:
        with pytest.raises(ConnectError) as caught:
            await LumberjackClient.connect(
                Endpoint("localhost", 5044),
                io_timeout=0.3,
                proxy=Socks5Proxy.parse(f"socks5://127.0.0.1:{port}"),
            )
        for writer in held:
            writer.close()
    assert str(caught.value) == f"no connection through SOCKS5 proxy 127.0.0.1:{port} within 0.3s"
