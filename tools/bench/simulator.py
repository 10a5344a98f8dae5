"""How fast the simulator builds and serializes a large GetStatsAllConnections answer.

    .venv/bin/python tools/bench/simulator.py [--connections 10000] [--rounds 3]

For each profile: time to build the documents, to serialize them with orjson (what the
simulator does), and the baseline measured in the same run: serializing the already
built documents with the standard library's json, for scale. Also a full round trip over
HTTP on 127.0.0.1 (build + serialize + send + receive + parse with httpx and orjson).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from sorabeat.simulator import PROFILES, SoraSimulator
from sorabeat.simulator.report import stats_report
from sorabeat.simulator.state import NodeState


def best(rounds: int, work: Callable[[], Any]) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(rounds):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


async def round_trip(profile: str, connections: int, rounds: int) -> tuple[float, int]:
    sim = SoraSimulator(profile, connections, seed=1, churn=0.1)
    await sim.start()
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            times = []
            count = 0
            for _ in range(rounds):
                started = time.perf_counter()
                response = await http.post(
                    sim.url, headers={"x-sora-target": "Sora_20171101.GetStatsAllConnections"}
                )
                count = len(orjson.loads(response.content))
                times.append(time.perf_counter() - started)
            return min(times), count
    finally:
        await sim.close()


def measure(name: str, n: int, rounds: int) -> None:
    t_start, state = best(1, lambda: NodeState(PROFILES[name], connections=n, seed=1, churn=0.1))
    clock = iter(range(1, 10_000))  # a second later at every call: counters move
    t_build, documents = best(rounds, lambda: state.connection_documents(next(clock)))
    t_orjson, body = best(rounds, lambda: orjson.dumps(documents))
    t_json, _ = best(rounds, lambda: json.dumps(documents).encode())
    t_stats, _ = best(rounds, lambda: orjson.dumps(stats_report(state, next(clock))))
    t_http, count = asyncio.run(round_trip(name, n, rounds))
    assert count == n
    total = t_build + t_orjson
    print(
        f"{name:8} {t_start:7.3f} {t_build:7.3f} {t_orjson:7.3f} {total:7.3f} "
        f"{len(body) / 1e6:6.1f} {t_json:15.3f} {total / t_json:10.2f} {t_stats:7.4f} "
        f"{t_http:7.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = args.connections, args.rounds
    print(f"{n} connections, best of {rounds} rounds")
    header = (
        f"{'profile':8} {'start':>7} {'build':>7} {'orjson':>7} {'total':>7} {'MB':>6} "
        f"{'json (baseline)':>15} {'total/json':>10} {'stats':>7} {'HTTP':>7}"
    )
    print(header)
    for name in PROFILES:
        measure(name, n, rounds)
    print("seconds; total = build + orjson, what one GetStatsAllConnections answer costs")


if __name__ == "__main__":
    main()
