"""What self-monitoring costs: rendering /metrics and /stats for many series, serving them
over HTTP, and logging a line through the secret-masking filter, each against a baseline
measured in the same run.

    .venv/bin/python tools/bench/monitoring.py
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable

import httpx
import orjson

from sorabeat.config.settings import HttpSettings
from sorabeat.event import AgentInfo
from sorabeat.logs import SecretFilter, SelectorFilter, TextFormatter
from sorabeat.monitoring import prometheus
from sorabeat.monitoring.registry import Registry
from sorabeat.monitoring.server import MonitoringServer
from sorabeat.monitoring.snapshot import Snapshot
from sorabeat.monitoring.stats import stats

AGENT = AgentInfo(name="n", hostname="h", id="i", ephemeral_id="e", version="0.1.0")


def per_call(fn: Callable[[], object], repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def registry(hosts: int) -> Registry:
    reg = Registry()
    for h in range(hosts):
        for metricset in ("stats", "connections"):
            labels = {"host": f"10.0.{h // 256}.{h % 256}:3000", "metricset": metricset}
            reg.add("sora.polls.ok", 100, **labels)
            reg.add("sora.polls.failed", 1, **labels)
            reg.add("sora.events", 1000, **labels)
    reg.add("spool.events.acked", 10**6)
    reg.set("spool.events.pending", 12)
    return reg


def bench_rendering() -> None:
    for hosts in (10, 100, 1000):
        reg = registry(hosts)
        snap = per_call(lambda reg=reg: Snapshot.of(reg), 20)  # type: ignore[misc]
        text = per_call(
            lambda reg=reg: prometheus.render(  # type: ignore[misc]
                prometheus.families(Snapshot.of(reg), {"v": "1"}, 1.0)
            ),
            20,
        )
        doc = per_call(lambda reg=reg: orjson.dumps(stats(AGENT, Snapshot.of(reg), 1.0)), 20)  # type: ignore[misc]
        series = hosts * 6
        print(
            f"{series:6d} series: snapshot {snap * 1e3:7.2f} ms, /metrics {text * 1e3:7.2f} ms "
            f"({text / snap:4.1f}x snapshot), /stats {doc * 1e3:7.2f} ms ({doc / snap:4.1f}x)"
        )


def bench_logging() -> None:
    def logger(filters: list[logging.Filter]) -> logging.Logger:
        log = logging.Logger(f"sorabeat.bench{len(filters)}")
        handler = logging.StreamHandler(io.StringIO())
        handler.setFormatter(TextFormatter())
        for f in filters:
            handler.addFilter(f)
        log.addHandler(handler)
        return log

    base = logger([SelectorFilter(logging.INFO, None)])
    secrets = [f"s3cret-value-{i}" for i in range(20)]
    masked = logger([SelectorFilter(logging.INFO, None), SecretFilter(secrets)])
    n = 20000
    plain = per_call(lambda: base.info("sora stats from %s: %d events", "10.0.0.1:3000", 42), n)
    scrub = per_call(lambda: masked.info("sora stats from %s: %d events", "10.0.0.1:3000", 42), n)
    print(
        f"log line: {plain * 1e6:.1f} us without masking, {scrub * 1e6:.1f} us masking 20 "
        f"secrets ({scrub / plain:.2f}x)"
    )


async def http_per_request(reg: Registry, path: str, repeat: int) -> float:
    settings = HttpSettings(enabled=True, host="127.0.0.1", port=0)
    server = MonitoringServer(settings, AGENT, reg)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http:
            (await http.get(path)).raise_for_status()
            start = time.perf_counter()
            for _ in range(repeat):
                (await http.get(path)).raise_for_status()
            return (time.perf_counter() - start) / repeat
    finally:
        await server.close()


def bench_http() -> None:
    """A GET over 127.0.0.1 (the endpoint closes each connection), against rendering alone."""
    reg = registry(100)
    render = per_call(
        lambda: prometheus.render(prometheus.families(Snapshot.of(reg), {"v": "1"}, 1.0)), 50
    )
    metrics = asyncio.run(http_per_request(reg, "/metrics", 300))
    health = asyncio.run(http_per_request(reg, "/health", 300))
    print(
        f"HTTP (600 series): GET /metrics {metrics * 1e3:.2f} ms ({metrics / render:.1f}x "
        f"rendering it), GET /health {health * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    bench_rendering()
    bench_http()
    bench_logging()
