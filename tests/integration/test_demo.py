"""`sorabeat demo`: the README's first command must work on its own, and say what it did."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

SHIPPED = re.compile(
    r"shipped (\d+) polls: (\d+) stats events, (\d+) connection events, (\d+) channel events\n"
)
BUSIEST = re.compile(
    r"busiest channel: (\S+), ([\d.]+[kMG]?)bit/s in, ([\d.]+[kMG]?)bit/s out, (\d+) connections "
    r"\(of (\d+) channels at the last poll\)"
)
SUMMARY = re.compile(
    r"demo: (\d+) requests to Sora \((\d+) failed\), (\d+) events produced, (\d+) received over TLS, "
    r"(\d+) acknowledged"
)


def test_demo_ships_everything_it_produces(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sorabeat", "demo", "--duration", "6", "--period", "1s",
         "--connections", "3", "--keep", str(tmp_path / "kept")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    m = SUMMARY.search(result.stdout)
    assert m, result.stdout
    polls, failed, produced, received, acked = map(int, m.groups())
    assert polls >= 4 and failed == 0
    assert produced == received == acked >= 4 * 2
    shipped = SHIPPED.search(result.stdout)
    assert shipped, result.stdout
    stats_polls, stats, connection_events, channel_events = map(int, shipped.groups())
    assert stats_polls == stats >= 4
    assert stats + connection_events + channel_events == received
    busiest = BUSIEST.search(result.stdout)
    assert busiest, result.stdout
    events = [
        orjson.loads(line)
        for line in (tmp_path / "kept" / "received.ndjson").read_bytes().splitlines()
    ]
    assert len(events) == received
    datasets = [e["event"]["dataset"] for e in events]
    assert datasets.count("sora.stats") == stats
    assert datasets.count("sora.connections") == connection_events
    assert datasets.count("sora.channels") == channel_events >= stats  # one channel or more
    # the busiest channel is the one with the most bits at the last poll with rates
    rated = [
        e
        for e in events
        if e["event"]["dataset"] == "sora.channels" and "rates" in e["sora"]["channels"]
    ]
    last = max(e["@timestamp"] for e in rated)
    at_last = [e["sora"]["channels"] for e in rated if e["@timestamp"] == last]
    top = max(
        at_last,
        key=lambda c: c["rates"]["received_bits_per_second"] + c["rates"]["sent_bits_per_second"],
    )
    assert busiest.group(1) == top["channel_id"]
    assert int(busiest.group(4)) == top["connections"]
    assert int(busiest.group(5)) == len(at_last)
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_the_demo_early_with_a_summary(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sorabeat", "demo", "--duration", "60", "--period", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("sorabeat demo:")
    time.sleep(3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 0, out + err
    assert SUMMARY.search(out), out
