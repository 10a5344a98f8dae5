"""Disk spool throughput: appends against the disk's own limit, and replay from a cold spool.

Append: events of about 500 bytes appended in batches of 10 and of 1000 (a small metricset
and a large connections poll), by one appender and by 8 concurrent ones (several hosts and
metricsets polled at once), with the default flush policy. The baseline, measured in the
same run on the same file system: a plain sequential ``write`` + ``fdatasync`` loop of the
same number of bytes with the same number of fsyncs (the spool's own fsync count), i.e.
what the disk allows at that fsync cadence with no framing, no CRC and no event loop.

Replay: a spool holding --replay-events events is closed, the page cache dropped (as root:
/proc/sys/vm/drop_caches), then reopened (recovery scan included) and drained by a null
consumer that gets batches of 2048 and acknowledges each at once.

    .venv/bin/python tools/bench/spool.py [--dir /var/tmp] [--repeat 3]

Targets: append >= 80% of the plain-write figure; replay >= 200,000 events/s.
Prints figures and ratios (best of --repeat); asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

from sample_events import make_events

from sorabeat.monitoring.registry import Registry
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.segment import parse_segment_name
from sorabeat.spool.settings import SpoolSettings

EVENT_SIZE = 500
REPLAY_BATCH = 2048


def spool_bytes(directory: str) -> int:
    return sum(
        os.path.getsize(os.path.join(directory, n))
        for n in os.listdir(directory)
        if parse_segment_name(n) is not None
    )


@dataclass
class AppendRun:
    seconds: float
    events: int
    bytes: int
    fsyncs: int


async def spool_appends(
    directory: str, events: list[bytes], batch: int, appenders: int
) -> AppendRun:
    metrics = Registry()
    spool = await DiskSpool.open(directory, SpoolSettings(), metrics)
    size_before = spool_bytes(directory)
    chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
    per_appender = [chunks[a::appenders] for a in range(appenders)]

    async def appender(mine: list[list[bytes]]) -> None:
        for chunk in mine:
            await spool.append(chunk)

    started = time.perf_counter()
    await asyncio.gather(*(appender(m) for m in per_appender))
    seconds = time.perf_counter() - started
    written = spool_bytes(directory) - size_before
    fsyncs = int(metrics.counter("spool.fsync.count"))
    await spool.close()
    return AppendRun(seconds, len(events), written, fsyncs)


def plain_writes(path: str, total: int, fsyncs: int) -> float:
    """Seconds to write ``total`` bytes sequentially with ``fsyncs`` fdatasyncs."""
    chunk = total // fsyncs
    data = os.urandom(chunk)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(fsyncs):
            os.write(fd, data)
            os.fdatasync(fd)
        return time.perf_counter() - started
    finally:
        os.close(fd)
        os.unlink(path)


def drop_caches() -> bool:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


async def fill(directory: str, events: list[bytes], total: int) -> None:
    spool = await DiskSpool.open(directory, SpoolSettings(), Registry())
    written = 0
    while written < total:
        chunk = events[: min(len(events), total - written)]
        await spool.append(chunk)
        written += len(chunk)
    await spool.close()


async def replay(directory: str) -> tuple[float, float, int]:
    """(seconds to open, seconds to open and drain, events)."""
    started = time.perf_counter()
    spool = await DiskSpool.open(directory, SpoolSettings(), Registry())
    opened = time.perf_counter() - started
    total = spool.pending()
    done = 0
    while done < total:
        batch = await spool.get(REPLAY_BATCH)
        assert batch is not None
        spool.ack(batch, len(batch.events))
        done += len(batch.events)
    seconds = time.perf_counter() - started
    await spool.close()
    return opened, seconds, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="where to put the spools (default: TMPDIR)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000, help="events per append run")
    parser.add_argument("--replay-events", type=int, default=1_000_000)
    args = parser.parse_args()

    base = tempfile.mkdtemp(prefix="spool-bench-", dir=args.dir)
    events = make_events(10_000)
    print(f"spool bench in {base}: events of {len(events[0])} bytes, best of {args.repeat}")
    try:
        print("\nappend (default flush policy) vs plain write+fdatasync, same bytes and fsyncs")
        print("  (each repetition: the spool, then the baseline at once; median and best ratio)")
        for batch, appenders, count in (
            (10, 1, min(args.events, 20_000)),
            (10, 8, min(args.events, 100_000)),
            (1000, 1, args.events),
            (1000, 8, args.events),
        ):
            payloads = (events * (count // len(events) + 1))[:count]
            pairs: list[tuple[float, AppendRun, float]] = []
            for _ in range(args.repeat):
                directory = os.path.join(base, "append")
                run = asyncio.run(spool_appends(directory, payloads, batch, appenders))
                plain = plain_writes(os.path.join(base, "plain"), run.bytes, run.fsyncs)
                shutil.rmtree(directory)
                pairs.append((plain / run.seconds, run, plain))
            pairs.sort(key=lambda p: p[0])
            ratio, run, plain = pairs[len(pairs) // 2]
            print(
                f"  batch {batch:>4} x {appenders} appender(s): "
                f"{run.events / run.seconds:>9,.0f} events/s "
                f"{run.bytes / run.seconds / 1e6:>6.1f} MB/s, "
                f"{run.events / run.fsyncs:>6.1f} events/fsync | plain "
                f"{run.bytes / plain / 1e6:>6.1f} MB/s | ratio median {ratio:.0%}, "
                f"best {pairs[-1][0]:.0%}"
            )

        print(f"\nreplay of {args.replay_events:,} events to a null consumer (get + ack)")
        directory = os.path.join(base, "replay")
        results = []
        for _ in range(args.repeat):
            asyncio.run(fill(directory, events, args.replay_events))
            cold = drop_caches()
            opened, seconds, total = asyncio.run(replay(directory))
            results.append((seconds, opened, total, cold))
            shutil.rmtree(directory)
        seconds, opened, total, cold = min(results)
        print(
            f"  {'cold' if cold else 'warm (drop_caches needs root)'}: "
            f"{total / seconds:,.0f} events/s, {total * EVENT_SIZE / seconds / 1e6:.0f} MB/s "
            f"of events (open and recovery scan {opened:.2f}s of {seconds:.2f}s)"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
