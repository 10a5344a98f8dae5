"""Events for the benchmarks: synthetic ones of a chosen size (the shape of a connections
event), and real-shaped ``sora.connections`` events from the simulator (~3.9 KB each).

Shared by the benchmarks, so their figures are about the same bytes.
"""

from __future__ import annotations

import orjson

from sorabeat.event import AgentInfo, EnvelopeSettings, MetricsetEncoder
from sorabeat.sora.connections import documents_from_objects
from sorabeat.sora.simulator import PROFILES
from sorabeat.sora.simulator.state import NodeState

AGENT = AgentInfo(name="bench", hostname="bench", id="id", ephemeral_id="eid", version="0.0.0")


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


def connection_events(count: int, connections: int = 3000) -> list[bytes]:
    """``count`` real-shaped ``sora.connections`` events (current profile, ~3.9 KB each):
    polls of ``connections`` connections a second apart, encoded as the input encodes them."""
    state = NodeState(PROFILES["current"], connections=connections, seed=1, churn=0.1)
    encoder = MetricsetEncoder(
        EnvelopeSettings(agent=AGENT), metricset="connections", period_s=1, address="127.0.0.1:3000"
    )
    events: list[bytes] = []
    second = 0
    while len(events) < count:
        second += 1
        documents = documents_from_objects(state.connection_documents(second))
        events += encoder.encode(1_767_225_600_000 + second * 1000, 1_000_000, documents)
    return events[:count]
