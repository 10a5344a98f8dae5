"""`sorabeat run` as a process through real proxies: to `sorabeat receive` over TLS through
Dante (SOCKS5 with username/password), and to the Elasticsearch emulator through tinyproxy.
Exact counts at the far end; the proxy's password nowhere in what sorabeat writes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sorabeat.certs import make_ca, make_certificate
from tests.integration.procs import (
    free_port,
    ndjson,
    receiver,
    running,
    simulator,
    sorabeat_run,
    wait_for,
    write_config,
)
from tests.integration.proxy_servers import dante, proxy_user, tinyproxy
from tests.integration.test_e2e_logstash import configure, freeze_and_count, good, identity
from tools.emulators.elasticsearch import ElasticsearchEmulator

pytestmark = pytest.mark.timeout(180)


def export_config(home: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sorabeat", "export", "config", "--path.home", str(home)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_run_ships_through_an_authenticating_socks5_proxy_over_tls(tmp_path: Path) -> None:
    user, password = proxy_user()
    ca = make_ca()
    ca_path, _ = ca.write(str(tmp_path), "ca")
    # valid for the Logstash name only, not for the proxy's address
    cert, key = make_certificate(ca, hostnames=("localhost",)).write(str(tmp_path), "server")
    out = tmp_path / "received.ndjson"
    sim = simulator(tmp_path, connections=3)
    port = free_port()
    recv = receiver(tmp_path, port, out, "--ssl.certificate", cert, "--ssl.key", key)
    with dante(tmp_path, authenticate=True) as proxy_port, running(sim, recv):
        address = sim.address()
        recv.address()
        home = tmp_path / "home"
        configure(
            home,
            address,
            port,
            tls={"certificate_authorities": [ca_path]},
            proxy_url=f"socks5://{user}:{password}@127.0.0.1:{proxy_port}",
        )
        exported = export_config(home)
        assert f"socks5://{user}:xxxxx@127.0.0.1:{proxy_port}" in exported
        beat = sorabeat_run(home, "-d", "*")
        with running(beat):
            wait_for(lambda: len(good(ndjson(out), "stats")) >= 4, 60, "four stats events", beat)
            served = freeze_and_count(address)
            wait_for(
                lambda: (
                    len(good(ndjson(out), "stats")) >= served["stats"]["ok"]
                    and len(good(ndjson(out), "connections")) >= served["connections"]["objects"]
                ),
                60,
                "every served document at the receiver",
                beat,
            )
            assert beat.stop() == 0, beat.stderr()
        events = ndjson(out)
    assert len(good(events, "stats")) == served["stats"]["ok"]
    assert len(good(events, "connections")) == served["connections"]["objects"]
    assert len({identity(e) for e in events}) == len(events)
    tunnels = (tmp_path / f"danted-{proxy_port}.log").read_text(errors="replace")
    assert f"127.0.0.1.{port}" in tunnels  # the events went through the proxy
    logs = beat.stderr() + beat.stdout().decode(errors="replace")
    assert f"SOCKS5 proxy 127.0.0.1:{proxy_port}" in logs  # the debug log names the proxy...
    assert password not in logs + exported  # ...never its password


@contextmanager
def emulator_thread() -> Iterator[ElasticsearchEmulator]:
    """The Elasticsearch emulator on its own event loop in a thread, so a synchronous test
    can read what it stored once the beat is done."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    es = ElasticsearchEmulator()
    asyncio.run_coroutine_threadsafe(es.start(), loop).result(30)
    try:
        yield es
    finally:
        asyncio.run_coroutine_threadsafe(es.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def stored(es: ElasticsearchEmulator, metricset: str) -> list[dict[str, Any]]:
    return [
        d
        for d in list(es.documents())
        if d.get("metricset", {}).get("name") == metricset and "error" not in d
    ]


def test_run_indexes_through_an_http_proxy(tmp_path: Path) -> None:
    sim = simulator(tmp_path, connections=3)
    with tinyproxy(tmp_path) as proxy_port, emulator_thread() as es, running(sim):
        address = sim.address()
        home = tmp_path / "home"
        write_config(
            home,
            {
                "output.elasticsearch": {
                    "hosts": [es.url],
                    "proxy_url": f"http://127.0.0.1:{proxy_port}",
                    "proxy_headers": {"X-Proxy-Token": "pr0xy-header-s3cret"},
                    "backoff.init": "0.2s",
                    "backoff.max": "1s",
                },
                "sorabeat.shutdown_timeout": "10s",
            },
            [
                {
                    "module": "sora",
                    "metricsets": ["stats", "connections"],
                    "period": "0.5s",
                    "timeout": "0.4s",
                    "hosts": [f"{address[0]}:{address[1]}"],
                }
            ],
        )
        exported = export_config(home)
        assert "pr0xy-header-s3cret" not in exported
        assert "X-Proxy-Token: xxxxx" in exported
        beat = sorabeat_run(home, "-d", "*")
        with running(beat):
            wait_for(lambda: len(stored(es, "stats")) >= 4, 60, "four stats documents", beat)
            served = freeze_and_count(address)
            wait_for(
                lambda: (
                    len(stored(es, "stats")) >= served["stats"]["ok"]
                    and len(stored(es, "connections")) >= served["connections"]["objects"]
                ),
                60,
                "every served document in the emulator",
                beat,
            )
            assert beat.stop() == 0, beat.stderr()
        assert len(stored(es, "stats")) == served["stats"]["ok"]
        assert len(stored(es, "connections")) == served["connections"]["objects"]
        log = (tmp_path / f"tinyproxy-{proxy_port}.log").read_text(errors="replace")
    assert f"POST {es.url}/_bulk" in log
    assert "pr0xy-header-s3cret" not in beat.stderr() + beat.stdout().decode(errors="replace")
