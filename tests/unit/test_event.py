"""The metricbeat envelope in both formats, and the encoded-event contract."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.event import (
    AgentInfo,
    EnvelopeSettings,
    MetricsetEncoder,
    event_timestamp,
    format_timestamp,
    split_metadata,
)

AGENT = AgentInfo(name="sora01", hostname="host01", id="aid", ephemeral_id="eid", version="0.1.0")


def encoder(**kw: Any) -> MetricsetEncoder:
    settings = EnvelopeSettings(
        agent=AGENT,
        **{
            k: v
            for k, v in kw.items()
            if k
            in {
                "format",
                "beat",
                "metadata_version",
                "fields",
                "fields_under_root",
                "tags",
                "document_ids",
            }
        },
    )
    return MetricsetEncoder(
        settings,
        metricset=kw.get("metricset", "stats"),
        period_s=10,
        address="127.0.0.1:3000",
        fields=kw.get("module_fields"),
        tags=kw.get("module_tags", ()),
    )


TS = 1767366245123  # 2026-01-02T15:04:05.123Z


def test_format_timestamp_is_utc_with_milliseconds() -> None:
    assert format_timestamp(TS) == "2026-01-02T15:04:05.123Z"
    assert format_timestamp(TS - 123) == "2026-01-02T15:04:05.000Z"


def test_metricbeat8_shape() -> None:
    (event,) = encoder().encode_objects(TS, 2_500_000, [("", {"total_ongoing_connections": 3})])
    doc = orjson.loads(event)
    assert list(doc)[:2] == ["@timestamp", "@metadata"]
    assert doc["@timestamp"] == "2026-01-02T15:04:05.123Z"
    assert doc["@metadata"] == {"beat": "sorabeat", "type": "_doc", "version": "0.1.0"}
    assert doc["agent"] == {
        "type": "sorabeat",
        "version": "0.1.0",
        "name": "sora01",
        "hostname": "host01",
        "id": "aid",
        "ephemeral_id": "eid",
    }
    assert doc["ecs"] == {"version": "8.0.0"}
    assert doc["host"] == {"name": "sora01"}
    assert doc["event"] == {"module": "sora", "dataset": "sora.stats", "duration": 2_500_000}
    assert doc["metricset"] == {"name": "stats", "period": 10000}
    assert doc["service"] == {"type": "sora", "address": "127.0.0.1:3000"}
    assert doc["sora"] == {"stats": {"total_ongoing_connections": 3}}
    assert "message" not in doc and "tags" not in doc and "fields" not in doc


def test_beats6_shape_of_the_original() -> None:
    enc = encoder(format="6", metadata_version="6.0.0", metricset="connections")
    (event,) = enc.encode_objects(TS, 3_310_000, [("c", {"channel_id": "sora"})])
    doc = orjson.loads(event)
    assert doc["@metadata"] == {"beat": "sorabeat", "type": "doc", "version": "6.0.0"}
    assert doc["beat"] == {"name": "sora01", "hostname": "host01", "version": "6.0.0"}
    assert doc["metricset"] == {
        "module": "sora",
        "name": "connections",
        "host": "127.0.0.1:3000",
        "rtt": 3310,
    }
    assert doc["sora"] == {"connections": {"channel_id": "sora"}}
    assert "agent" not in doc and "event" not in doc and "service" not in doc


def test_pinned_version_and_index_name() -> None:
    (event,) = encoder(beat="metricbeat", metadata_version="8.15.0").encode_objects(
        TS, 1, [("", {})]
    )
    doc = orjson.loads(event)
    assert doc["@metadata"]["beat"] == "metricbeat"
    assert doc["@metadata"]["version"] == "8.15.0"
    assert doc["agent"]["version"] == "0.1.0"  # the agent tells the truth about itself


def test_fields_and_tags() -> None:
    enc = encoder(
        fields={"env": "prod"}, tags=("a",), module_fields={"node": "n1"}, module_tags=("b", "a")
    )
    doc = orjson.loads(enc.encode_objects(TS, 1, [("", {})])[0])
    assert doc["fields"] == {"env": "prod", "node": "n1"}
    assert doc["tags"] == ["a", "b"]
    under = encoder(fields={"env": "prod", "sora": "clobber"}, fields_under_root=True)
    doc = orjson.loads(under.encode_objects(TS, 1, [("", {"x": 1})])[0])
    assert doc["env"] == "prod" and "fields" not in doc
    assert doc["sora"] == {"stats": {"x": 1}}  # reserved keys are not overwritten


def test_error_event() -> None:
    event = encoder(metricset="connections").encode_error(TS, 5, "HTTP 500 from x")
    doc = orjson.loads(event)
    assert doc["error"] == {"message": "HTTP 500 from x"}
    assert doc["event"]["dataset"] == "sora.connections"
    assert "sora" not in doc
    doc6 = orjson.loads(encoder(format="6", metricset="stats").encode_error(TS, 5, "boom"))
    assert doc6["sora"] == {"stats": {}} and doc6["error"]["message"] == "boom"


def test_document_ids_are_deterministic_and_distinct() -> None:
    enc = encoder(document_ids=True, metricset="connections")
    docs = [("c1", {"a": 1}), ("c2", {"a": 1})]
    first = [orjson.loads(e)["@metadata"]["_id"] for e in enc.encode_objects(TS, 1, docs)]
    again = [orjson.loads(e)["@metadata"]["_id"] for e in enc.encode_objects(TS, 99, docs)]
    later = [orjson.loads(e)["@metadata"]["_id"] for e in enc.encode_objects(TS + 10_000, 1, docs)]
    assert first == again
    assert len(set(first)) == 2
    assert set(first).isdisjoint(later)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.integers(0, 4102444800000),
    st.dictionaries(st.text(), json_values, max_size=6),
    st.sampled_from(["8", "6"]),
    st.booleans(),
)
def test_contract_timestamp_and_metadata_are_readable_without_parsing(
    epoch_ms: int, document: dict[str, Any], fmt: str, ids: bool
) -> None:
    (event,) = encoder(format=fmt, document_ids=ids).encode_objects(epoch_ms, 1, [("k", document)])
    doc = orjson.loads(event)
    assert event_timestamp(event) == doc["@timestamp"] == format_timestamp(epoch_ms)
    meta, rest = split_metadata(event)
    assert orjson.loads(meta) == doc["@metadata"]
    without = orjson.loads(rest)
    assert "@metadata" not in without
    assert without == {k: v for k, v in doc.items() if k != "@metadata"}
    assert without["sora"]["stats"] == document


@pytest.mark.parametrize("fmt", ["8", "6"])
def test_many_documents_share_one_envelope(fmt: str) -> None:
    enc = encoder(format=fmt, metricset="connections")
    events = enc.encode_objects(TS, 7, [(str(i), {"i": i}) for i in range(50)])
    docs = [orjson.loads(e) for e in events]
    assert [d["sora"]["connections"]["i"] for d in docs] == list(range(50))
    assert len({d["@timestamp"] for d in docs}) == 1
