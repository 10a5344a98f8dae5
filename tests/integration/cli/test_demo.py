"""`sorabeat demo`: the README's first command must work on its own, and say what it did."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

SUMMARY = re.compile(
    r"demo: (\d+) polls \((\d+) failed\), (\d+) events produced, (\d+) received over TLS, "
    r"(\d+) acknowledged"
)


def test_demo_ships_everything_it_produces(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sorabeat", "demo", "--duration", "4", "--period", "1s",
         "--connections", "3", "--keep", str(tmp_path / "kept")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    m = SUMMARY.search(result.stdout)
    assert m, result.stdout
    polls, failed, produced, received, acked = map(int, m.groups())
    assert polls >= 4 and failed == 0
    assert produced == received == acked >= 4 * 2
    events = [
        orjson.loads(line)
        for line in (tmp_path / "kept" / "received.ndjson").read_bytes().splitlines()
    ]
    assert len(events) == received
    assert {e["event"]["dataset"] for e in events} == {"sora.stats", "sora.connections"}
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
