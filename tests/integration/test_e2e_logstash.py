"""sorabeat + the simulator + `sorabeat receive`, all real processes: exact counts over TLS,
an outage of the receiver, and SIGKILL at random moments."""

from __future__ import annotations

import random
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from sorabeat.certs import make_ca, make_certificate
from tests.integration.procs import (
    Proc,
    control,
    free_port,
    ndjson,
    receiver,
    running,
    simulator,
    sorabeat_run,
    wait_for,
    write_config,
)

CONNECTIONS = 3


def configure(
    home: Path,
    sora: tuple[str, int],
    ls_port: int,
    *,
    tls: dict[str, Any] | None = None,
    **logstash: Any,
) -> None:
    output: dict[str, Any] = {
        "hosts": [f"localhost:{ls_port}"],
        "timeout": "5s",
        "backoff.init": "0.2s",
        "backoff.max": "1s",
    }
    output.update(logstash)
    if tls:
        output["ssl"] = tls
    write_config(
        home,
        {"output.logstash": output, "sorabeat.shutdown_timeout": "10s"},
        [
            {
                "module": "sora",
                "metricsets": ["stats", "connections"],
                "period": "0.5s",
                "timeout": "0.4s",
                "hosts": [f"{sora[0]}:{sora[1]}"],
            }
        ],
    )


def identity(event: dict[str, Any]) -> tuple[str, str, str]:
    """(metricset, @timestamp, connection id): what tells events apart."""
    if event["metricset"]["name"] == "connections":
        return ("connections", event["@timestamp"], event["sora"]["connections"]["connection_id"])
    return ("stats", event["@timestamp"], "")


def good(events: list[dict[str, Any]], metricset: str) -> list[dict[str, Any]]:
    return [e for e in events if e["metricset"]["name"] == metricset and "error" not in e]


def freeze_and_count(address: tuple[str, int]) -> dict[str, Any]:
    """Make every later answer a slow fault, so what was served ok so far is final."""
    control(address, "Simulator.SetFault", {"fault": "slow"})
    return control(address, "Simulator.GetServed")  # type: ignore[no-any-return]


def test_every_event_reaches_the_receiver_over_mutual_tls(tmp_path: Path) -> None:
    ca = make_ca()
    ca_path, _ = ca.write(str(tmp_path), "ca")
    server_cert, server_key = make_certificate(ca).write(str(tmp_path), "server")
    client_cert, client_key = make_certificate(
        ca, "beat", hostnames=(), server=False, client=True
    ).write(str(tmp_path), "client")
    out = tmp_path / "received.ndjson"
    sim = simulator(tmp_path, connections=CONNECTIONS)
    port = free_port()
    recv = receiver(
        tmp_path,
        port,
        out,
        "--ssl.certificate", server_cert,
        "--ssl.key", server_key,
        "--ssl.certificate_authorities", ca_path,
        "--ssl.client_authentication", "required",
    )  # fmt: skip
    with running(sim, recv):
        address = sim.address()
        recv.address()
        home = tmp_path / "home"
        configure(
            home,
            address,
            port,
            tls={
                "certificate_authorities": [ca_path],
                "certificate": client_cert,
                "key": client_key,
            },
        )
        beat = sorabeat_run(home)
        with running(beat):
            wait_for(lambda: len(good(ndjson(out), "stats")) >= 4, 60, "four stats events", beat)
            served = freeze_and_count(address)
            wait_for(
                lambda: (
                    len(good(ndjson(out), "stats")) >= served["stats"]["ok"]
                    and len(good(ndjson(out), "connections")) >= served["connections"]["objects"]
                ),
                30,
                "every served document at the receiver",
                beat,
            )
            assert beat.stop() == 0, beat.stderr()
        events = ndjson(out)
    assert len(good(events, "stats")) == served["stats"]["ok"]
    assert len(good(events, "connections")) == served["connections"]["objects"]
    assert len({identity(e) for e in events}) == len(events)  # no duplicates without faults
    assert events[0]["@metadata"] == {
        "beat": "sorabeat",
        "type": "_doc",
        "version": events[0]["agent"]["version"],
    }


