from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.sora.connections import (
    channel_client_id,
    documents_from_objects,
    documents_from_pieces,
    identity,
    split_array,
)


@pytest.mark.parametrize(
    ("conn", "expected"),
    [
        ({"channel_id": "sora", "client_id": "c1"}, "sora/c1"),
        ({"channel_id": "sora"}, "sora/"),
        ({"client_id": "c1"}, "/c1"),
        ({}, "/"),
        ({"channel_id": 5, "client_id": None}, "/"),
    ],
)
def test_channel_client_id(conn: dict[str, Any], expected: str) -> None:
    assert channel_client_id(conn) == expected


@given(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"])),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"])),
)
def test_channel_client_id_joins_any_strings(channel: str, client: str) -> None:
    ((_, parts),) = documents_from_objects([{"channel_id": channel, "client_id": client}])
    assert orjson.loads(b"".join(parts))["channel_client_id"] == f"{channel}/{client}"


def test_identity_prefers_connection_id() -> None:
    assert identity({"connection_id": "X"}, "a/b") == "X"
    assert identity({"connection_id": ""}, "a/b") == "a/b"
    assert identity({}, "a/b") == "a/b"


def joined(docs: list[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    assert docs is not None
    return [(key, orjson.loads(b"".join(bytes(p) for p in parts))) for key, parts in docs]


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"  [ ]  ",
        b'[{"channel_id":"c","client_id":"1"}]',
        b'[{"channel_id":"c","client_id":"1","connection_id":"K1"},{"channel_id":"c","client_id":"2"}]',
        b'[\n  {"a": 1 } ,\n  {} , {"channel_client_id": "pre"}\n]\n',
        b'[{"channel_id":"x},{\\"y","client_id":"1"}]',
        b'[{"nested":[{"a":1},{"b":2}],"client_id":"n"}]',
    ],
)
def test_fast_path_equals_full_parse(body: bytes) -> None:
    """Whatever path is taken, the documents are exactly those of a full parse."""
    pieces = split_array(body)
    fast = documents_from_pieces(pieces) if pieces is not None else None
    slow = joined(documents_from_objects(orjson.loads(body)))
    if fast is not None:
        assert joined(fast) == slow


def test_a_wrong_cut_falls_back() -> None:
    tricky = b'[{"channel_id":"a},{\\"b","client_id":"1"}]'
    pieces = split_array(tricky)
    assert pieces is not None and len(pieces) == 2  # cut inside the string...
    assert documents_from_pieces(pieces) is None  # ...so the fast path refuses


@pytest.mark.parametrize("body", [b"{}", b"[1,2]", b"", b"[", b'"x"', b"[{}"])
def test_split_refuses_what_is_not_an_array_of_objects(body: bytes) -> None:
    assert split_array(body) is None


connection_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(alphabet=st.sampled_from('ab{},[]:"\\ 1')),
    lambda children: (
        st.dictionaries(st.text(alphabet=st.sampled_from('ab{},"')), children, max_size=3)
        | st.lists(children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.lists(
        st.dictionaries(
            st.text(alphabet=st.sampled_from('abc{},"\\')), connection_values, max_size=4
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_fast_path_property(connections: list[dict[str, Any]], pretty: bool) -> None:
    body = orjson.dumps(connections, option=orjson.OPT_INDENT_2 if pretty else 0)
    pieces = split_array(body)
    assert pieces is not None
    fast = documents_from_pieces(pieces)
    slow = joined(documents_from_objects(orjson.loads(body)))
    if fast is not None:
        assert joined(fast) == slow


BRACELESS = st.text(alphabet=st.characters(blacklist_characters="{}", blacklist_categories=["Cs"]))


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "channel_id": BRACELESS,
                "client_id": BRACELESS,
                "rtp": st.dictionaries(BRACELESS, st.integers(0, 2**63 - 1)),
            }
        ),
        min_size=1,
        max_size=20,
    ),
    st.booleans(),
)
def test_realistic_responses_take_the_fast_path(
    connections: list[dict[str, Any]], pretty: bool
) -> None:
    """Sora's connections hold no arrays; unless a string contains '},{' the cut is exact."""
    body = orjson.dumps(connections, option=orjson.OPT_INDENT_2 if pretty else 0)
    pieces = split_array(body)
    assert pieces is not None and len(pieces) == len(connections)
    fast = documents_from_pieces(pieces)
    assert fast is not None
    assert joined(fast) == joined(documents_from_objects(orjson.loads(body)))
