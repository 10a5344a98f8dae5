"""Replay of a large spool to `sorabeat receive` over Lumberjack, against the output's own speed.

Fills a disk spool with N events (default 1,000,000 of 500 bytes), closes it, then in the same
run measures:

- baseline: the same events published from memory (a memory queue) through the Logstash output
  to a `sorabeat receive` subprocess: the output's full speed on this machine;
- replay: the spool reopened cold (page cache dropped when run as root) and drained through the
  same output to the same receiver, as `sorabeat run` does after an outage.

Before the first round, ``--warmup`` events (default 100,000) are drained from memory
unmeasured, so the receiver's start (its first connection, imports) is not charged to the
baseline alone (that made the ratio look better than it is). A round is one baseline then one
replay of a fresh copy of the filled spool; on a shared machine the load changes from one
second to the next, so ``--rounds`` (default 3) pairs run back to back and the ratio printed
is the median of theirs, each round's own figures above it. Each line also gives the sending
process's CPU per event (all its threads): less sensitive to the load than the speeds, it
shows what reading the spool adds to the output's own work.

Target (issue 11): the replay runs at 0.9x the output's full speed or better. Prints events/s
and the ratio. What keeps replay close to it: the spool reads ahead while the output sends,
and checks clean segments one CRC per MiB range instead of one per record (see docs/spool.md).

    python tools/bench/spool_replay.py [--events 1000000] [--level 3] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from sample_events import make_events

from sorabeat.lumberjack.output import LogstashOutput
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.monitoring.registry import Registry
from sorabeat.pipeline.publish import Publisher
from sorabeat.spool.base import Spool
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.memory import MemoryQueue
from sorabeat.spool.settings import MemQueueSettings, SpoolSettings

APPEND_BATCH = 2048


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sorabeat", "receive", "--listen", "127.0.0.1:0", "--no-validate"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    m = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"receiver did not start: {line!r}")
    return proc, f"127.0.0.1:{m.group(1)}"


@dataclasses.dataclass
class Drained:
    rate: float  # events/s from first get to last ack
    cpu_us: float  # this process's CPU (all its threads) per event meanwhile, in us


async def drain(spool: Spool, address: str, level: int, total: int) -> Drained:
    """Publish everything in the spool."""
    settings = dataclasses.replace(LogstashSettings(hosts=[address]), compression_level=level)
    output = LogstashOutput(settings, Registry())
    publisher = Publisher(spool, output)
    started, cpu = time.perf_counter(), time.process_time()
    task = asyncio.ensure_future(publisher.run())
    await spool.wait_drained()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await spool.close()
    await asyncio.wait_for(task, 30)
    await output.close()
    return Drained(total / elapsed, cpu / total * 1e6)


async def fill(directory: str, events: list[bytes]) -> None:
    spool = await DiskSpool.open(directory, SpoolSettings(max_size=8 * 1024**3), Registry())
    for start in range(0, len(events), APPEND_BATCH):
        await spool.append(events[start : start + APPEND_BATCH])
    await spool.close()


def drop_page_cache() -> bool:
    if os.geteuid() != 0:
        return False
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        return False
    return True


async def main(args: argparse.Namespace) -> None:
    events = make_events(args.events)
    workdir = tempfile.mkdtemp(prefix="sorabeat-replay-", dir=args.dir)
    filled = os.path.join(workdir, "filled")
    receiver, address = start_receiver()
    try:
        if args.warmup:
            warm = MemoryQueue(MemQueueSettings(events=args.warmup))
            await warm.append(events[: args.warmup])
            await drain(warm, address, args.level, min(args.warmup, len(events)))
        started = time.perf_counter()
        await fill(filled, events)
        print(
            f"spool filled       : {len(events):,} events in {time.perf_counter() - started:.1f}s"
        )
        ratios = []
        for round_ in range(1, args.rounds + 1):
            memory = MemoryQueue(MemQueueSettings(events=len(events)))
            await memory.append(events)
            baseline = await drain(memory, address, args.level, len(events))
            print(
                f"round {round_} from memory : {baseline.rate:12,.0f} events/s  "
                f"(the output's speed; sender CPU {baseline.cpu_us:.2f} us/event)"
            )

            replayed = os.path.join(workdir, f"replay-{round_}")
            shutil.copytree(filled, replayed)  # the drain deletes what it acknowledges
            cold = drop_page_cache()
            opened = time.perf_counter()
            spool = await DiskSpool.open(replayed, SpoolSettings(max_size=8 * 1024**3), Registry())
            opening = time.perf_counter() - opened
            total = spool.pending()
            replay = await drain(spool, address, args.level, total)
            shutil.rmtree(replayed, ignore_errors=True)
            ratios.append(replay.rate / baseline.rate)
            print(
                f"round {round_} from disk   : {replay.rate:12,.0f} events/s  ({total:,} events, "
                f"{'cold' if cold else 'warm'} page cache, open took {opening:.2f}s; sender CPU "
                f"{replay.cpu_us:.2f} us/event)  ratio {ratios[-1]:.2f}"
            )
        print(
            f"ratio replay/memory: {statistics.median(ratios):12.2f}   (median of "
            f"{len(ratios)} rounds: {' '.join(f'{r:.2f}' for r in ratios)}; target: 0.9 or more)"
        )
    finally:
        receiver.terminate()
        receiver.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--level", type=int, default=3, help="compression_level (default 3)")
    parser.add_argument(
        "--warmup", type=int, default=100_000, help="events drained unmeasured first (0: none)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="memory then replay, this many times (default 3)"
    )
    parser.add_argument("--dir", default=None, help="where to put the spool (default: $TMPDIR)")
    asyncio.run(main(parser.parse_args()))
