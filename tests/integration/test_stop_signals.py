"""How long-running commands stop: SIGHUP like SIGTERM, and a shutdown that ends as soon as
everything in flight is acknowledged instead of after the whole ``shutdown_timeout``."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from tests.integration.procs import (
    Proc,
    free_port,
    ndjson,
    receiver,
    running,
    simulator,
    sorabeat_run,
    wait_for,
    write_config,
)
from tests.integration.test_e2e_logstash import freeze_and_count, good, identity

SHUTDOWN_TIMEOUT = 30.0


def key(event: dict[str, Any]) -> tuple[str, str, str]:
    """What tells events apart, error events (which have no connection id) included."""
    if "error" in event:
        return (event["metricset"]["name"], event["@timestamp"], "error")
    return identity(event)


def configure(home: Path, sora: tuple[str, int], ls_port: int) -> None:
    write_config(
        home,
        {
            "output.logstash": {"hosts": [f"127.0.0.1:{ls_port}"], "timeout": "10s"},
            "sorabeat.shutdown_timeout": f"{SHUTDOWN_TIMEOUT:g}s",
        },
        [
            {
                "module": "sora",
                "metricsets": ["stats", "connections"],
                "period": "0.2s",
                "timeout": "0.4s",
                "hosts": [f"{sora[0]}:{sora[1]}"],
            }
        ],
    )


def stop_with(proc: Proc, sig: int, timeout: float = 60) -> tuple[int, float]:
    started = time.monotonic()
    proc.signal(sig)
    code = proc.popen.wait(timeout)
    return code, time.monotonic() - started


def test_shutdown_ends_once_everything_is_acknowledged(tmp_path: Path) -> None:
    out = tmp_path / "received.ndjson"
    sim = simulator(tmp_path, connections=3)
    port = free_port()
    # a receiver that acknowledges every window within a second: events are in flight at any
    # moment, so the stop always finds pending events
    recv = receiver(tmp_path, port, out, "--ack-delay", "0.3")
    with running(sim, recv):
        address = sim.address()
        recv.address()
        home = tmp_path / "home"
        configure(home, address, port)
        beat = sorabeat_run(home)
        with running(beat):
            wait_for(lambda: len(good(ndjson(out), "stats")) >= 3, 60, "three stats events", beat)
            served = freeze_and_count(address)
            code, took = stop_with(beat, signal.SIGTERM)
        assert code == 0, beat.stderr()
        assert "stopping: waiting up to" in beat.stderr()  # the stop found events pending
        # generous for a loaded machine, far below the timeout it used to take whole
        assert took < SHUTDOWN_TIMEOUT / 2, (took, beat.stderr()[-2000:])
        assert "not acknowledged" not in beat.stderr()
        # a restart replays nothing already acknowledged: the position was saved
        again = sorabeat_run(home, name="again")
        with running(again):
            wait_for(lambda: "started" in again.stderr(), 60, "the restart", again)
            before = len(ndjson(out))
            wait_for(
                lambda: len(ndjson(out)) > before, 60, "an error event after the restart", again
            )
            assert stop_with(again, signal.SIGTERM)[0] == 0, again.stderr()
    events = ndjson(out)
    assert len(good(events, "stats")) == served["stats"]["ok"]
    assert len(good(events, "connections")) == served["connections"]["objects"]
    assert len({key(e) for e in events}) == len(events)


def test_sighup_stops_run_gracefully(tmp_path: Path) -> None:
    out = tmp_path / "received.ndjson"
    sim = simulator(tmp_path, connections=3)
    port = free_port()
    recv = receiver(tmp_path, port, out)
    with running(sim, recv):
        address = sim.address()
        recv.address()
        home = tmp_path / "home"
        configure(home, address, port)
        beat = sorabeat_run(home)
        with running(beat):
            wait_for(lambda: len(good(ndjson(out), "stats")) >= 2, 60, "two stats events", beat)
            served = freeze_and_count(address)
            code, _ = stop_with(beat, signal.SIGHUP)
        assert code == 0, beat.stderr()
        assert "received SIGHUP, stopping" in beat.stderr()
        assert "sorabeat stopped" in beat.stderr()
        # SIGHUP for the helpers too: receive and simulate end cleanly
        assert stop_with(recv, signal.SIGHUP)[0] == 0, recv.stderr()
        assert stop_with(sim, signal.SIGHUP)[0] == 0, sim.stderr()
    events = ndjson(out)
    assert len(good(events, "stats")) == served["stats"]["ok"]
    assert len({key(e) for e in events}) == len(events)