def test_receiver_outage_then_every_event_arrives_in_order(tmp_path: Path) -> None:
    out = tmp_path / "received.ndjson"
    sim = simulator(tmp_path, connections=CONNECTIONS)
    port = free_port()
    with running(sim):
        address = sim.address()
        home = tmp_path / "home"
        configure(home, address, port, bulk_max_size=7)
        beat = sorabeat_run(home)
        with running(beat):
            # the receiver is down for several periods: events wait in the spool
            wait_for(
                lambda: control(address, "Simulator.GetServed")["stats"]["ok"] >= 6,
                60,
                "six polls while the receiver is down",
                beat,
            )
            assert list((home / "data" / "spool").glob("*.seg"))
            assert not out.exists()
            recv = receiver(tmp_path, port, out)
            with running(recv):
                recv.address()
                wait_for(
                    lambda: len(good(ndjson(out), "stats")) >= 8,
                    60,
                    "the backlog and new events",
                    beat,
                )
                served = freeze_and_count(address)
                wait_for(
                    lambda: (
                        len(good(ndjson(out), "stats")) >= served["stats"]["ok"]
                        and len(good(ndjson(out), "connections"))
                        >= served["connections"]["objects"]
                    ),
                    30,
                    "every served document at the receiver",
                    beat,
                )
                assert beat.stop() == 0, beat.stderr()
        events = ndjson(out)
    assert len(good(events, "stats")) == served["stats"]["ok"]
    assert len(good(events, "connections")) == served["connections"]["objects"]
    for metricset in ("stats", "connections"):
        stamps = [e["@timestamp"] for e in events if e["metricset"]["name"] == metricset]
        assert stamps == sorted(stamps), f"{metricset} events out of order"


SPOOLED = re.compile(r"spooled (\d+) (stats|connections) events of (\S+) from ")


def connection_ids(address: tuple[str, int]) -> set[str]:
    """The simulator's connections (a fixed set: it runs with churn 0)."""
    response = httpx.post(
        f"http://{address[0]}:{address[1]}/",
        headers={"x-sora-target": "Sora_20171101.GetStatsAllConnections"},
        timeout=10,
        trust_env=False,
    )
    return {c["connection_id"] for c in response.json()}


def spooled_events(procs: list[Proc], connections: set[str]) -> set[tuple[str, str, str]]:
    """Every event a run logged as spooled, i.e. durable: its poll's append had returned."""
    out: set[tuple[str, str, str]] = set()
    for p in procs:
        for m in SPOOLED.finditer(p.stderr()):
            count, metricset, stamp = int(m.group(1)), m.group(2), m.group(3)
            if metricset == "stats":
                out.add(("stats", stamp, ""))
            else:
                assert count == len(connections)
                out |= {("connections", stamp, c) for c in connections}
    return out


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL sorabeat (and sometimes the receiver) many times; at the end every event that
    sorabeat had spooled reached the receiver's file, with duplicates only from windows that
    were in flight when a kill struck."""
    rng = random.Random(20261127)
    rounds, bulk, pipelining = 24, 10, 2
    out = tmp_path / "received.ndjson"
    sim = simulator(tmp_path, connections=CONNECTIONS)
    port = free_port()
    procs: list[Proc] = []
    kills = 0
    with running(sim):
        address = sim.address()
        ids = connection_ids(address)
        home = tmp_path / "home"
        configure(home, address, port, bulk_max_size=bulk, pipelining=pipelining)
        # a slow ack keeps windows in flight, so kills often land on one (and make duplicates)
        slow_ack = ("--ack-delay", "0.3")
        recv = receiver(tmp_path, port, out, *slow_ack)
        try:
            recv.address()
            for round_ in range(rounds):
                beat = sorabeat_run(home, "-d", "sora", name=f"sorabeat-{round_}")
                procs.append(beat)
                wait_for(lambda b=beat: "spooled" in b.stderr(), 30, "a first poll", beat)
                time.sleep(rng.uniform(0.0, 1.5))  # the kill lands anywhere: polling, sending...
                assert beat.alive(), beat.stderr()
                beat.signal(signal.SIGKILL)
                beat.popen.wait(30)
                kills += 1
                if rng.random() < 0.25:
                    recv.signal(signal.SIGKILL)
                    recv.popen.wait(30)
                    kills += 1
                    recv = receiver(tmp_path, port, out, *slow_ack, name=f"receive-{round_}")
                    recv.address()
            beat = sorabeat_run(home, "-d", "sora", name="sorabeat-final")  # a clean run drains
            procs.append(beat)
            wait_for(lambda: "spooled" in beat.stderr(), 30, "the final run polling", beat)
            control(address, "Simulator.SetFault", {"fault": "slow"})
            wait_for(
                lambda: spooled_events(procs, ids) <= {identity(e) for e in ndjson(out)},
                60,
                "every spooled event at the receiver",
                beat,
            )
            assert beat.stop() == 0, beat.stderr()
        finally:
            for p in [*procs, recv]:
                if p.alive():
                    p.kill()
    arrived = [identity(e) for e in ndjson(out)]
    spooled = spooled_events(procs, ids)
    assert len([e for e in spooled if e[0] == "stats"]) >= rounds  # every run polled
    assert spooled - set(arrived) == set()
    duplicates = sum(n - 1 for n in Counter(arrived).values())
    print(
        f"{kills} kills, {len(spooled)} events spooled, {len(arrived)} arrived, {duplicates} dupes"
    )
    # at most the windows in flight (plus those acked while the position was being saved)
    assert duplicates <= kills * (pipelining + 2) * bulk, (duplicates, kills)
