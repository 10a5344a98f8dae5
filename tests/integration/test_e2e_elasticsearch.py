"""sorabeat as a process, shipping the simulator's events into osmem-server (an independent
OpenSearch-compatible server): `sorabeat setup` loads the template, `sorabeat run` ships, and
`_refresh` + `_count` find exactly the documents the simulator served."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import osmem_server

from tests.integration.procs import (
    control,
    running,
    simulator,
    sorabeat_run,
    wait_for,
    write_config,
)


@contextmanager
def osmem() -> Iterator[str]:
    proc = subprocess.Popen(
        [osmem_server.resolve_binary(), "--addr", "127.0.0.1:0", "--no-ja"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        yield str(orjson.loads(proc.stdout.readline())["url"])
    finally:
        proc.kill()
        proc.wait(30)


def count(url: str, query: dict[str, object] | None = None) -> int:
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        client.post("/sorabeat-*/_refresh").raise_for_status()
        response = client.post("/sorabeat-*/_count", json={"query": query or {"match_all": {}}})
        if response.status_code == 404:
            return 0
        response.raise_for_status()
        return int(response.json()["count"])


def test_sorabeat_run_indexes_every_served_document(tmp_path: Path) -> None:
    sim = simulator(tmp_path, connections=4)
    with running(sim), osmem() as url:
        address = sim.address()
        home = tmp_path / "home"
        write_config(
            home,
            {
                "output.elasticsearch": {"hosts": [url], "bulk_max_size": 50, "worker": 2},
                "setup.dashboards.enabled": False,
            },
            [
                {
                    "module": "sora",
                    "period": "0.5s",
                    "timeout": "0.4s",
                    "hosts": [f"{address[0]}:{address[1]}"],
                }
            ],
        )
        setup = subprocess.run(
            [sys.executable, "-m", "sorabeat", "setup", "-e", "--path.home", str(home)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert setup.returncode == 0, setup.stdout + setup.stderr
        beat = sorabeat_run(home)
        with running(beat):
            wait_for(lambda: count(url) >= 20, 60, "documents in the index", beat)
            control(address, "Simulator.SetFault", {"fault": "slow"})
            served = control(address, "Simulator.GetServed")
            expected = served["stats"]["ok"] + served["connections"]["objects"]
            wait_for(
                lambda: count(url, {"exists": {"field": "sora"}}) >= expected,
                60,
                "every document",
                beat,
            )
            assert beat.stop() == 0, beat.stderr()
        assert count(url, {"exists": {"field": "sora"}}) == expected
        assert (
            count(url, {"term": {"metricset.name": "connections"}})
            == served["connections"]["objects"]
        )
