"""Shared by the Elasticsearch tests: events built by the real envelope encoder, settings
with fast backoff, and a publish driver that checks the ack contract."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from sorabeat.es.output import ElasticsearchOutput
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.event import AgentInfo, EnvelopeSettings, MetricsetEncoder
from sorabeat.monitoring.registry import Registry
from sorabeat.outputs.backoff import BackoffSettings

AGENT = AgentInfo(
    name="sora01",
    hostname="sora01",
    id="6f0f6d9e-2b1f-4c1e-9f55-3d1e2c4b5a69",
    ephemeral_id="0c0a1f6e-6f57-4d2c-8c7b-0f6a1d2e3b4c",
    version="0.1.0",
)
EPOCH_MS = 1_767_323_045_000  # 2026-01-02T03:04:05Z


def make_events(
    count: int,
    *,
    document_ids: bool = False,
    epoch_ms: int = EPOCH_MS,
    start: int = 0,
    document: dict[str, Any] | None = None,
    metricset: str = "connections",
    event_format: str = "8",
) -> list[bytes]:
    """``count`` connections events with ``sora.connections.seq`` = start, start+1, ..."""
    encoder = MetricsetEncoder(
        EnvelopeSettings(agent=AGENT, document_ids=document_ids, format=event_format),  # type: ignore[arg-type]
        metricset=metricset,
        period_s=10,
        address="127.0.0.1:3000",
    )
    docs = []
    for seq in range(start, start + count):
        body = {"seq": seq, "channel_id": "sora", "connection_id": f"C{seq:08d}"}
        body.update(document or {})
        docs.append((f"C{seq:08d}", body))
    return encoder.encode_objects(epoch_ms, 1000, docs)


def es_settings(url: str | Sequence[str], **overrides: Any) -> ElasticsearchSettings:
    hosts = [url] if isinstance(url, str) else list(url)
    values: dict[str, Any] = {
        "hosts": hosts,
        "backoff": BackoffSettings(init=0.01, max=0.05),
        "timeout": 5.0,
    }
    values.update(overrides)
    return ElasticsearchSettings(**values)


class AckRecorder:
    """Checks that acks only grow and never pass the batch size."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: list[int] = []

    def __call__(self, n: int) -> None:
        assert 0 < n <= self.size, f"ack({n}) outside 1..{self.size}"
        assert not self.values or n > self.values[-1], f"ack went {self.values[-1]} -> {n}"
        self.values.append(n)

    @property
    def acked(self) -> int:
        return self.values[-1] if self.values else 0


async def publish_all(
    output: ElasticsearchOutput, events: Sequence[bytes], deadline: float = 60.0
) -> None:
    """Publish in batches of ``output.batch_size`` with up to ``max_in_flight`` at once, as the
    pipeline does, and check every batch ends fully acknowledged."""
    slots = asyncio.Semaphore(output.max_in_flight)
    recorders: list[AckRecorder] = []

    async def one(batch: Sequence[bytes]) -> None:
        async with slots:
            recorder = AckRecorder(len(batch))
            recorders.append(recorder)
            await output.publish(batch, recorder)
            assert recorder.acked == len(batch)

    size = output.batch_size
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    async with asyncio.timeout(deadline):
        await asyncio.gather(*(one(b) for b in batches))


def seqs(documents: Sequence[dict[str, Any]]) -> list[int]:
    return sorted(d["sora"]["connections"]["seq"] for d in documents)


def source_of(event: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(event)
    doc.pop("@metadata")
    return doc


def new_output(
    settings: ElasticsearchSettings, metrics: Registry | None = None
) -> ElasticsearchOutput:
    return ElasticsearchOutput(settings, AGENT, metrics or Registry())
