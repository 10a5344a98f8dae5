"""Per-event routing: @metadata._index/pipeline, indices/pipelines rules, the data stream
default, the bulk action, and a default path that never decodes an event."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.config.load import LoadOptions
from sorabeat.config.schema import Validator
from sorabeat.es import bulk
from sorabeat.es.bulk import ActionBuilder, ServerInfo
from sorabeat.es.output import ElasticsearchOutput, agent_fields
from sorabeat.es.routing import Routes
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.monitoring.registry import Registry
from sorabeat.pipeline.assemble import build_output
from sorabeat.pipeline.settings import load_settings
from tests.es_support import AGENT, make_events

ES8 = ServerInfo((8, 15, 0))
ES78 = ServerInfo((7, 8, 0))
OPENSEARCH = ServerInfo((2, 11, 0), distribution="opensearch")
DAILY = "sorabeat-0.1.0-2026.01.02"


def builder(server: ServerInfo = ES8, data_streams: bool = False, **raw: Any) -> ActionBuilder:
    validator = Validator()
    settings = validator.build(ElasticsearchSettings, {"hosts": ["es"], **raw})
    assert not validator.problems, validator.problems
    return Routes(settings, agent_fields(AGENT), data_streams).builder(server)


def with_metadata(event: bytes, **extra: str) -> bytes:
    """The event with more @metadata keys, as a processor or the input would add them."""
    head, _, rest = event.partition(b'"@metadata":{')
    keys = b"".join(orjson.dumps(k) + b":" + orjson.dumps(v) + b"," for k, v in extra.items())
    return head + b'"@metadata":{' + keys + rest


def actions(b: ActionBuilder, events: list[bytes]) -> list[dict[str, Any]]:
    batch, rejected = b.prepare_all(events)
    assert not rejected, rejected
    return [orjson.loads(a) for a in batch.actions]


def connection(role: str, bytes_in: int = 0, seq: int = 0) -> bytes:
    doc = {"role": role, "rtp": {"total_received_byte_size": bytes_in}}
    return make_events(1, document=doc, start=seq)[0]


def test_default_target_is_the_data_stream_only_where_it_exists() -> None:
    event = make_events(1)
    stream = {"create": {"_index": "sorabeat-0.1.0"}}
    daily = {"create": {"_index": DAILY}}
    assert actions(builder(ES8, data_streams=True), event) == [stream]
    assert actions(builder(ES8, data_streams=False), event) == [daily]
    assert actions(builder(ES78, data_streams=True), event) == [daily]  # no data streams
    assert actions(builder(OPENSEARCH, data_streams=True), event) == [daily]  # no ILM
    # an explicit index is used as it is, data streams or not
    explicit = builder(ES8, data_streams=True, index="mine-%{+yyyy}")
    assert actions(explicit, event) == [{"create": {"_index": "mine-2026"}}]
    assert not explicit.data_stream


def test_index_rules_first_match_then_index() -> None:
    b = builder(
        indices=[
            {"index": "sora-send", "when": {"equals": {"sora.connections.role": "sendonly"}}},
            {
                "index": "sora-big-%{[metricset.name]}",
                "when": {"range": {"sora.connections.rtp.total_received_byte_size.gte": 1000}},
            },
            {
                "index": "%{[sora.connections.role]}",
                "mappings": {"recvonly": "sora-recv"},
                "default": "sora-other",
                "when": {"has_fields": ["sora.connections.role"]},
            },
        ],
    )
    events = [
        connection("sendonly", 5000),
        connection("recvonly", 5000),
        connection("recvonly", 10),
        connection("sendrecv", 10),
        make_events(1, metricset="stats")[0],
    ]
    assert [a["create"]["_index"] for a in actions(b, events)] == [
        "sora-send",
        "sora-big-connections",
        "sora-recv",
        "sora-other",
        DAILY,
    ]


def test_a_mapping_without_the_key_or_default_falls_through() -> None:
    b = builder(indices=[{"index": "%{[sora.connections.role]}", "mappings": {"a": "x"}}])
    assert actions(b, [connection("b")]) == [{"create": {"_index": DAILY}}]


def test_pipeline_rules_then_pipeline() -> None:
    b = builder(
        pipeline="base",
        pipelines=[
            {"pipeline": "p-send", "when": {"contains": {"sora.connections.role": "send"}}},
            {"pipeline": "p-%{[metricset.name]}", "when": {"not": {"has_fields": ["tags"]}}},
        ],
    )
    tagged = make_events(1)[0].replace(b',"sora":', b',"tags":["t"],"sora":')
    got = actions(b, [connection("sendonly"), connection("recvonly"), tagged])
    assert [a["create"].get("pipeline") for a in got] == ["p-send", "p-connections", "base"]


def test_metadata_index_and_pipeline_win_over_rules() -> None:
    b = builder(
        pipeline="base",
        indices=[{"index": "by-rule"}],
        pipelines=[{"pipeline": "by-rule"}],
    )
    plain = make_events(1)[0]
    routed = with_metadata(plain, _index="from-meta", pipeline="meta-pipe")
    got = actions(b, [plain, routed, with_metadata(plain, _index="only-index")])
    assert got == [
        {"create": {"_index": "by-rule", "pipeline": "by-rule"}},
        {"create": {"_index": "from-meta", "pipeline": "meta-pipe"}},
        {"create": {"_index": "only-index", "pipeline": "by-rule"}},
    ]


def test_metadata_routing_without_rules_on_the_fast_path() -> None:
    b = builder()
    plain = make_events(2)
    routed = with_metadata(plain[1], _index="elsewhere")
    # the plain event first fills the per-timestamp cache; the routed one must not use it
    got = actions(b, [plain[0], routed, plain[1]])
    assert [a["create"]["_index"] for a in got] == [DAILY, "elsewhere", DAILY]


def test_op_type_index_honoured_except_on_the_data_stream() -> None:
    event = with_metadata(make_events(1)[0], op_type="index")
    assert actions(builder(ES8), [event]) == [{"index": {"_index": DAILY}}]
    assert actions(builder(ES8, data_streams=True), [event]) == [
        {"create": {"_index": "sorabeat-0.1.0"}}
    ]
    batch, _ = builder(ES8).prepare_all([event])
    assert batch.ops == ["index"]


def test_a_rule_needing_a_missing_field_rejects_only_that_event() -> None:
    b = builder(indices=[{"index": "x-%{[sora.connections.nope]}"}])
    _batch, rejected = b.prepare_all(make_events(2))
    assert [p for p, _ in rejected] == [0, 1]
    assert "sora.connections.nope" in rejected[0][1]


def counting_loads(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    calls = 0
    real = orjson.loads

    def loads(data: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(data)

    monkeypatch.setattr(bulk.orjson, "loads", loads)
    return lambda: calls


def test_default_path_never_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_loads(monkeypatch)
    for b in (builder(), builder(ES8, data_streams=True), builder(pipeline="p-%{+yyyy}")):
        b.prepare_all(make_events(50))
    assert calls() == 0


def test_rules_decode_each_event_once(monkeypatch: pytest.MonkeyPatch) -> None:
    b = builder(
        indices=[{"index": "a", "when": {"equals": {"sora.connections.role": "x"}}}],
        pipelines=[{"pipeline": "p", "when": {"equals": {"sora.connections.role": "y"}}}],
    )
    calls = counting_loads(monkeypatch)
    b.prepare_all(make_events(10))
    assert calls() == 20  # the source and its @metadata, once per event


README_RULES = """\
output.elasticsearch:
  hosts: ["es:9200"]
  indices:
    - index: "sorabeat-sendonly-%{[agent.version]}"
      when.equals: {sora.connections.role: sendonly}
    - index: "sorabeat-heavy-%{+yyyy.MM}"
      when.range: {sora.connections.rtp.total_received_byte_size.gte: 1000000000}
  pipelines:
    - pipeline: geoip
      when.and: [{has_fields: ["sora.connections.remote_ip"]}, {not: {equals: {metricset.name: stats}}}]
