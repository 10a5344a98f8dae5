"""Lumberjack throughput: our output (uncompressed and zlib level 3) against pylogbeat.

Sends N metric events of about 500 bytes in windows of 2048 to a ``sorabeat receive``
subprocess that does not decode JSON (``--no-validate``), so client and receiver use both
cores. pylogbeat is run as shipped (it always compresses, at zlib's default level), with
its sequence reset to 0 before each send so it works against count-acking servers too.

    .venv/bin/python tools/bench/lumberjack.py [--events 200000] [--repeat 3]

Prints events/s of each client (best of --repeat runs) and the ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import subprocess
import sys
import time

from pylogbeat import PyLogBeatClient
from sample_events import make_events

from sorabeat.lumberjack.output import LogstashOutput
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.monitoring.registry import Registry

WINDOW = 2048
MAIN = "import sys; from sorabeat.cli import main; sys.exit(main())"


async def run_ours(events: list[bytes], address: str, level: int) -> float:
    settings = dataclasses.replace(
        LogstashSettings(hosts=[address]), compression_level=level, bulk_max_size=WINDOW
    )
    out = LogstashOutput(settings, Registry())
    batches = [events[i : i + WINDOW] for i in range(0, len(events), WINDOW)]
    slots = asyncio.Semaphore(out.max_in_flight)

    async def one(batch: list[bytes]) -> None:
        try:
            await out.publish(batch, lambda n: None)
        finally:
            slots.release()

    started = time.perf_counter()
    tasks = []
    for batch in batches:
        await slots.acquire()
        tasks.append(asyncio.create_task(one(batch)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    await out.close()
    return len(events) / elapsed


def run_pylogbeat(events: list[bytes], host: str, port: int) -> float:
    started = time.perf_counter()
    with PyLogBeatClient(host, port, timeout=60) as client:
        for i in range(0, len(events), WINDOW):
            client._sequence = 0
            client.send(events[i : i + WINDOW])
    return len(events) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events = make_events(args.events)
    size = sum(map(len, events)) / len(events)
    receiver = subprocess.Popen(
        [sys.executable, "-c", MAIN, "receive", "--listen", "127.0.0.1:0", "--no-validate"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        address = receiver.stdout.readline().rsplit(" ", 1)[1].strip()
        host, port = address.rsplit(":", 1)
        print(
            f"{args.events} events of {size:.0f} bytes, windows of {WINDOW}, "
            f"receiver in its own process at {address}; best of {args.repeat}"
        )
        results: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, rate in (
                ("ours, uncompressed", asyncio.run(run_ours(events, address, 0))),
                ("ours, level 3", asyncio.run(run_ours(events, address, 3))),
                ("pylogbeat as shipped", run_pylogbeat(events, host, int(port))),
            ):
                results[name] = max(results.get(name, 0.0), rate)
        for name, rate in results.items():
            print(f"  {name:<22} {rate:>10,.0f} events/s")
        base = results["pylogbeat as shipped"]
        print(f"  ratio ours level 3 / pylogbeat:      {results['ours, level 3'] / base:.2f}x")
        print(f"  ratio ours uncompressed / pylogbeat: {results['ours, uncompressed'] / base:.2f}x")
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    main()
