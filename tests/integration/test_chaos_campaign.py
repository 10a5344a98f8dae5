"""The fault campaign (tools/chaos.py) still runs: two rounds with a fixed seed, as a real
subprocess, exit 0, and figures that parse and add up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "chaos.py"
FIGURE = re.compile(r"(\w+)=(\d+)")
SEED = 3161553267  # its two rounds fill the disk, cut Sora answers and drop connections


def figures(line: str) -> dict[str, int]:
    return {name: int(value) for name, value in FIGURE.findall(line.split(" faults: ")[0])}


def test_two_rounds_lose_nothing_and_print_their_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(TOOL), "--rounds", "2", "--seed", str(SEED), "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert f"seed {SEED} (replay with --seed {SEED})" in done.stdout
    rounds = [figures(line) for line in done.stdout.splitlines() if re.match(r"round \d+: ", line)]
    rounds = [r for r in rounds if r]  # note lines carry no figures
    assert len(rounds) == 2, report
    (total_line,) = [line for line in done.stdout.splitlines() if line.startswith("total: served")]
    total = figures(total_line)
    assert total["rounds"] == 2 and total["seed"] == SEED
    for name in ("served", "received", "lost", "dropped", "unspooled", "duplicates", "disorder"):
        assert total[name] == sum(r[name] for r in rounds), (name, report)
    assert total["lost"] == 0 and total["disorder"] == 0
    assert total["served"] > 0 and total["received"] > 0
    assert sorted(p.name for p in tmp_path.glob("sorabeat-*.stderr"))  # it ran sorabeat
    assert leftovers(str(tmp_path)) == []  # every process it started was killed
    assert "disk-full" in done.stdout  # run, or said clearly to be not run


def leftovers(workdir: str) -> list[str]:
    """Command lines of running processes that name ``workdir``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        line = b" ".join(args).decode(errors="replace")
        if workdir in line and "pytest" not in line:
            found.append(line)
    return found
