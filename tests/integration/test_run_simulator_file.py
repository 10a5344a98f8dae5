"""A real `sorabeat` process polling the simulator over real HTTP, writing output.file.

Counts are exact: the simulator reports how many complete documents it served, and every one
of them must be an event in the file, and nothing else but error events.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.procs import (
    control,
    ndjson,
    running,
    simulator,
    sorabeat_run,
    wait_for,
    write_config,
)

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def config(
    home: Path, address: tuple[str, int], *, period: str = "1s", timeout: str = "0.8s"
) -> Path:
    out = home / "out"
    write_config(
        home,
        {
            "output.file": {"path": str(out), "rotate_every_kb": 100000},
            "queue.mem": {},
            "name": "e2e",
        },
        [
            {
                "module": "sora",
                "metricsets": ["stats", "connections"],
                "period": period,
                "timeout": timeout,
                "hosts": [f"{address[0]}:{address[1]}"],
                "fields": {"node": "n1"},
            }
        ],
    )
    return out / "sorabeat.ndjson"


def by_dataset(
    events: list[dict[str, Any]], dataset: str, *, errors: bool = False
) -> list[dict[str, Any]]:
    return [e for e in events if e["event"]["dataset"] == dataset and ("error" in e) == errors]


@pytest.mark.parametrize("profile", ["2017", "2018", "current"])
def test_every_served_document_becomes_exactly_one_event(tmp_path: Path, profile: str) -> None:
    sim = simulator(tmp_path, profile=profile, connections=4)
    with running(sim):
        address = sim.address()
        out = config(tmp_path / "home", address)
        beat = sorabeat_run(tmp_path / "home")
        with running(beat):
            wait_for(
                lambda: len(by_dataset(ndjson(out), "sora.stats")) >= 3,
                60,
                "three stats events",
                beat,
            )
            # freeze the simulator: from now on every answer is a slow fault, so the ok counts
            # are final (an ok answer is counted when rendered, before it is sent)
            control(address, "Simulator.SetFault", {"fault": "slow"})
            served = control(address, "Simulator.GetServed")
            wait_for(
                lambda: (
                    len(by_dataset(ndjson(out), "sora.stats")) >= served["stats"]["ok"]
                    and len(by_dataset(ndjson(out), "sora.connections"))
                    >= served["connections"]["objects"]
                ),
                30,
                "every served document in the file",
                beat,
            )
            assert beat.stop() == 0, beat.stderr()
        events = ndjson(out)
    stats = by_dataset(events, "sora.stats")
    conns = by_dataset(events, "sora.connections")
    assert len(stats) == served["stats"]["ok"]
    assert len(conns) == served["connections"]["objects"]
    assert len(conns) == 4 * served["connections"]["ok"]
    for e in events:
        assert TIMESTAMP.fullmatch(e["@timestamp"])
        assert e["@metadata"] == {
            "beat": "sorabeat",
            "type": "_doc",
            "version": e["agent"]["version"],
        }
        assert e["agent"]["name"] == "e2e" and e["agent"]["type"] == "sorabeat"
        assert e["service"] == {"type": "sora", "address": f"{address[0]}:{address[1]}"}
        assert e["metricset"]["period"] == 1000
        assert e["fields"] == {"node": "n1"}
        assert "message" not in e
    for e in stats:
        statistics = e["sora"]["stats"]["erlang_vm"]["statistics"]
        for name in (
            "active_tasks",
            "active_tasks_all",
            "run_queue_lengths",
            "run_queue_lengths_all",
        ):
            values = statistics[name]
            assert statistics[f"{name}_max"] == float(max(values))
            assert statistics[f"{name}_imbalance"] == max(values) / max(min(values), 1)
            assert isinstance(statistics[f"{name}_stddev"], float)
    for e in conns:
        c = e["sora"]["connections"]
        assert c["channel_client_id"] == f"{c['channel_id']}/{c['client_id']}"
    # every fetch's connections share one @timestamp, and the fetches are a period apart
    stamps = sorted({e["@timestamp"] for e in conns})
    assert len(stamps) == served["connections"]["ok"]


def test_each_fault_is_one_error_event_and_polling_goes_on(tmp_path: Path) -> None:
    sim = simulator(tmp_path, "--slow-seconds", "5", connections=2)
    with running(sim):
        address = sim.address()
        out = config(tmp_path / "home", address, period="1s", timeout="0.5s")
        beat = sorabeat_run(tmp_path / "home")
        with running(beat):
            expectations = {
                "500": "HTTP 500 Internal Server Error",
                "invalid-json": "invalid JSON from",
                "truncated": "incomplete response from",
                "slow": "within 0.5s",
            }
            for fault, message in expectations.items():
                errors_before = len(by_dataset(ndjson(out), "sora.stats", errors=True))
                control(
                    address,
                    "Simulator.SetFault",
                    {"fault": fault, "count": 1, "targets": ["stats"]},
                )
                wait_for(
                    lambda before=errors_before: (
                        len(by_dataset(ndjson(out), "sora.stats", errors=True)) > before
                    ),
                    30,
                    f"error event for {fault}",
                    beat,
                )
                error = by_dataset(ndjson(out), "sora.stats", errors=True)[-1]
                assert message in error["error"]["message"], (fault, error["error"]["message"])
                good_before = len(by_dataset(ndjson(out), "sora.stats"))
                wait_for(
                    lambda before=good_before: len(by_dataset(ndjson(out), "sora.stats")) > before,
                    30,
                    f"polling to go on after {fault}",
                    beat,
                )
            assert beat.stop() == 0
    warnings = beat.stderr()
    assert warnings.count("sora stats from") >= 4 and "Traceback" not in warnings
