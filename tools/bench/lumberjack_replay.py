"""Spool replay over Lumberjack at level 3: the chosen compressor against stdlib zlib.

A disk spool is filled with --events real-shaped ``sora.connections`` events (current
profile, ~3.9 KB each: 3,000 connections polled each second during a 21 s outage), closed,
then, for each compressor in turn, a copy of it is reopened and drained through the Logstash
output (``compression_level`` 3, windows of 2048, ``pipelining`` 2) into a receiver in
another process that inflates, counts and acknowledges (``sorabeat receive --no-validate``,
no JSON decoding, nothing written). Both compressors run in the same run against the same
receiver, alternating, --repeat times each.

    .venv/bin/python tools/bench/lumberjack_replay.py [--events 63000] [--repeat 2] [--dir D]

Target (issue 11): the chosen compressor at least 1.7x stdlib zlib. Prints events/s, bytes
sent per event and the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import tempfile
import time

from sample_events import connection_events
from spool_replay import start_receiver

from sorabeat.lumberjack import compression
from sorabeat.lumberjack.output import LogstashOutput
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.monitoring.registry import Registry
from sorabeat.publish import Publisher
from sorabeat.spool.disk import DiskSpool
from sorabeat.spool.settings import SpoolSettings

LEVEL = 3
SPOOL = SpoolSettings(max_size=8 * 1024**3)


async def fill(directory: str, events: list[bytes], per_poll: int) -> None:
    spool = await DiskSpool.open(directory, SPOOL, Registry())
    for start in range(0, len(events), per_poll):
        await spool.append(events[start : start + per_poll])
    await spool.close()


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, all threads) of this process or of ``pid``."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def replay(directory: str, address: str, libraries: tuple[str, ...]) -> tuple[float, float]:
    """(events/s from reopening the spool to the last ack, bytes written per event)."""
    metrics = Registry()
    settings = dataclasses.replace(
        LogstashSettings(hosts=[address]), compression_level=LEVEL, bulk_max_size=2048
    )
    output = LogstashOutput(settings, metrics, compression_libraries=libraries)
    started = time.perf_counter()
    spool = await DiskSpool.open(directory, SPOOL, Registry())
    total = spool.pending()
    task = asyncio.ensure_future(Publisher(spool, output).run())
    await spool.wait_drained()
    elapsed = time.perf_counter() - started
    await spool.close()
    await asyncio.wait_for(task, 30)
    await output.close()
    return total / elapsed, metrics.total("output.write.bytes") / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=63_000)
    parser.add_argument("--per-poll", type=int, default=3000, help="events of one append")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where to put the spools (default: TMPDIR)")
    args = parser.parse_args()
    events = connection_events(args.events, connections=min(args.per_poll, args.events))
    size = sum(map(len, events)) / len(events)
    chosen = compression.deflater(LEVEL)
    runs = {
        f"stdlib zlib level {LEVEL}": (compression.STDLIB,),
        f"chosen: {chosen.library} level {chosen.level}": compression.LIBRARIES,
    }
    base = tempfile.mkdtemp(prefix="lumberjack-replay-", dir=args.dir)
    receiver, address = start_receiver()
    try:
        filled = f"{base}/filled"
        asyncio.run(fill(filled, events, args.per_poll))
        del events
        print(
            f"{args.events:,} events of {size:.0f} bytes in the spool, compression_level "
            f"{LEVEL}, windows of 2048, pipelining 2, receiver in its own process at {address}"
        )
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for round_ in range(args.repeat):
            order = list(runs.items())
            if round_ % 2:
                order.reverse()
            for name, libraries in order:
                copy = f"{base}/replay"
                shutil.copytree(filled, copy)
                ours, theirs = cpu_seconds(), cpu_seconds(receiver.pid)
                results[name].append(asyncio.run(replay(copy, address, libraries)))
                ours, theirs = cpu_seconds() - ours, cpu_seconds(receiver.pid) - theirs
                print(
                    f"  {name:<28} {results[name][-1][0]:>9,.0f} events/s; CPU us/event: "
                    f"sender {ours / args.events * 1e6:.1f}, receiver "
                    f"{theirs / args.events * 1e6:.1f}"
                )
                shutil.rmtree(copy)
        for name, figures in results.items():
            rates = ", ".join(f"{rate:,.0f}" for rate, _ in figures)
            print(f"  {name:<28} {rates} events/s; {figures[0][1]:,.0f} bytes/event on the wire")
        (_, base_runs), (_, chosen_runs) = results.items()
        best = max(r for r, _ in chosen_runs) / max(r for r, _ in base_runs)
        print(f"  ratio chosen / stdlib zlib (best of each): {best:.2f}x   (target >= 1.7x)")
        wire = chosen_runs[0][1] / base_runs[0][1]
        print(f"  bytes on the wire, chosen / stdlib zlib:   {wire:.2f}x")
    finally:
        receiver.terminate()
        receiver.wait(30)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
