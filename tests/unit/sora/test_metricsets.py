"""The metricset interface (sorabeat.sora.metricset) and its implementations, sans-IO: which
calls a module's metricsets need, and how a response fed in chunks becomes documents."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.sora.all_connections import AllConnections
from sorabeat.sora.catalog import metricsets_for
from sorabeat.sora.metricset import Metricset, NotJSONError, Reading, ResponseError
from sorabeat.sora.stats import StatsReport


def read(metricset: Metricset, body: bytes, poll_us: int = 0, chunk: int = 7) -> Reading:
    reader = metricset.reader(poll_us)
    for i in range(0, len(body), chunk):
        reader.feed(body[i : i + chunk])
    assert reader.size == len(body)
    return reader.finish()


def decoded(reading: Reading, name: str) -> list[dict[str, Any]]:
    return [orjson.loads(b"".join(bytes(p) for p in parts)) for _, parts in reading.documents[name]]


def connection(cid: str, channel: str, received: int, second: int) -> dict[str, Any]:
    return {
        "connection_id": cid,
        "channel_id": channel,
        "client_id": f"client-{cid}",
        "timestamp": f"2026-12-04T00:00:{second:02d}.000000Z",
        "rtp": {"total_received_byte_size": received, "total_sent_byte_size": 0},
    }


@pytest.mark.parametrize(
    ("names", "calls"),
    [
        (["stats"], [("stats", ("stats",))]),
        (["connections"], [("connections", ("connections",))]),
        (["channels"], [("channels", ("channels",))]),
        (
            ["stats", "connections", "channels"],
            [("stats", ("stats",)), ("connections", ("connections", "channels"))],
        ),
        (
            ["channels", "stats", "connections"],
            [("stats", ("stats",)), ("connections", ("connections", "channels"))],
        ),
        (["stats", "stats"], [("stats", ("stats",))]),
    ],
)
def test_one_call_per_response_and_connections_channels_share_one(
    names: list[str], calls: list[tuple[str, tuple[str, ...]]]
) -> None:
    got = metricsets_for(names, "sora:3000")
    assert [(m.name, m.emits) for m in got] == calls
    targets = {m.name: m.target for m in got}
    assert targets.get("stats", "Sora_20171010.GetStatsReport") == "Sora_20171010.GetStatsReport"
    for name in ("connections", "channels"):
        assert targets.get(name, "Sora_20171101.GetStatsAllConnections") == (
            "Sora_20171101.GetStatsAllConnections"
        )


def test_an_unknown_metricset_is_named() -> None:
    with pytest.raises(ValueError, match="unknown metricset 'sessions'"):
        metricsets_for(["stats", "sessions"], "sora:3000")


@settings(deadline=None)  # the first example loads fields.yml
@given(st.integers(min_value=1, max_value=64))
def test_stats_report_in_any_chunking(chunk: int) -> None:
    body = orjson.dumps(
        {
            "total_ongoing_connections": 3,
            "erlang_vm": {"statistics": {"run_queue_lengths": [1, 3, "x"]}},
        }
    )
    reading = read(StatsReport(), body, chunk=chunk)
    (doc,) = decoded(reading, "stats")
    assert doc["total_ongoing_connections"] == 3
    statistics = doc["erlang_vm"]["statistics"]
    assert (statistics["run_queue_lengths_max"], statistics["run_queue_lengths_min"]) == (3, 1)
    assert reading.skipped == 1
    # the list itself does not fit fields.yml's long: left out of the event, reported
    assert "run_queue_lengths" not in statistics
    assert [i.path for i in reading.invalid] == ["erlang_vm.statistics.run_queue_lengths"]


def test_stats_report_leaves_out_and_reports_a_value_of_the_wrong_type() -> None:
    reading = read(StatsReport(), b'{"total_ongoing_connections": "many", "x": 1}')
    (doc,) = decoded(reading, "stats")
    assert "total_ongoing_connections" not in doc
    assert doc["invalid_fields"] == ["total_ongoing_connections"]
    assert [(i.path, i.found, i.expected) for i in reading.invalid] == [
        ("total_ongoing_connections", "a string", "long")
    ]


def test_stats_report_that_is_not_json_or_not_an_object() -> None:
    with pytest.raises(NotJSONError) as caught:
        read(StatsReport(), b"<html>bad gateway</html>")
    assert caught.value.head == b"<html>bad gateway</html>"
    with pytest.raises(ResponseError, match=r"GetStatsReport must be a JSON object, got an array"):
        read(StatsReport(), b"[1, 2]")


def test_connections_rates_come_on_the_second_poll_and_a_failed_poll_is_not_kept() -> None:
    metricset = AllConnections("sora:3000", connections=True, channels=True)
    first = orjson.dumps([connection("a", "room", 1000, 0)])
    reading = read(metricset, first, poll_us=0)
    (doc,) = decoded(reading, "connections")
    assert "rates" not in doc
    assert doc["channel_client_id"] == "room/client-a"
    (room,) = decoded(reading, "channels")
    assert (room["channel_id"], room["connections"]) == ("room", 1)

    # a response cut short: nothing of it may become the base of the next rates
    broken = orjson.dumps([connection("a", "room", 999_999, 5)])[:-1]
    with pytest.raises(NotJSONError):
        read(metricset, broken, poll_us=5_000_000)

    second = orjson.dumps([connection("a", "room", 2000, 10)])
    reading = read(metricset, second, poll_us=10_000_000)
    (doc,) = decoded(reading, "connections")
    assert doc["rates"]["received_bits_per_second"] == 1000 * 8 / 10
    assert doc["rates"]["interval_seconds"] == 10.0
    (room,) = decoded(reading, "channels")
    assert room["rates"]["received_bits_per_second"] == 800.0


def test_channels_alone_emit_no_connection_events() -> None:
    metricset = AllConnections("sora:3000", connections=False, channels=True)
    body = orjson.dumps([connection("a", "r1", 1, 0), connection("b", "r2", 1, 0)])
    reading = read(metricset, body)
    assert set(reading.documents) == {"channels"}
    assert sorted(d["channel_id"] for d in decoded(reading, "channels")) == ["r1", "r2"]


def test_connections_response_of_the_wrong_shape_is_named() -> None:
    metricset = AllConnections("sora:3000", connections=True, channels=False)
    with pytest.raises(ResponseError, match="GetStatsAllConnections must be a JSON array"):
        read(metricset, b'{"error": "no"}')
    with pytest.raises(ResponseError, match=r"element 1 is a number, not an object"):
        read(metricset, b'[{"connection_id": "a"}, 3]')


def test_all_connections_needs_one_of_its_metricsets() -> None:
    with pytest.raises(ValueError, match="connections or channels"):
        AllConnections("sora:3000", connections=False, channels=False)
