"""kill -9 a process using the disk spool at random moments, many times over, and check
after each kill that every event it reported durable and did not acknowledge is still
there, intact and in order, and that the spool always reopens."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.disk import DiskSpool
from tests.integration.spool_writer import SETTINGS
from tests.spool_support import WAIT, event_id, intact, read_backlog

ROOT = Path(__file__).resolve().parents[3]
KILLS = 25
SEED = int(os.environ.get("SPOOL_KILL_SEED", "20260102"))  # reproducible; vary to explore
ROUND_IDS = 10**7  # each run numbers its events from round * ROUND_IDS


class Writer:
    """The writer subprocess and the complete lines it printed."""

    def __init__(self, directory: str, seed: int, first_id: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.spool_writer",
                directory,
                str(seed),
                str(first_id),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self.durable_seen = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if raw.endswith(b"\n"):  # a line cut by the kill proves nothing
                line = raw.decode()
                self.lines.append(line)
                if line.startswith("D "):
                    self.durable_seen.set()

    def kill(self) -> str:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)
        self._reader.join(WAIT)
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode()

    def ids(self, kind: str) -> list[int]:
        return [int(i) for line in self.lines if line.startswith(kind) for i in line.split()[1:]]


async def test_kill_9_never_loses_a_durable_unacknowledged_event(tmp_path: Path) -> None:
    directory = str(tmp_path / "spool")
    rng = random.Random(SEED)
    durable: set[int] = set()
    acked: set[int] = set()
    truncations = 0
    for round_ in range(1, KILLS + 1):
        writer = Writer(directory, rng.randrange(2**32), round_ * ROUND_IDS)
        started = writer.durable_seen.wait(30)
        time.sleep(rng.uniform(0.0, 0.4))  # kill at a random moment of its work
        stderr = writer.kill()
        assert started, f"round {round_}: the writer stored nothing: {stderr}"
        assert "Traceback" not in stderr, stderr
        durable.update(writer.ids("D"))
        acked.update(writer.ids("A"))

        metrics = Registry()
        spool = await asyncio.wait_for(DiskSpool.open(directory, SETTINGS, metrics), WAIT)
        replay = await read_backlog(spool)
        ids = [event_id(e) for e in replay]
        assert all(intact(e) for e in replay), f"round {round_}: damaged event"
        assert len(set(ids)) == len(ids), f"round {round_}: an event twice in one replay"
        missing = durable - acked - set(ids)
        assert not missing, f"round {round_}: lost {sorted(missing)[:10]}"
        for producer in (0, 1):  # each producer's events in the order it appended them
            mine = [i for i in ids if (i % ROUND_IDS) % 2 == producer]
            assert mine == sorted(mine), f"round {round_}: out of order"
        assert all(i < (round_ + 1) * ROUND_IDS for i in ids)  # nothing invented
        # kill -9 keeps the page cache: it can cut a write short, never damage a record
        assert metrics.total("spool.events.corrupt") == 0
        assert metrics.total("spool.segments.corrupt") == 0
        truncations += metrics.total("spool.bytes.truncated") > 0
        await spool.close()  # nothing acknowledged here: the next writer replays it all
    # the kills landed in the middle of real work: events were written and acknowledged
    assert len(durable) > 1000 and len(acked) > 500
    assert os.listdir(directory)
    print(f"{len(durable)} durable, {len(acked)} acknowledged, {truncations} cut writes")
