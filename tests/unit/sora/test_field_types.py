"""Sora values checked against fields.yml's types: well-typed documents pass byte for byte,
a value Elasticsearch would refuse is left out (only it), listed, and logged once."""

from __future__ import annotations

import copy
import logging
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.sora.connections import ConnectionsReader, Document
from sorabeat.sora.field_types import (
    INVALID_FIELDS,
    LONG_MAX,
    LONG_MIN,
    FieldTypes,
    Group,
    InvalidField,
    InvalidFieldLog,
    metricset_types,
    remove_invalid,
)
from sorabeat.sora.stats import add_aggregates
from tests.sora_samples import sora_responses

CONNECTIONS = metricset_types("connections")
STATS = metricset_types("stats")


def leaves(group: Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    for name, spec in group.items():
        if isinstance(spec, dict):
            out += leaves(spec, (*prefix, name))
        else:
            out.append(((*prefix, name), spec))
    return out


CONNECTION_LEAVES = leaves(CONNECTIONS.group)


def read(
    body: bytes, typed: bool = True, chunk: int = 7
) -> tuple[list[Document], ConnectionsReader]:
    reader = ConnectionsReader(CONNECTIONS if typed else None)
    for i in range(0, len(body), chunk):
        reader.feed(body[i : i + chunk])
    return reader.finish(), reader


def raw(docs: list[Document]) -> list[bytes]:
    return [b"".join(bytes(p) for p in parts) for _, parts in docs]


@pytest.mark.parametrize("profile", list(sora_responses()["connections"]))
def test_every_sample_connection_passes_unchanged_byte_for_byte(profile: str) -> None:
    connections = sora_responses()["connections"][profile]
    assert all(CONNECTIONS.surely_valid(copy.deepcopy(c)) for c in connections)
    for pretty in (0, orjson.OPT_INDENT_2):
        body = orjson.dumps(connections, option=pretty)
        typed, reader = read(body)
        assert raw(typed) == raw(read(body, typed=False)[0])
        assert reader.invalid.found == {}


@pytest.mark.parametrize("profile", list(sora_responses()["stats"]))
def test_every_sample_stats_report_passes_unchanged(profile: str) -> None:
    report = copy.deepcopy(sora_responses()["stats"][profile])
    add_aggregates(report)
    before = copy.deepcopy(report)
    assert remove_invalid(report, STATS.group) == []
    assert report == before


@pytest.mark.parametrize(
    ("element", "path", "found", "expected"),
    [
        ({"rtp": {"total_received": "12"}}, "rtp.total_received", "a string", "long"),
        ({"rtp": {"total_received": True}}, "rtp.total_received", "a boolean", "long"),
        ({"rtp": {"total_received": {"a": 1}}}, "rtp.total_received", "an object", "long"),
        ({"rtp": {"total_received": 2**63}}, "rtp.total_received", "a number outside", "long"),
        ({"rtp": {"total_received": 1e30}}, "rtp.total_received", "a number", "long"),
        (
            {"rtp": {"total_received": [1, "x"]}},
            "rtp.total_received",
            "an array holding a string",
            "long",
        ),
        ({"rtp": "n/a"}, "rtp", "a string", "an object (group)"),
        ({"rtp": 7}, "rtp", "a number", "an object (group)"),
        ({"channel_id": {"x": 1}}, "channel_id", "an object", "keyword"),
    ],
)
def test_a_value_that_does_not_fit_is_left_out_and_listed(
    element: dict[str, Any], path: str, found: str, expected: str
) -> None:
    element = {"channel_id": "c", "client_id": "k", "rtp": {"total_sent": 5}, **element}
    if isinstance(element["rtp"], dict):
        element["rtp"] = {"total_sent": 5, **element["rtp"]}
    assert not CONNECTIONS.surely_valid(copy.deepcopy(element))
    reader_docs, reader = read(orjson.dumps([element]))
    (found_field,) = reader.invalid.found.values()
    assert found_field.path == path
    assert found_field.found.startswith(found)
    assert found_field.expected == expected
    doc = orjson.loads(raw(reader_docs)[0])
    assert doc[INVALID_FIELDS] == [path]
    expected_doc = copy.deepcopy(element)
    parts = path.split(".")
    parent = expected_doc
    for name in parts[:-1]:
        parent = parent[name]
    del parent[parts[-1]]
    if "channel_id" in expected_doc:  # a left-out channel_id leaves channel_client_id out too
        expected_doc["channel_client_id"] = "c/k"
    expected_doc[INVALID_FIELDS] = [path]
    assert doc == expected_doc


@pytest.mark.parametrize(
    "element",
    [
        {"rtp": {"total_received": None}},  # Elasticsearch skips null
        {"rtp": {"total_received": 1.5}},  # a long takes a fraction (it truncates)
        {"rtp": {"total_received": [1, 2, None]}},
        {"rtp": {"future_counter": "text"}},  # not declared: passes through
        {"future_group": {"x": [True, "y"]}},
        {"channel_id": 5},  # a keyword takes a number
        {"timestamp": 1700000000},  # a date takes epoch numbers
        {"rtp": {"total_received": LONG_MAX, "total_sent": LONG_MIN}},
    ],
)
def test_what_elasticsearch_takes_is_kept(element: dict[str, Any]) -> None:
    body = orjson.dumps([element])
    docs, reader = read(body)
    assert reader.invalid.found == {}
    assert orjson.loads(raw(docs)[0]) == element


def test_stats_values_are_checked_against_the_stats_table() -> None:
    report = copy.deepcopy(sora_responses()["stats"]["modern_2025"])
    report["total_ongoing_connections"] = "4"
    report["erlang_vm"]["memory"]["total"] = False
    invalid = remove_invalid(report, STATS.group)
    assert {(f.path, f.found, f.expected) for f in invalid} == {
        ("total_ongoing_connections", "a string", "long"),
        ("erlang_vm.memory.total", "a boolean", "long"),
    }
    assert "total_ongoing_connections" not in report
    assert "total" not in report["erlang_vm"]["memory"]
    assert report["total_failed_connections"] == 2  # the rest is kept


def test_each_invalid_field_is_logged_once_per_host(caplog: pytest.LogCaptureFixture) -> None:
    a = InvalidFieldLog("a:3000", "connections")
    b = InvalidFieldLog("b:3000", "connections")
    bad = [InvalidField("rtp.total_received", "a string", "long")]
    with caplog.at_level(logging.WARNING, logger="sorabeat.sora"):
        for _ in range(3):
            a.report(bad)
            b.report(bad)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "a:3000" in lines[0] and "b:3000" in lines[1]
    assert "rtp.total_received is a string, fields.yml declares long" in lines[0]


def test_the_log_of_invalid_fields_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    log = InvalidFieldLog("a:3000", "stats", limit=3)
    with caplog.at_level(logging.WARNING, logger="sorabeat.sora"):
        log.report(InvalidField(f"f{i}", "a string", "long") for i in range(10))
        log.report([InvalidField("g", "a string", "long")])
    assert len(caplog.records) == 4
    assert "further ones are not logged" in caplog.records[-1].getMessage()


def value_of(leaf_type: str) -> st.SearchStrategy[Any]:
    if leaf_type == "long":
        return st.integers(LONG_MIN, LONG_MAX)
    if leaf_type in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False)
    return st.text(max_size=8)


