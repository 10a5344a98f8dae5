"""``sorabeat receive`` as a real subprocess, and ``test output``'s Logstash probe."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from sorabeat.lumberjack.probe import test_output as probe
from tests.integration.lumberjack_helpers import (
    make_events,
    output,
    publish_all,
    receiver,
    settings,
    wait_for,
)

pytestmark = pytest.mark.timeout(60)


async def start_receive(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sorabeat",
        "receive",
        "--listen",
        "127.0.0.1:0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    assert line.startswith("sorabeat receive: listening on 127.0.0.1:"), line
    return proc, line.rsplit(" ", 1)[1].strip()


async def test_receive_writes_events_survives_garbage_and_exits_on_sigterm(
    tmp_path: Path,
) -> None:
    out_file = tmp_path / "events.ndjson"
    proc, addr = await start_receive("--output", str(out_file))
    try:
        host, port = addr.rsplit(":", 1)
        events = make_events(500)
        async with output(settings([addr], bulk_max_size=100)) as (out, _):
            await publish_all(out, [events[i : i + 100] for i in range(0, 500, 100)])
            # garbage on another connection: logged, connection closed, server still up
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET / HTTP/1.1\r\n\r\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
            await publish_all(out, [make_events(10, start=500)])
        lines = out_file.read_bytes().splitlines()
        assert [orjson.loads(x)["n"] for x in lines] == list(range(510))
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert proc.stderr is not None
        stderr = (await proc.stderr.read()).decode()
        assert "protocol error: unknown protocol version 'G' (0x47) at byte 0" in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_receive_refuses_non_objects_unless_told_not_to_validate(tmp_path: Path) -> None:
    out_file = tmp_path / "raw.ndjson"
    proc, addr = await start_receive("--output", str(out_file), "--no-validate")
    try:
        async with output(settings([addr])) as (out, _):
            await publish_all(out, [[b"[1]", b'"text"']])
        assert out_file.read_bytes() == b'[1]\n"text"\n'
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


def test_receive_usage_errors_are_clear(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sorabeat",
            "receive",
            "--listen",
            "127.0.0.1:0",
            "--ssl.certificate",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--ssl.certificate and --ssl.key go together" in result.stderr
    assert "Traceback" not in result.stderr
    missing = str(tmp_path / "nope.crt")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sorabeat",
            "receive",
            "--ssl.certificate",
            missing,
            "--ssl.key",
            missing,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "ssl.certificate/ssl.key" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_sigkilled_receiver_never_acked_an_event_it_did_not_write(
    tmp_path: Path,
) -> None:
    out_file = tmp_path / "killed.ndjson"
    proc, addr = await start_receive("--output", str(out_file), "--ack-delay", "0.05")
    events = make_events(2000)
    acked: list[int] = []
    async with output(settings([addr], bulk_max_size=50, pipelining=0)) as (out, _):
        task = asyncio.create_task(out.publish(events, acked.append))
        await wait_for(lambda: bool(acked) and acked[-1] >= 300)
        proc.kill()
        await proc.wait()
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    written = [orjson.loads(x)["n"] for x in out_file.read_bytes().splitlines()]
    assert acked[-1] <= len(written)
    assert written == list(range(len(written)))


async def test_probe_reports_each_step_and_talks_to_the_server() -> None:
    lines: list[str] = []
    async with receiver() as r:
        host, port = r.server._server.sockets[0].getsockname()[:2]  # type: ignore[union-attr]
        ok = await probe(settings([f"localhost:{port}"]), lines.append)
    assert ok
    assert lines[:4] == [
        f"logstash: localhost:{port}...",
        "  connection...",
        "    parse host... OK",
        "    dns lookup... OK",
    ]
    assert any(line.startswith("    addresses: ") and host in line for line in lines)
    assert "    dial up... OK" in lines
    assert "  TLS... WARN secure connection disabled" in lines
    assert lines[-1] == "  talk to server... OK"


async def test_probe_accepts_a_silent_server_and_fails_on_a_dead_one() -> None:
    lines: list[str] = []
    async with receiver(answer_empty_window=False) as r:
        port = r.server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        assert await probe(settings([f"127.0.0.1:{port}"], timeout=0.5), lines.append)
        assert lines[-1].startswith("  talk to server... OK (the connection stays open")
    lines.clear()
    assert not await probe(settings([f"127.0.0.1:{port}", "bad host:x"]), lines.append)
    assert any(line.startswith("    dial up... ERROR connection refused") for line in lines)
    assert any(line.startswith("    parse host... ERROR") for line in lines)


async def test_probe_over_tls_prints_the_negotiated_version(tmp_path: Path) -> None:
    from sorabeat.certs import make_ca, make_certificate
    from sorabeat.tls import TLSSettings, server_context

    ca = make_ca()
    ca_path, _ = ca.write(str(tmp_path), "ca")
    context = server_context(*make_certificate(ca).write(str(tmp_path), "server"))
    lines: list[str] = []
    async with receiver(ssl_context=context) as r:
        port = r.server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        tls = TLSSettings(certificate_authorities=[ca_path])
        assert await probe(settings([f"127.0.0.1:{port}"], ssl=tls), lines.append)
        assert "    handshake... OK" in lines
        assert any(line.startswith("    TLS version: TLSv1.") for line in lines)
        assert lines[-1] == "  talk to server... OK"
        lines.clear()
        untrusted = TLSSettings(enabled=True)  # the system CAs do not know ours
        assert not await probe(settings([f"127.0.0.1:{port}"], ssl=untrusted), lines.append)
        assert any("handshake... ERROR" in line and "unknown CA" in line for line in lines)
