"""channel_client_id, identities, and the streaming reader of GetStatsAllConnections bodies:
whatever the chunking, it gives exactly what a full parse gives, or the error it would."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sorabeat.sora.connections import (
    ConnectionsReader,
    Document,
    InvalidJSONError,
    ShapeError,
    channel_client_id,
    documents_from_objects,
    identity,
)

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]))


@pytest.mark.parametrize(
    ("conn", "expected"),
    [
        ({"channel_id": "sora", "client_id": "c1"}, "sora/c1"),
        ({"channel_id": "sora"}, None),
        ({"client_id": "c1"}, None),
        ({}, None),
        ({"channel_id": "sora", "client_id": None}, None),
        ({"channel_id": None, "client_id": "c1"}, None),
        ({"channel_id": "sora", "client_id": ""}, None),
        ({"channel_id": "", "client_id": "c1"}, None),
        ({"channel_id": 5, "client_id": "c1"}, None),
        ({"channel_id": "sora", "client_id": ["c1"]}, None),
    ],
)
def test_channel_client_id_only_when_both_parts_are_non_empty_strings(
    conn: dict[str, Any], expected: str | None
) -> None:
    assert channel_client_id(conn) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'[{"channel_id":"sora","client_id":null,"rtp":{"total_received":1}}]',
        b'[{"channel_id":"sora","rtp":{"total_received":1}}]',
        b'[{"client_id":"c1"}]',
        b'[{"channel_id":"","client_id":"c1"}]',
        b'[{"channel_id":"sora","client_id":null,"channel_client_id":"from-sora"}]',
    ],
)
def test_channel_client_id_is_left_out_when_a_part_is_missing(body: bytes) -> None:
    for cut in range(len(body) + 1):
        ((_, doc),) = read(body, [cut])
        assert "channel_client_id" not in doc
        assert (
            doc.items()
            >= {k: v for k, v in orjson.loads(body)[0].items() if k != "channel_client_id"}.items()
        )


def test_identity_prefers_connection_id() -> None:
    assert identity({"connection_id": "X", "channel_id": "a", "client_id": "b"}) == "X"
    assert identity({"connection_id": "", "channel_id": "a", "client_id": "b"}) == "a/b"
    assert identity({"channel_id": "a", "client_id": None}) == "a/"
    assert identity({}) == "/"


def decoded(docs: list[Document]) -> list[tuple[str, Any]]:
    return [(key, orjson.loads(b"".join(bytes(p) for p in parts))) for key, parts in docs]


def expected(body: bytes) -> list[tuple[str, Any]]:
    """The reference: a full parse, then the same documents built from the objects; like the
    reader, it refuses a body that is not an array (``{}`` is no empty list of connections)."""
    value = orjson.loads(body)
    if not isinstance(value, list):
        raise ShapeError(f"must be a JSON array of objects, got {type(value).__name__}")
    return decoded(documents_from_objects(value))


def read(body: bytes, cuts: list[int] | None = None) -> list[tuple[str, Any]]:
    reader = ConnectionsReader()
    points = sorted({c % (len(body) + 1) for c in (cuts or [])})
    start = 0
    for point in [*points, len(body)]:
        reader.feed(body[start:point])
        start = point
    return decoded(reader.finish())


@given(TEXT, TEXT)
def test_channel_client_id_joins_any_strings(channel: str, client: str) -> None:
    body = orjson.dumps([{"channel_id": channel, "client_id": client}])
    ((_, doc),) = read(body)
    if channel and client:
        assert doc["channel_client_id"] == f"{channel}/{client}"
    else:
        assert "channel_client_id" not in doc


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"  [ ]  ",
        b'[{"channel_id":"c","client_id":"1"}]',
        b'[{"channel_id":"c","client_id":"1","connection_id":"K1"},{"channel_id":"c","client_id":"2"}]',
        b'[\n  {"a": 1 } ,\n  {} , {"channel_client_id": "pre"}\n]\n',
        b'[{"channel_id":"x},{\\"y","client_id":"1"},{"client_id":"2"}]',
        b'[{"nested":[{"a":1},{"b":2}],"client_id":"n"},{"z":{"y":{}}}]',
        b'[{"a":"},{"},{"b":"},  {"}]',
    ],
)
def test_reader_equals_full_parse(body: bytes) -> None:
    assert read(body) == expected(body)
    for cut in range(len(body) + 1):
        assert read(body, [cut]) == expected(body)


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        (b"{}", ShapeError, "must be a JSON array of objects, got an object"),
        (b'"x"', ShapeError, "got a string"),
        (b"[1,2]", ShapeError, "element 0 is a number, not an object"),
        (b'[{"a":1}, 7]', ShapeError, "element 1 is a number, not an object"),
        (b'[{"a":1},{"b":2},[3]]', ShapeError, "element 2 is an array, not an object"),
        (b'[{"a":1},{"b":}]', InvalidJSONError, "in element 1 or later"),
        (b'[{"a":1},{"b":2}', InvalidJSONError, "in element 1 or later"),
        (b"", InvalidJSONError, "Input is a zero-length"),
        (b"[", InvalidJSONError, "unexpected end of data"),
        (b'[{"a":1},{"b":2}] x', InvalidJSONError, "in element 1 or later"),
    ],
)
def test_reader_names_what_is_wrong(body: bytes, error: type[Exception], words: str) -> None:
    def feed_and_finish(cut: int) -> None:
        reader = ConnectionsReader()
        reader.feed(body[:cut])
        reader.feed(body[cut:])
        reader.finish()

    for cut in range(len(body) + 1):
        with pytest.raises(error, match=words):
            feed_and_finish(cut)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(alphabet=st.sampled_from('ab{},[]:"\\ 1\n')),
    lambda children: (
        st.dictionaries(st.text(alphabet=st.sampled_from('ab{},"')), children, max_size=3)
        | st.lists(children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.lists(
        st.dictionaries(st.text(alphabet=st.sampled_from('abc{},"\\')), json_values, max_size=4),
        max_size=8,
    ),
    st.booleans(),
    st.lists(st.integers(0, 10_000), max_size=6),
)
def test_any_array_of_objects_any_chunking(
    connections: list[dict[str, Any]], pretty: bool, cuts: list[int]
) -> None:
    body = orjson.dumps(connections, option=orjson.OPT_INDENT_2 if pretty else 0)
    assert read(body, cuts) == expected(body)


@given(st.binary(max_size=200), st.lists(st.integers(0, 300), max_size=4))
@example(b"{}", [])  # an empty object: the reference once took it for an empty array
@example(b'{"a": 1}', [1])
def test_arbitrary_bytes_never_crash_and_agree_with_a_full_parse(
    body: bytes, cuts: list[int]
) -> None:
    try:
        reference = expected(body)
    except (orjson.JSONDecodeError, TypeError, AttributeError):
        reference = None
    except ShapeError:
        reference = None
    try:
        got = read(body, cuts)
    except (ShapeError, InvalidJSONError):
        got = None
    assert got == reference


def test_memory_holds_elements_not_the_whole_body() -> None:
    """Fed in chunks, the reader's buffer never grows past about one element."""
    element = orjson.dumps({"channel_id": "c", "client_id": "x" * 100, "rtp": {"n": 1}})
    body = b"[" + b",".join([element] * 2000) + b"]"
    reader = ConnectionsReader()
    largest = 0
    for i in range(0, len(body), 4096):
        reader.feed(body[i : i + 4096])
        largest = max(largest, len(reader._buffer))
    assert len(reader.finish()) == 2000
    assert largest < 4096 + 2 * len(element)