def nest(values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for path, value in values.items():
        parent = doc
        for name in path[:-1]:
            parent = parent.setdefault(name, {})
        parent[path[-1]] = value
    return doc


@st.composite
def well_typed(draw: st.DrawFn) -> dict[tuple[str, ...], Any]:
    chosen = draw(
        st.lists(st.sampled_from(CONNECTION_LEAVES), min_size=1, max_size=25, unique=True)
    )
    ours = {("channel_client_id",), (INVALID_FIELDS,)}  # sorabeat sets these itself
    return {path: draw(value_of(t)) for path, t in chosen if path not in ours}


@given(st.lists(well_typed(), min_size=1, max_size=4), st.booleans())
def test_random_well_typed_connections_pass_byte_for_byte(
    values: list[dict[tuple[str, ...], Any]], pretty: bool
) -> None:
    body = orjson.dumps([nest(v) for v in values], option=orjson.OPT_INDENT_2 if pretty else 0)
    typed, reader = read(body, chunk=13)
    assert raw(typed) == raw(read(body, typed=False, chunk=13)[0])
    assert reader.invalid.found == {}


BAD = st.one_of(st.text(max_size=5), st.booleans(), st.just({"x": 1}), st.just(["x"]))


@given(well_typed(), st.data())
def test_a_random_corruption_of_one_number_is_caught_and_only_it_left_out(
    values: dict[tuple[str, ...], Any], data: st.DataObject
) -> None:
    numbers = [p for p in values if dict(CONNECTION_LEAVES)[p] in ("long", "double", "float")]
    if not numbers:
        numbers = [("rtp", "total_received")]
        values[numbers[0]] = 1
    target = data.draw(st.sampled_from(numbers))
    corrupted = dict(values)
    corrupted[target] = data.draw(BAD)
    docs, reader = read(orjson.dumps([nest(corrupted)]))
    path = ".".join(target)
    assert list(reader.invalid.found) == [path]
    doc = orjson.loads(raw(docs)[0])
    assert doc.pop(INVALID_FIELDS) == [path]
    doc.pop("channel_client_id", None)
    expected = nest(corrupted)
    parent = expected
    for name in target[:-1]:
        parent = parent[name]
    del parent[target[-1]]
    assert doc == expected


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(LONG_MIN, 2**64 - 1),
    st.sampled_from([LONG_MAX, 2**63, 2**64 - 1, 1e19, -1e19]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "true", "false", "x", "12"]),
    st.just({}),
    st.just({"total_received": "x"}),
    st.just([1, 2]),
    st.just(["a"]),
)


