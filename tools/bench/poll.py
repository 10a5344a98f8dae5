"""Benchmark: one poll of 10,000 connections (parse, build events, serialize).

Compared in the same run with the floor, ``orjson.loads`` + ``orjson.dumps`` of the same
response, and measured for peak RSS in a separate process that does exactly what `sorabeat`
does for two polls (real HTTP from a simulator running in another process).

The cost of rates and channels (issue 13) is the second of two polls 10 s apart (the first
has nothing to compare with), with rates appended to every connection event and one event
per channel, against the same poll without them; the two are timed alternately.

Targets (issue 2): at most 3x the floor; under 100 MiB peak RSS for the whole process.
(issue 13): rates and channels add at most 10%.

Measured (issue 13; three runs each of ``--connections 10000 --repeat 5`` on a shared
2-core machine, load average ~5): with / without was 1.60x, 1.68x, 1.70x (median) before
the rates were kept as rows and serialized from a byte template; it is now 1.41x, 1.47x,
1.50x (~100 ms CPU more on ~210 ms), not the 1.10x the issue asks. What is left is
per-connection interpreter work, ~9 us on this machine: reading and checking the ten
counters and the exact divisions (~4 us), formatting the eleven floats (~2.5 us), channel
sums and their events (~2.5 us).

    python tools/bench/poll.py [--connections 10000] [--profile current] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from statistics import median

import orjson

from sorabeat.event import AgentInfo, EnvelopeSettings, MetricsetEncoder
from sorabeat.simulator import SoraSimulator
from sorabeat.sora.connections import ConnectionsReader
from sorabeat.sora.derived import Derivation
from sorabeat.sora.field_types import metricset_types

AGENT = AgentInfo(name="bench", hostname="bench", id="id", ephemeral_id="eid", version="0.0.0")


def encoder(metricset: str = "connections") -> MetricsetEncoder:
    return MetricsetEncoder(
        EnvelopeSettings(agent=AGENT),
        metricset=metricset,
        period_s=10,
        address="127.0.0.1:3000",
    )


def build_events(body: bytes, derivation: Derivation | None = None) -> list[bytes]:
    """What the poller does with a GetStatsAllConnections body (types checked too), with
    rates and channel events when given the host's ``derivation``."""
    derived = derivation.begin(10_000_000) if derivation else None
    reader = ConnectionsReader(metricset_types("connections"), derived)
    for start in range(0, len(body), 65536):  # as it arrives from the socket
        reader.feed(body[start : start + 65536])
    events = encoder().encode(0, 1, reader.finish())
    if derivation and derived:
        derivation.commit(derived)
        events += encoder("channels").encode(0, 1, derived.channel_documents())
    return events


def primed(first: bytes) -> Derivation:
    """A host's derivation that has seen the first poll."""
    derivation = Derivation("127.0.0.1:3000", rates_in_events=True, channels=True)
    derived = derivation.begin(0)
    reader = ConnectionsReader(metricset_types("connections"), derived)
    reader.feed(first)
    reader.finish()
    derivation.commit(derived)
    return derivation


def compare_rates(first: bytes, second: bytes, repeat: int) -> tuple[list[float], list[float]]:
    """CPU seconds of the second poll without, and with, rates and channels, timed
    alternately (process time: a shared machine's other work does not count)."""
    without, with_rates = [], []
    for _ in range(repeat):
        # primed before both: reading the first poll frees tens of MB, and whichever run
        # came right after it would pay for faulting that memory in again
        derivation = primed(first)
        started = time.process_time()
        build_events(second)
        without.append(time.process_time() - started)
        started = time.process_time()
        build_events(second, derivation)
        with_rates.append(time.process_time() - started)
    return without, with_rates


def floor(body: bytes) -> None:
    orjson.dumps(orjson.loads(body))


