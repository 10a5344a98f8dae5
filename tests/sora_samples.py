"""Sample events of every Sora generation, encoded by the real envelope code.

The one place the field tests get their events from: the reference's sample responses
(tests/fixtures/sora_samples.json) and the Sora simulator's documents for every profile.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sorabeat.event import EnvelopeSettings, MetricsetEncoder
from sorabeat.simulator import SoraSimulator
from sorabeat.sora.connections import Document, documents_from_objects
from sorabeat.sora.derived import Derivation
from sorabeat.sora.stats import add_aggregates
from tests.es_support import AGENT, EPOCH_MS

FIXTURE = Path(__file__).parent / "fixtures" / "sora_samples.json"


def sora_responses() -> dict[str, Any]:
    """The reference's samples, and what the simulator answers, per metricset and profile."""
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    for profile in ("2017", "2018", "current"):
        simulator = SoraSimulator(profile, 3, seed=1, churn=0)
        data["stats"][f"simulator-{profile}"] = simulator.stats_document()
        data["connections"][f"simulator-{profile}"] = simulator.connection_documents()
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
                    events += encoder.encode_objects(EPOCH_MS, 2_140_000, [("", doc)])
                else:
                    documents = documents_from_objects(doc)
                    assert documents, profile
                    events += encoder.encode(EPOCH_MS, 2_140_000, documents)
            events.append(encoder.encode_error(EPOCH_MS, 1000, "connection refused"))
        channels = MetricsetEncoder(
            envelope, metricset="channels", period_s=10, address="127.0.0.1:3000"
        )
        connections = MetricsetEncoder(
            envelope, metricset="connections", period_s=10, address="127.0.0.1:3000"
        )
        for profile in ("2017", "2018", "current"):
            rated, summaries = second_poll(profile)
            events += connections.encode(EPOCH_MS, 2_140_000, rated)
            events += channels.encode(EPOCH_MS, 2_140_000, summaries)
        events.append(channels.encode_error(EPOCH_MS, 1000, "connection refused"))
    return events


class _Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def second_poll(profile: str) -> tuple[list[Document], list[Document]]:
    """The connection documents (with rates) and channel summaries of a second poll of the
    simulator, 10 s after the first."""
    clock = _Clock()
    simulator = SoraSimulator(profile, 6, seed=1, churn=0, clock=clock, epoch=1.7e9)
    derivation = Derivation("sim", rates_in_events=True, channels=True)
    for poll in (1, 2):
        derived = derivation.begin(poll * 10_000_000)
        documents = documents_from_objects(simulator.connection_documents(), derive=derived)
        derivation.commit(derived)
        clock.t += 10
    return documents, derived.channel_documents()
