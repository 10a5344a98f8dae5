"""Sample events of every Sora generation, encoded by the real envelope code.

The one place the field tests get their events from. They come from the reference's sample
responses (tests/fixtures/sora_samples.json). To test against the Sora simulator instead,
make ``sample_events`` return the simulator's encoded events; nothing else changes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sorabeat.event import EnvelopeSettings, MetricsetEncoder
from sorabeat.sora.connections import add_channel_client_id, identity
from sorabeat.sora.stats import add_aggregates
from tests.es_support import AGENT, EPOCH_MS

FIXTURE = Path(__file__).parent / "fixtures" / "sora_samples.json"


def sora_responses() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def sample_events(document_ids: bool = False) -> list[bytes]:
    """Stats and connections events of each profile, in both event formats, plus error
    events, as the input would encode them."""
    responses = sora_responses()
    events: list[bytes] = []
    for event_format in ("8", "6"):
        envelope = EnvelopeSettings(
            agent=AGENT,
            format=event_format,  # type: ignore[arg-type]
            document_ids=document_ids,
            tags=("sora",),
            fields={"env": "test"},
        )
        for metricset in ("stats", "connections"):
            encoder = MetricsetEncoder(
                envelope, metricset=metricset, period_s=10, address="127.0.0.1:3000"
            )
            for profile, response in responses[metricset].items():
                doc = copy.deepcopy(response)
                if metricset == "stats":
                    add_aggregates(doc)
                    documents = [("", doc)]
                else:
                    add_channel_client_id(doc)
                    documents = [(identity(c), c) for c in doc]
                assert documents, profile
                events += encoder.encode(EPOCH_MS, 2_140_000, documents)
            events.append(encoder.encode_error(EPOCH_MS, 1000, "connection refused"))
    return events
