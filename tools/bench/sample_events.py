"""Metric events of a chosen size for the benchmarks (the shape of a connections event).

Shared by the Lumberjack, spool and spool-replay benchmarks, so their figures are about the
same bytes.
"""

from __future__ import annotations

import orjson


def make_events(count: int, size: int = 500) -> list[bytes]:
    """``count`` JSON events of exactly ``size`` bytes, each one different."""
    out = []
    for i in range(count):
        doc = {
            "@timestamp": f"2026-01-02T03:04:05.{i % 1000:03d}Z",
            "@metadata": {"beat": "sorabeat", "type": "_doc", "version": "8.17.0"},
            "event": {"module": "sora", "dataset": "sora.connections", "duration": 1234567},
            "metricset": {"name": "connections", "period": 10000},
            "service": {"type": "sora", "address": "127.0.0.1:3000"},
            "sora": {
                "connections": {
                    "connection_id": f"{i:026d}",
                    "channel_id": "bench-channel",
                    "rtp": {"total_received_bytes": i * 1000, "total_sent_bytes": i * 999},
                }
            },
        }
        encoded = orjson.dumps(doc)
        pad = size - len(encoded) - len(b',"pad":""')
        if pad < 0:
            raise ValueError(f"events cannot be smaller than {len(encoded) + 9} bytes")
        out.append(encoded[:-1] + b',"pad":"' + b"x" * pad + b'"}')
    return out