@given(st.lists(st.tuples(st.sampled_from(CONNECTION_LEAVES), ANY_VALUE), max_size=30))
def test_surely_valid_is_never_wrong(draws: list[tuple[tuple[tuple[str, ...], str], Any]]) -> None:
    """Whatever the values, a document the cheap check passes has nothing to leave out
    (the shapes it remembers across examples included)."""
    values: dict[tuple[str, ...], Any] = {}
    for (path, _), value in draws:
        if not any(path[: len(p)] == p for p in values if len(p) < len(path)):
            values[path] = value
    doc = orjson.loads(orjson.dumps(nest(values)))
    if CONNECTIONS.surely_valid(copy.deepcopy(doc)):
        assert remove_invalid(doc, CONNECTIONS.group) == []


SMALL = FieldTypes(
    {"id": "keyword", "n": "long", "ok": "boolean", "d": "double", "g": {"x": "long"}}
)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"n": 2**63}, "n"),
        ({"n": 1e19}, "n"),
        ({"ok": "yes"}, "ok"),
        ({"g": {"x": 2**63}}, "g.x"),
        ({"g": {"x": "1"}}, "g.x"),
    ],
)
def test_a_remembered_shape_does_not_hide_a_bad_value(change: dict[str, Any], path: str) -> None:
    good = {"id": "a", "n": 1, "ok": "true", "d": 1e300, "g": {"x": 1}}
    assert SMALL.surely_valid(copy.deepcopy(good))  # its shape is remembered now
    bad = {**good, **change}
    assert not SMALL.surely_valid(copy.deepcopy(bad))
    assert [f.path for f in remove_invalid(bad, SMALL.group)] == [path]
