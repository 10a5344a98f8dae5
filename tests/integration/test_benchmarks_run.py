"""Every benchmark still runs, on tiny inputs. This checks that they work and print their
figures; it never judges a figure (the machines are noisy: benchmarks decide nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "tools" / "bench"

SMALL = {
    "poll.py": ["--connections", "300", "--repeat", "1"],
    "lumberjack.py": ["--events", "5000", "--repeat", "1"],
    "lumberjack_replay.py": ["--events", "3000", "--per-poll", "500", "--repeat", "1"],
    "compression.py": ["--events", "100", "--repeat", "1"],
    "spool.py": ["--events", "2000", "--repeat", "1", "--replay-events", "5000"],
    "spool_replay.py": ["--events", "5000"],
    "es_bulk.py": ["--events", "3000", "--runs", "1"],
    "simulator.py": ["--connections", "200", "--rounds", "1"],
    "monitoring.py": [],
    "node.py": ["--connections", "200", "--period", "1", "--seconds", "5"],
}


def test_every_benchmark_is_listed() -> None:
    scripts = {p.name for p in BENCH.glob("*.py")} - {"sample_events.py"}
    assert scripts == set(SMALL)


@pytest.mark.parametrize("script", sorted(SMALL))
def test_benchmark_runs(script: str, tmp_path: Path) -> None:
    extra = (
        ["--dir", str(tmp_path)]
        if script in ("spool.py", "spool_replay.py", "lumberjack_replay.py", "node.py")
        else []
    )
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *SMALL[script], *extra],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(ch.isdigit() for ch in result.stdout), result.stdout
    assert "Traceback" not in result.stderr