def timed(fn: object, body: bytes, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(body)  # type: ignore[operator]
        runs.append(time.perf_counter() - started)
    return median(runs)


async def child(url: str) -> None:
    """One real poll, as `sorabeat run` makes it, in a process of its own."""
    import httpx

    from sorabeat.monitoring.registry import Registry
    from sorabeat.sora.all_connections import AllConnections
    from sorabeat.sora.hosts import parse_sora_host
    from sorabeat.sora.poller import MetricsetPoller

    class Sink:
        count = 0

        async def append(self, events: list[bytes]) -> int:
            Sink.count = len(events)  # the last poll's
            return len(events)

    host = parse_sora_host(url)
    async with httpx.AsyncClient(trust_env=False, timeout=None) as http:
        poller = MetricsetPoller(
            host=host,
            metricset=AllConnections(host.address, connections=True, channels=True),
            period=10,
            timeout=60,
            max_response_size=256 * 1024 * 1024,
            headers={},
            http=http,
            encoders={"connections": encoder(), "channels": encoder("channels")},
            sink=Sink(),
            metrics=Registry(),
        )
        for _ in range(2):  # the second poll has rates
            started = time.perf_counter()
            events = await poller.poll_once()
            elapsed = time.perf_counter() - started
            await poller.sink.append(events)
            del events
    print(json.dumps({"events": Sink.count, "seconds": elapsed, "peak_rss_mib": peak_rss_mib()}))


def peak_rss_mib() -> float:
    """This process's own high-water RSS (VmHWM). Not ru_maxrss: Linux carries that over
    exec from the forked image of the parent, which here holds the simulator."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class SteppedClock:
    """The simulator's clock: stepped by hand, then (``run``) going on in real time."""

    def __init__(self) -> None:
        self.t = 0.0
        self.since: float | None = None

    def __call__(self) -> float:
        return self.t if self.since is None else self.t + time.monotonic() - self.since

    def run(self) -> None:
        self.since = time.monotonic()


async def main(args: argparse.Namespace) -> None:
    clock = SteppedClock()
    sim = SoraSimulator(args.profile, args.connections, seed=1, churn=0, clock=clock)
    first = orjson.dumps(sim.connection_documents())
    clock.t += 10
    body = orjson.dumps(sim.connection_documents())
    print(
        f"profile {args.profile}: {args.connections} connections, response {len(body) / 1e6:.1f} MB"
    )
    events = build_events(body)
    assert len(events) == args.connections
    ours = timed(build_events, body, args.repeat)
    base = timed(floor, body, args.repeat)
    print(f"floor  orjson.loads + orjson.dumps : {base * 1000:8.1f} ms")
    print(f"ours   parse + build + serialize  : {ours * 1000:8.1f} ms")
    print(f"ratio  ours / floor               : {ours / base:8.2f}x   (target <= 3x)")
    plain, derived = compare_rates(first, body, max(args.repeat, 3))
    events = build_events(body, primed(first))
    channels = len(events) - args.connections
    print(f"second poll without rates/channels: {median(plain) * 1000:8.1f} ms CPU (median)")
    print(
        f"second poll with rates + channels : {median(derived) * 1000:8.1f} ms CPU (median), "
        f"{channels} channel events"
    )
    print(
        f"ratio  with / without             : {median(derived) / median(plain):8.2f}x median, "
        f"{min(derived) / min(plain):.2f}x best   (target <= 1.10x)"
    )

    clock.run()  # real time for the polls over HTTP

    host, port = await sim.start("127.0.0.1", 0)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--child", f"http://{host}:{port}/", stdout=subprocess.PIPE
        )
        out, _ = await proc.communicate()
    finally:
        await sim.close()
    result = json.loads(out)
    print(
        f"poll   over HTTP in its own process: {result['seconds'] * 1000:8.1f} ms (second poll, "
        f"rates + channels), {result['events']} events, peak RSS {result['peak_rss_mib']:.1f} MiB "
        "(target < 100 MiB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--profile", default="current", choices=["2017", "2018", "current"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        asyncio.run(child(ns.child))
    else:
        asyncio.run(main(ns))
