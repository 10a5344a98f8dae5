"""Bulk request bodies, host URLs and the GET / reading."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.es.bulk import ActionBuilder, ServerInfo, bulk_body, parse_version
from sorabeat.es.format import EventFormat
from sorabeat.es.hosts import parse_host_url
from sorabeat.es.output import agent_fields
from sorabeat.es.root import CredentialsError, RootError, read_root
from tests.es_support import AGENT, make_events, source_of

ES8 = ServerInfo((8, 15, 0))
INDEX = EventFormat("sorabeat-%{[agent.version]}-%{+yyyy.MM.dd}", agent_fields(AGENT))


def builder(server: ServerInfo = ES8, pipeline: str | None = None) -> ActionBuilder:
    pipe = EventFormat(pipeline, agent_fields(AGENT)) if pipeline else None
    return ActionBuilder(INDEX, pipe, server)


def one(b: ActionBuilder, event: bytes) -> tuple[str, bytes, bytes]:
    batch, rejected = b.prepare_all([event])
    assert not rejected, rejected
    return batch.ops[0], batch.actions[0], batch.sources[0]


def lines(body: bytes) -> list[dict[str, object]]:
    assert body.endswith(b"\n")
    return [orjson.loads(line) for line in body[:-1].split(b"\n")]


def test_body_pairs_actions_and_sources_without_metadata() -> None:
    events = make_events(3)
    b = builder()
    prepared, _ = b.prepare_all(events)
    parsed = lines(bulk_body(prepared, [0, 2]))
    assert parsed[0] == {"create": {"_index": "sorabeat-0.1.0-2026.01.02"}}
    assert parsed[1] == source_of(events[0])
    assert "@metadata" not in parsed[1]
    assert parsed[3] == source_of(events[2])
    assert len(parsed) == 4


def test_document_id_from_metadata_forces_create() -> None:
    event = make_events(1, document_ids=True)[0]
    doc_id = orjson.loads(event)["@metadata"]["_id"]
    for server in (ES8, ServerInfo((7, 4, 0)), ServerInfo((6, 8, 0))):
        action = orjson.loads(one(builder(server), event)[1])
        assert action["create"]["_id"] == doc_id
    assert one(builder(ES8), event)[0] == "create"


@pytest.mark.parametrize(
    ("server", "action"),
    [
        (ServerInfo((8, 15, 0)), {"create": {"_index": "sorabeat-0.1.0-2026.01.02"}}),
        (ServerInfo((7, 5, 0)), {"create": {"_index": "sorabeat-0.1.0-2026.01.02"}}),
        (ServerInfo((7, 4, 2)), {"index": {"_index": "sorabeat-0.1.0-2026.01.02"}}),
        (
            ServerInfo((6, 8, 0)),
            {"index": {"_index": "sorabeat-0.1.0-2026.01.02", "_type": "doc"}},
        ),
        (ServerInfo((3, 8, 0), "opensearch"), {"create": {"_index": "sorabeat-0.1.0-2026.01.02"}}),
    ],
)
def test_op_type_by_version(server: ServerInfo, action: dict[str, object]) -> None:
    _op, line, _source = one(builder(server), make_events(1)[0])
    assert orjson.loads(line) == action


def test_pipeline_in_action_line() -> None:
    b = builder(pipeline="Sora-%{[sora.connections.channel_id]}")
    assert orjson.loads(one(b, make_events(1)[0])[1])["create"]["pipeline"] == "sora-sora"


def test_missing_index_field_is_reported() -> None:
    b = ActionBuilder(EventFormat("x-%{[sora.connections.nothing]}"), None, ES8)
    good = make_events(1, document={"nothing": "here"})[0]
    garbage = [b'{"hello":1}', b"", b'{"@timestamp":"2026-01-02T03:04:05.000Z","x":{}}']
    batch, rejected = b.prepare_all([make_events(1)[0], good, *garbage])
    assert rejected == [
        (0, "field 'sora.connections.nothing' is missing"),
        (2, "not an encoded event (no @timestamp/@metadata head)"),
        (3, "not an encoded event (no @timestamp/@metadata head)"),
        (4, "not an encoded event (no @timestamp/@metadata head)"),
    ]
    assert orjson.loads(batch.actions[1]) == {"create": {"_index": "x-here"}}


def test_dead_letter_rewrite() -> None:
    event = make_events(1)[0]
    b = builder()
    batch, _ = b.prepare_all([event])
    b.dead_letter(batch, 0, "dlq", 400, "document_parsing_exception: bad")
    assert orjson.loads(batch.actions[0]) == {"create": {"_index": "dlq"}}
    doc = orjson.loads(batch.sources[0])
    assert doc["@timestamp"] == "2026-01-02T03:04:05.000Z"
    assert orjson.loads(doc["message"]) == source_of(event)
    assert doc["error"] == {"type": 400, "message": "document_parsing_exception: bad"}


@given(st.lists(st.integers(0, 20), max_size=30))
def test_body_is_ndjson_of_selected_events(positions: list[int]) -> None:
    events = make_events(21)
    prepared, _ = builder().prepare_all(events)
    body = bulk_body(prepared, positions)
    assert body.count(b"\n") == 2 * len(positions)
    if positions:
        parsed = lines(body)
        assert [d["sora"]["connections"]["seq"] for d in parsed[1::2]] == positions


@pytest.mark.parametrize(
    ("text", "base", "user"),
    [
        ("localhost", "http://localhost:9200", None),
        ("es:9201", "http://es:9201", None),
        ("https://es", "https://es:9200", None),
        ("http://u:p%40ss@es:9200/prefix/", "http://es:9200/prefix", "u"),
        ("[::1]:9300", "http://[::1]:9300", None),
    ],
)
def test_hosts(text: str, base: str, user: str | None) -> None:
    url = parse_host_url(text)
    assert url.base == base
    assert url.username == user
    if user:
        assert url.password == "p@ss"
        assert "p@ss" not in str(url)


def test_host_protocol_and_path_options() -> None:
    assert parse_host_url("es", "https", "/proxy/").base == "https://es:9200/proxy"
    assert parse_host_url("es", "http", "proxy").base == "http://es:9200/proxy"
    for bad in ("", "ftp://es", "http://es:99999", "http://:9200"):
        with pytest.raises(ValueError, match=r"host|scheme|port"):
            parse_host_url(bad)


def root(version: str, **extra: object) -> bytes:
    return orjson.dumps(
        {"version": {"number": version, **extra}, "tagline": "You Know, for Search"}
    )


def test_read_root() -> None:
    product = {"X-Elastic-Product": "Elasticsearch"}
    server, warnings = read_root(200, product, root("8.15.0"))
    assert server.version == (8, 15, 0)
    assert not warnings
    server, warnings = read_root(200, {}, root("7.10.2"))  # before the header existed
    assert server.op_type == "create"
    server, warnings = read_root(200, product, root("3.8.0", distribution="opensearch"))
    assert server.distribution == "opensearch"
    assert "OpenSearch" in warnings[0]
    with pytest.raises(RootError, match="not Elasticsearch"):
        read_root(200, {}, root("8.15.0"))
    with pytest.raises(RootError, match="not Elasticsearch"):
        read_root(200, product, b"<html>nginx</html>")
    with pytest.raises(RootError, match=r"version\.number"):
        read_root(200, product, b'{"name":"x"}')
    with pytest.raises(CredentialsError, match="credentials refused"):
        read_root(401, {}, b'{"error":{"type":"security_exception","reason":"missing"}}')
    with pytest.raises(RootError, match="503"):
        read_root(503, {}, b"")


def test_parse_version() -> None:
    assert parse_version("8.15.0") == (8, 15, 0)
    assert parse_version("7.17.3-SNAPSHOT") == (7, 17, 3)
    assert parse_version("9") == (9, 0, 0)
    with pytest.raises(ValueError, match=r"not x\.y\.z"):
        parse_version("latest")


def test_action_cache_follows_the_day_and_the_ids() -> None:
    """The per-day action cache must not leak an _id or a day into other events."""
    b = builder()
    day1 = make_events(2)
    day2 = make_events(1, epoch_ms=1_767_323_045_000 + 86_400_000)
    with_id = make_events(1, document_ids=True)
    batch, _ = b.prepare_all([*day1, *with_id, *day2, *day1])
    indices = [orjson.loads(a)["create"]["_index"] for a in batch.actions]
    assert indices[:3] == ["sorabeat-0.1.0-2026.01.02"] * 3
    assert indices[3] == "sorabeat-0.1.0-2026.01.03"
    ids = ["_id" in orjson.loads(a)["create"] for a in batch.actions]
    assert ids == [False, False, True, False, False, False]


@given(st.integers(0, 20), st.integers(0, 21))
def test_runs_and_lists_give_the_same_body(start: int, stop: int) -> None:
    prepared, _ = builder().prepare_all(make_events(21))
    run = range(start, max(start, stop))
    if len(run):
        assert bulk_body(prepared, run) == bulk_body(prepared, list(run))