"""


def test_the_readme_example_loads_and_routes(tmp_path: Path) -> None:
    """Dotted keys in YAML (``when.range: {a.b.gte: 1}``) reach the conditions expanded;
    they mean the same as written."""
    (tmp_path / "sorabeat.yml").write_text(README_RULES)
    (tmp_path / "sorabeat.yml").chmod(0o600)
    loaded = load_settings(LoadOptions(path_home=str(tmp_path), cwd=str(tmp_path), environ={}))
    es = loaded.settings.output.elasticsearch
    assert es is not None
    b = Routes(es, agent_fields(AGENT), True).builder(ES8)
    remote = make_events(1, document={"role": "recvonly", "remote_ip": "192.0.2.1"})[0]
    got = actions(b, [connection("sendonly"), connection("x", 2_000_000_000), remote])
    assert got == [
        {"create": {"_index": "sorabeat-sendonly-0.1.0"}},
        {"create": {"_index": "sorabeat-heavy-2026.01"}},
        {"create": {"_index": "sorabeat-0.1.0", "pipeline": "geoip"}},
    ]


@pytest.mark.parametrize(("ilm", "expected"), [("true", "sorabeat-0.1.0"), ("false", DAILY)])
def test_run_follows_setup_ilm_enabled(tmp_path: Path, ilm: str, expected: str) -> None:
    """The output `sorabeat run` builds writes where `sorabeat setup` prepared."""
    (tmp_path / "sorabeat.yml").write_text(
        f'output.elasticsearch.hosts: ["es"]\nsetup.ilm.enabled: {ilm}\n'
    )
    (tmp_path / "sorabeat.yml").chmod(0o600)
    loaded = load_settings(LoadOptions(path_home=str(tmp_path), cwd=str(tmp_path), environ={}))
    output = build_output(loaded, AGENT, Registry())
    assert isinstance(output, ElasticsearchOutput)
    assert actions(output.routes.builder(ES8), make_events(1)) == [{"create": {"_index": expected}}]


ROUTING_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "_index": st.sampled_from(["a", "b-x"]),
        "pipeline": st.sampled_from(["p", "q"]),
        "op_type": st.sampled_from(["index", "create"]),
        "_id": st.sampled_from(["id1", "id2"]),
    },
)


@given(
    st.lists(st.tuples(st.integers(0, 3), ROUTING_EXTRAS), min_size=1, max_size=12),
    st.booleans(),
)
def test_fast_path_routes_like_the_full_path(
    plan: list[tuple[int, dict[str, str]]], data_streams: bool
) -> None:
    """The per-timestamp cache of the default path never hides an event's own routing: any
    mix of plain and routed events, in any order, gets the actions the full path (forced by
    a rule that never matches) gives."""
    base = make_events(4, epoch_ms=1_767_323_045_000)
    events = [with_metadata(base[i], **extra) if extra else base[i] for i, extra in plan]
    never = [{"index": "never", "when": {"has_fields": ["nope"]}}]
    fast = builder(ES8, data_streams=data_streams).prepare_all(events)[0]
    full = builder(ES8, data_streams=data_streams, indices=never).prepare_all(events)[0]
    assert fast.actions == full.actions
    assert fast.ops == full.ops
