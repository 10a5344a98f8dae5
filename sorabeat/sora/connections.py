"""GetStatsAllConnections: one event per connection, plus ``channel_client_id``.

A response can list 10,000 connections (tens of MB). Rather than materialize them all as
Python objects, the array is cut at its element boundaries and each element is parsed on
its own (which validates it), then its own bytes are reused in the event with
``channel_client_id`` spliced in: no element is serialized twice, and memory holds the body
plus the events, not a third copy as dictionaries. Where the cut is not certain (a string
that happens to contain ``},{``, or nested arrays), a piece fails to parse and the whole
response is parsed the ordinary way instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

Buffer = bytes | bytearray | memoryview
Document = tuple[str, Sequence[Buffer]]  # (identity key, parts whose concatenation is the JSON)

_BOUNDARY = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")
_WHITESPACE = b" \t\r\n"


def channel_client_id(connection: dict[str, Any]) -> str:
    """``channel_id + "/" + client_id``; a missing or non-string part is "" (as the original)."""
    channel = connection.get("channel_id")
    client = connection.get("client_id")
    return (
        f"{channel if isinstance(channel, str) else ''}/{client if isinstance(client, str) else ''}"
    )


def identity(connection: dict[str, Any], channel_client: str) -> str:
    """What tells connections of one fetch apart: connection_id when Sora gives one."""
    connection_id = connection.get("connection_id")
    if isinstance(connection_id, str) and connection_id:
        return connection_id
    return channel_client


def split_array(body: Buffer) -> list[memoryview] | None:
    """Cut a JSON array of objects into one view per element, or None if it is not that shape."""
    view = memoryview(body)
    start, end = 0, len(view)
    while start < end and view[start] in _WHITESPACE:
        start += 1
    while end > start and view[end - 1] in _WHITESPACE:
        end -= 1
    if end - start < 2 or view[start] != ord("[") or view[end - 1] != ord("]"):
        return None
    start, end = start + 1, end - 1
    while start < end and view[start] in _WHITESPACE:
        start += 1
    while end > start and view[end - 1] in _WHITESPACE:
        end -= 1
    if start == end:
        return []
    if view[start] != ord("{") or view[end - 1] != ord("}"):
        return None
    pieces = []
    position = start
    for m in _BOUNDARY.finditer(body, start, end):
        pieces.append(view[position : m.start() + 1])
        position = m.end() - 1
    pieces.append(view[position:end])
    return pieces


def documents_from_pieces(pieces: list[memoryview]) -> list[Document] | None:
    """Each element parsed on its own and reused as is, or None if a cut was wrong."""
    out: list[Document] = []
    for piece in pieces:
        try:
            connection = orjson.loads(piece)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(connection, dict):
            return None
        ccid = channel_client_id(connection)
        key = identity(connection, ccid)
        if not connection or "channel_client_id" in connection:
            connection["channel_client_id"] = ccid
            out.append((key, (orjson.dumps(connection),)))
        else:
            out.append((key, (piece[:-1], b',"channel_client_id":', orjson.dumps(ccid), b"}")))
    return out


def documents_from_objects(connections: list[dict[str, Any]]) -> list[Document]:
    out: list[Document] = []
    for connection in connections:
        ccid = channel_client_id(connection)
        connection["channel_client_id"] = ccid
        out.append((identity(connection, ccid), (orjson.dumps(connection),)))
    return out
