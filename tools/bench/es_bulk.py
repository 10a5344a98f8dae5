"""Benchmark: sorabeat's Elasticsearch sink against elasticsearch-py's bulk helpers.

200,000 encoded events (~500 bytes, the real envelope) go into the ES emulator running in
its own process with a null store (it parses minimally and answers success), through:

* sorabeat's ElasticsearchOutput, batches of bulk_max_size published as the pipeline does;
* elasticsearch-py ``helpers.streaming_bulk`` and ``helpers.parallel_bulk``, given the same
  events pre-serialized (their fastest input: no dict serialization in the timed part).

Prints events/s and the ratio of sorabeat to the better helper, and first the cost of
preparing the bulk lines alone (no HTTP): the default path, which never decodes an event,
and with an ``indices`` rule, which decodes each event once to test its condition. Run from
the repository:

    .venv/bin/python tools/bench/es_bulk.py [--events N] [--workers W]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sorabeat.es.bulk import ServerInfo  # noqa: E402
from sorabeat.es.output import ElasticsearchOutput, agent_fields  # noqa: E402
from sorabeat.es.routing import Routes  # noqa: E402
from sorabeat.es.settings import ElasticsearchSettings, IndexRule  # noqa: E402
from sorabeat.event import AgentInfo, EnvelopeSettings, MetricsetEncoder, split_metadata  # noqa: E402
from sorabeat.monitoring.registry import Registry  # noqa: E402

AGENT = AgentInfo(
    name="sora-node-01",
    hostname="sora-node-01",
    id="6f0f6d9e-2b1f-4c1e-9f55-3d1e2c4b5a69",
    ephemeral_id="0c0a1f6e-6f57-4d2c-8c7b-0f6a1d2e3b4c",
    version="0.1.0",
)
INDEX = "sorabeat-0.1.0-2026.01.02"


def make_events(count: int) -> list[bytes]:
    encoder = MetricsetEncoder(
        EnvelopeSettings(agent=AGENT), metricset="connections", period_s=10, address="sora:3000"
    )
    docs = []
    for i in range(count):
        docs.append(
            (
                f"C{i}",
                {
                    "channel_id": "sora",
                    "connection_id": f"8KXZ3B1H1D4Q79Y1FZ6T{i:06d}",
                    "timestamp": "2026-01-02T03:04:05.123456Z",
                    "rtp": {"total_received_byte_size": 1363876 + i, "total_sent": 2129 + i},
                },
            )
        )
    out: list[bytes] = []
    for start in range(0, count, 1000):
        out += encoder.encode_objects(1_767_323_045_000, 1000, docs[start : start + 1000])
    return out


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.emulators.elasticsearch",
            "--null-store",
            "--max-runtime",
            "900",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise SystemExit("the emulator did not start")
    return proc, str(orjson.loads(line)["url"])


RULES = [IndexRule(index="sorabeat-send", when={"equals": {"sora.connections.role": "sendonly"}})]


def prepare_seconds(events: Sequence[bytes], rules: Sequence[IndexRule], runs: int) -> float:
    """Best time of ``runs`` to prepare every event in batches of 1600 (no HTTP)."""
    settings = ElasticsearchSettings(hosts=["es"], indices=list(rules))
    best = float("inf")
    for _ in range(runs):
        builder = Routes(settings, agent_fields(AGENT), False).builder(ServerInfo((8, 15, 0)))
        started = time.perf_counter()
        for i in range(0, len(events), 1600):
            builder.prepare_all(events[i : i + 1600])
        best = min(best, time.perf_counter() - started)
    return best


async def run_sorabeat(
    url: str, events: Sequence[bytes], workers: int, level: int, rules: Sequence[IndexRule] = ()
) -> float:
    settings = ElasticsearchSettings(
        hosts=[url], worker=workers, compression_level=level, indices=list(rules)
    )
    output = ElasticsearchOutput(settings, AGENT, Registry())
    slots = asyncio.Semaphore(output.max_in_flight)

    async def one(batch: Sequence[bytes]) -> None:
        acked = [0]
        async with slots:
            await output.publish(batch, lambda n: acked.__setitem__(0, n))
        assert acked[0] == len(batch), f"{acked[0]} of {len(batch)} acknowledged"

    size = output.batch_size
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    await one(batches[0][:10])  # connect (GET /) outside the timing
    started = time.perf_counter()
    await asyncio.gather(*(one(b) for b in batches))
    elapsed = time.perf_counter() - started
    await output.close()
    return elapsed


def es_actions(sources: Sequence[bytes]) -> Iterator[dict[str, Any]]:
    for source in sources:
        yield {"_op_type": "create", "_index": INDEX, "_source": source}


def run_helper(url: str, sources: Sequence[bytes], which: str, chunk: int) -> float:
    from elasticsearch import Elasticsearch, helpers

    client = Elasticsearch(url, request_timeout=90)
    client.info()  # connect outside the timing
    started = time.perf_counter()
    ok = 0
    if which == "streaming_bulk":
        results = helpers.streaming_bulk(client, es_actions(sources), chunk_size=chunk)
    else:
        results = helpers.parallel_bulk(
            client, es_actions(sources), chunk_size=chunk, thread_count=4
        )
    for success, _ in results:
        ok += success
    elapsed = time.perf_counter() - started
    client.close()
    assert ok == len(sources), f"{which}: {ok} of {len(sources)} succeeded"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2, help="sorabeat worker (per host)")
    parser.add_argument("--runs", type=int, default=5, help="best of N interleaved runs")
    args = parser.parse_args()
    events = make_events(args.events)
    sources = [split_metadata(e)[1] for e in events]
    mean = sum(map(len, events)) / len(events)
    print(f"{len(events)} events, {mean:.0f} bytes each on average; cpus={os.cpu_count()}")
    plain = prepare_seconds(events, (), args.runs)
    ruled = prepare_seconds(events, RULES, args.runs)
    for name, seconds in (("default (no decode)", plain), ("with an indices rule", ruled)):
        print(f"prepare, {name:22s} {seconds / len(events) * 1e6:6.2f} us/event")
    print(f"ratio rule / default: {ruled / plain:.1f}x (rules are opt-in)")
    measures: dict[str, Callable[[], float]] = {}
    for level in (1, 0):
        measures[f"sorabeat worker={args.workers} gzip={level}"] = lambda level=level: asyncio.run(
            run_sorabeat(url, events, args.workers, level)
        )
    measures[f"sorabeat worker={args.workers} gzip=1 rule"] = lambda: asyncio.run(
        run_sorabeat(url, events, args.workers, 1, RULES)
    )
    for which in ("streaming_bulk", "parallel_bulk"):
        for chunk in (500, 1600):
            measures[f"elasticsearch-py {which} chunk={chunk}"] = lambda w=which, c=chunk: (
                run_helper(url, sources, w, c)
            )
    proc, url = start_emulator()
    try:
        # interleaved rounds, best of each: a noisy machine slows all contenders alike
        results: dict[str, float] = {}
        for _ in range(args.runs):
            for name, measure in measures.items():
                results[name] = min(results.get(name, float("inf")), measure())
    finally:
        proc.kill()
        proc.wait(10)
    rates = {name: len(events) / seconds for name, seconds in results.items()}
    for name, rate in rates.items():
        print(f"{name:45s} {rate:>10,.0f} events/s  ({results[name]:.2f} s)")
    baseline_name = max((n for n in rates if n.startswith("elasticsearch-py")), key=rates.get)  # type: ignore[arg-type]
    baseline = rates[baseline_name]
    print(f"baseline (best elasticsearch-py): {baseline_name}")
    for name in (n for n in rates if n.startswith("sorabeat")):
        print(f"ratio {name} / baseline: {rates[name] / baseline:.2f}x (target >= 2x)")


if __name__ == "__main__":
    main()
