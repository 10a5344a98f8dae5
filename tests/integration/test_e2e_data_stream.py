"""sorabeat as processes against the Elasticsearch emulator (its own process, over HTTP):
`sorabeat setup` loads the ILM policy and the data stream template, `sorabeat run` ships
the simulator's events with `create` actions, and every served document lands, exactly
once, in the backing indices of the data stream `sorabeat-<version>`, across a rollover."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from sorabeat import __version__
from tests.integration.procs import (
    control,
    running,
    simulator,
    sorabeat_run,
    wait_for,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]
STREAM = f"sorabeat-{__version__}"


@contextmanager
def emulator() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.emulators.elasticsearch", "--max-runtime", "300"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        yield str(orjson.loads(proc.stdout.readline())["url"])
    finally:
        proc.kill()
        proc.wait(30)


def get(url: str, path: str, query: dict[str, Any] | None = None) -> Any:
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        response = client.get(path) if query is None else client.post(path, json={"query": query})
        return response.status_code, response.json()


def count(url: str, target: str, query: dict[str, Any] | None = None) -> int:
    status, body = get(url, f"/{target}/_count", query or {"match_all": {}})
    assert status == 200, body
    return int(body["count"])


def test_setup_then_run_fills_the_data_stream(tmp_path: Path) -> None:
    sim = simulator(tmp_path, connections=3)
    with running(sim), emulator() as url:
        address = sim.address()
        home = tmp_path / "home"
        write_config(
            home,
            {
                "output.elasticsearch": {"hosts": [url], "bulk_max_size": 20},
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
        assert f"Loaded index template {STREAM} (pattern {STREAM}, data stream)" in setup.stdout
        status, policies = get(url, "/_ilm/policy/sorabeat")
        assert status == 200, policies
        beat = sorabeat_run(home)
        with running(beat):
            wait_for(lambda: count(url, STREAM) >= 15, 60, "documents in the data stream", beat)
            # what ILM's rollover does: a new write index; sorabeat keeps writing the stream
            with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
                rolled = client.post(f"/{STREAM}/_rollover").json()
            wait_for(
                lambda: count(url, rolled["new_index"]) >= 5, 60, "documents after rollover", beat
            )
            control(address, "Simulator.SetFault", {"fault": "slow"})
            served = control(address, "Simulator.GetServed")
            expected = served["stats"]["ok"] + served["connections"]["objects"]
            wait_for(
                lambda: count(url, STREAM, {"exists": {"field": "sora"}}) >= expected,
                60,
                "every document",
                beat,
            )
            assert beat.stop() == 0, beat.stderr()
        status, body = get(url, f"/_data_stream/{STREAM}")
        assert status == 200, body
        (stream,) = body["data_streams"]
        assert stream["ilm_policy"] == "sorabeat"
        assert stream["template"] == STREAM
        first, second = [i["index_name"] for i in stream["indices"]]
        assert re.fullmatch(rf"\.ds-{re.escape(STREAM)}-\d{{4}}\.\d{{2}}\.\d{{2}}-000001", first)
        assert (rolled["old_index"], rolled["new_index"]) == (first, second)
        backing = f"{first},{second}"
        with_sora = {"exists": {"field": "sora"}}
        assert count(url, backing, with_sora) == expected
        assert count(url, first) > 0
        assert count(url, backing) == count(url, STREAM)
        assert count(url, "sorabeat-*") == count(url, STREAM)  # the data view's pattern
        assert count(url, f"{STREAM}-*") == 0  # no daily index beside it
        assert (
            count(url, backing, {"term": {"metricset.name": "connections"}})
            == (served["connections"]["objects"])
        )
        assert count(url, backing, {"term": {"metricset.name": "stats"}}) >= served["stats"]["ok"]
