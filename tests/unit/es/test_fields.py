"""fields.yml: its structure, its coverage of every field the events carry (every Sora
generation, both envelopes), and the template generated from it."""

from __future__ import annotations

import datetime
from importlib import resources
from typing import Any

import orjson
import pytest
import yaml

from sorabeat.config import yamlbounds
from sorabeat.es.bulk import ServerInfo
from sorabeat.es.fields import Field, FieldsError, leaves, load_fields, parse_fields
from sorabeat.es.template import build_template
from tests.sora_samples import sample_events

FIELDS = dict(leaves(load_fields()))


def document_leaves(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every scalar; list members share their path."""
    out: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += document_leaves(value, f"{prefix}{key}.")
    elif isinstance(doc, list):
        for member in doc:
            out += document_leaves(member, prefix)
    else:
        out.append((prefix[:-1], doc))
    return out


def fits(f: Field, value: Any) -> bool:
    if f.type in ("long",):
        return isinstance(value, int) and not isinstance(value, bool)
    if f.type in ("double", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if f.type == "date":
        return isinstance(value, str) and bool(
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    if f.type in ("keyword", "text"):
        return isinstance(value, str)
    return True


def test_every_field_of_every_sample_event_is_declared_with_a_fitting_type() -> None:
    events = sample_events()
    assert len(events) > 10
    seen: set[str] = set()
    for event in events:
        doc = orjson.loads(event)
        doc.pop("@metadata")
        for path, value in document_leaves(doc):
            if path.startswith("fields."):  # user fields: the dynamic template maps them
                continue
            declared = FIELDS.get(path)
            assert declared is not None, f"{path} is not in fields.yml"
            assert fits(declared, value), f"{path}={value!r} does not fit {declared.type}"
            seen.add(path)
    # the samples exercise each generation's own fields
    for path in (
        "sora.stats.browser.total_failed_browser_type.chrome",
        "sora.stats.cluster_relay.plumtree.total_ignored",
        "sora.stats.erlang_vm.statistics.active_tasks_all_stddev",
        "sora.connections.rtp.total_received_bytes",
        "sora.connections.rtp.total_received_rtcp_byte_size",
        "sora.connections.simulcast.r0.rtp_hdrext.total_received_rtp_hdrext_abs_send_time",
        "sora.connections.rates.interval_seconds",
        "sora.connections.rates.received_bits_per_second",
        "sora.connections.rates.sent_firs_per_second",
        "sora.channels.rates.sent_bits_per_second",
        "sora.channels.max.received_nacks_per_second",
        "sora.channels.max.unstable_level",
        "sora.channels.rated_connections",
        "beat.version",
        "metricset.rtt",
        "agent.ephemeral_id",
        "error.message",
    ):
        assert path in seen, path


@pytest.mark.parametrize(
    ("path", "type_", "metric", "fmt"),
    [
        ("sora.stats.erlang_vm.statistics.active_tasks_mean", "double", "gauge", None),
        (
            "sora.stats.erlang_vm.statistics.run_queue_lengths_all_imbalance",
            "double",
            "gauge",
            None,
        ),
        ("sora.stats.total_ongoing_connections", "long", "gauge", None),
        ("sora.stats.total_successful_connections", "long", "counter", None),
        ("sora.stats.erlang_vm.memory.total", "long", "gauge", "bytes"),
        ("sora.stats.total_sent_srtp_byte_size", "long", "counter", "bytes"),
        ("sora.connections.rtp.total_sent_byte_size", "long", "counter", "bytes"),
        ("sora.connections.connection_id", "keyword", None, None),
        ("sora.connections.timestamp", "date", None, None),
        ("sora.stats.cluster.raft_state", "keyword", None, None),
        ("@timestamp", "date", None, None),
    ],
)
def test_field_kinds(path: str, type_: str, metric: str | None, fmt: str | None) -> None:
    f = FIELDS[path]
    assert (f.type, f.metric_type, f.format) == (type_, metric, fmt)


def test_catalog_covers_every_generation() -> None:
    for r in ("r0", "r1", "r2"):
        assert f"sora.connections.simulcast.{r}.rtp.total_received_rtp_rtx" in FIELDS
    for ext in ("video_timeing", "video_composition_time"):
        assert (
            f"sora.connections.simulcast.r2.rtp_hdr_ext.total_received_rtp_hdr_ext_{ext}" in FIELDS
        )
    assert len([p for p in FIELDS if p.startswith("sora.connections.turn.")]) == 25
    assert len([p for p in FIELDS if p.startswith("sora.connections.rtp.")]) == 42
    aggregates = [
        p
        for p in FIELDS
        if p.startswith("sora.stats.erlang_vm.statistics.")
        and p.rsplit("_", 1)[-1] in ("max", "min", "mean", "stddev", "imbalance")
    ]
    assert len(aggregates) == 20
    assert all(FIELDS[p].type == "double" for p in aggregates)
    assert all(f.description for f in FIELDS.values())


def _broken(field: dict[str, Any]) -> str:
    return yaml.safe_dump([{"key": "k", "title": "t", "description": "d", "fields": [field]}])


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "a", "type": "long", "description": "x"}, "needs metric_type"),
        ({"name": "a", "type": "strng", "description": "x"}, "type must be one of"),
        ({"name": "a", "type": "keyword"}, "description is needed"),
        ({"name": "a.b", "type": "keyword", "description": "x"}, "without dots"),
        ({"name": "a", "type": "group", "description": "x"}, "non-empty fields"),
        ({"name": "a", "type": "keyword", "description": "x", "fields": []}, "only a group"),
        (
            {"name": "a", "type": "keyword", "description": "x", "metric_type": "gauge"},
            "on a number",
        ),
        (
            {"name": "a", "type": "long", "description": "x", "metric_type": "rate"},
            "counter or gauge",
        ),
        (
            {
                "name": "a",
                "type": "long",
                "description": "x",
                "metric_type": "gauge",
                "format": "kb",
            },
            "format",
        ),
        ({"name": "a", "type": "keyword", "description": "x", "typo": 1}, "unknown keys"),
        (
            {
                "name": "g",
                "type": "group",
                "description": "x",
                "fields": [
                    {"name": "a", "type": "keyword", "description": "x"},
                    {"name": "a", "type": "keyword", "description": "y"},
                ],
            },
            "duplicate fields",
        ),
    ],
)
def test_structure_errors_name_the_field(field: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldsError, match=message) as info:
        load_fields(_broken(field))
    assert str(info.value).startswith(("a", "'a.b'", "g"))


def test_top_level_errors() -> None:
    for bad in ("{}", "[]", "- 1", "[: bad yaml"):
        with pytest.raises(FieldsError):
            load_fields(bad)
    with pytest.raises(FieldsError, match="declared twice"):
        parse_fields(
            [
                {"key": "a", "fields": [{"name": "x", "type": "keyword", "description": "d"}]},
                {"key": "b", "fields": [{"name": "x", "type": "keyword", "description": "d"}]},
            ]
        )


def test_template_shape() -> None:
    t = build_template(
        load_fields(),
        pattern="sorabeat-0.1.0-*",
        version="0.1.0",
        user_settings={
            "index.number_of_shards": 1,
            "index": {"codec": "best_compression"},
            "_source": {"enabled": True},
        },
    )
    assert t["index_patterns"] == ["sorabeat-0.1.0-*"]
    assert t["priority"] == 150
    settings = t["template"]["settings"]["index"]
    assert settings["mapping"]["total_fields"]["limit"] == 10000
    assert settings["number_of_shards"] == 1
    assert settings["codec"] == "best_compression"
    mappings = t["template"]["mappings"]
    assert mappings["date_detection"] is False
    assert mappings["_source"] == {"enabled": True}
    assert mappings["_meta"] == {"beat": "sorabeat", "version": "0.1.0"}
    (dynamic,) = mappings["dynamic_templates"]
    assert dynamic["strings_as_keyword"]["mapping"]["type"] == "keyword"
    stats = mappings["properties"]["sora"]["properties"]["stats"]["properties"]
    vm = stats["erlang_vm"]["properties"]["statistics"]["properties"]
    assert vm["active_tasks_stddev"] == {"type": "double"}
    assert stats["total_ongoing_connections"] == {"type": "long"}
    assert mappings["properties"]["agent"]["properties"]["id"]["type"] == "keyword"
    # both envelopes in one template: beat.* and agent.* side by side
    assert "beat" in mappings["properties"]
    assert "agent" in mappings["properties"]


def test_legacy_templates_for_old_clusters() -> None:
    t7 = build_template(load_fields(), pattern="p-*", version="1", server=ServerInfo((7, 7, 0)))
    assert t7["order"] == 1
    assert "properties" in t7["mappings"]
    t6 = build_template(load_fields(), pattern="p-*", version="1", server=ServerInfo((6, 8, 0)))
    assert "properties" in t6["mappings"]["doc"]
    opensearch = ServerInfo((2, 11, 0), "opensearch")
    assert "template" in build_template(load_fields(), pattern="p", version="1", server=opensearch)


def test_the_packaged_file_is_read_once_and_as_the_bounded_loader_reads_it() -> None:
    text = resources.files("sorabeat").joinpath("fields.yml").read_text("utf-8")
    assert load_fields() == parse_fields(yamlbounds.safe_load(text))
    first, second = load_fields(), load_fields()
    assert first[0] is second[0]  # read once: frozen sets, shared
    first.clear()  # each caller gets its own list
    assert load_fields() == second
