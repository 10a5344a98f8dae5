from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.sora.connections import add_channel_client_id, channel_client_id, identity


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


@given(st.text(), st.text())
def test_channel_client_id_joins_any_strings(channel: str, client: str) -> None:
    conns = [{"channel_id": channel, "client_id": client}]
    add_channel_client_id(conns)
    assert conns[0]["channel_client_id"] == f"{channel}/{client}"


def test_identity_prefers_connection_id() -> None:
    assert identity({"connection_id": "X", "channel_client_id": "a/b"}) == "X"
    assert identity({"channel_client_id": "a/b"}) == "a/b"
