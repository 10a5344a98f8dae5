"""GetStatsAllConnections: one event per connection, plus ``channel_client_id``.

Each element's values are checked against fields.yml's types (``field_types``): one that
Elasticsearch would refuse is left out and listed in ``invalid_fields``; the element's own
bytes are kept whenever nothing was left out.

A response can list 10,000 connections (tens of MB). ``ConnectionsReader`` takes the body
chunk by chunk as it arrives, cuts the array at its element boundaries (``}``, ``,``,
``{``), parses each element on its own (which validates it) and keeps the element's own
bytes with ``channel_client_id`` spliced in, and whatever the reader's ``derive`` callback
adds (the rates). So the whole body is never held at once, nothing is materialized as 10,000
dictionaries, and no element is serialized twice.

A cut can be wrong only inside a string that contains ``},{`` or inside a nested array of
objects; then the piece before it is not valid JSON by itself, and the reader joins it with
the next piece until they parse: the result is always what a full parse gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from sorabeat.sora.field_types import (
    FieldTypes,
    InvalidField,
    annotate,
    remove_invalid,
)
from sorabeat.sora.field_types import (
    describe as describe,  # re-exported: client.py names wrong shapes with it
)

Buffer = bytes | bytearray | memoryview
Document = tuple[str, tuple[Buffer, ...]]  # (identity key, parts whose concatenation is JSON)
# One member sorabeat adds to a connection's document: its name, and its JSON text
# (``"name":value``), serialized once by whoever derived it.
Member = tuple[str, bytes]
# Called with each connection once its values were checked; returns the member to add to
# its document (None: none). It may look, never change: the element's bytes are reused.
Derive = Callable[[dict[str, Any]], Member | None]

_BOUNDARY = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")
_WHITESPACE = b" \t\r\n"
# the first bytes kept for an error message: as many as client.SCRUBBED_HEAD, which are
# scrubbed before the message's snippet is cut from them
HEAD_KEPT = 1024


class ShapeError(ValueError):
    """The body is not a JSON array of objects; the message says how."""


def _id_part(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def channel_client_id(connection: Mapping[str, Any]) -> str | None:
    """``channel_id + "/" + client_id``, or None (the field is left out) when either part is
    missing, null, not a string or empty: "sora/" or "/" names no client."""
    channel = _id_part(connection.get("channel_id"))
    client = _id_part(connection.get("client_id"))
    if channel is None or client is None:
        return None
    return f"{channel}/{client}"


def identity(connection: dict[str, Any]) -> str:
    """What tells connections of one fetch apart (it seeds document ids): connection_id when
    Sora gives one, else channel and client ids joined, a missing part counting as ""."""
    connection_id = _id_part(connection.get("connection_id"))
    if connection_id is not None:
        return connection_id
    channel = _id_part(connection.get("channel_id")) or ""
    client = _id_part(connection.get("client_id")) or ""
    return f"{channel}/{client}"


class InvalidFields:
    """The invalid fields of one fetch, each path once (the first kind found is kept)."""

    def __init__(self) -> None:
        self.found: dict[str, InvalidField] = {}

    def add(self, invalid: list[InvalidField]) -> None:
        for f in invalid:
            self.found.setdefault(f.path, f)


def document(
    connection: dict[str, Any],
    element: Buffer | None,
    types: FieldTypes | None = None,
    invalid: InvalidFields | None = None,
    derive: Derive | None = None,
) -> Document:
    """The event document of one connection: its own bytes (``element``, None when there are
    none) plus ``channel_client_id`` and the member ``derive`` adds, without the values
    ``types`` says do not fit."""
    if types is not None and (element is None or not types.surely_valid(connection)):
        bad = remove_invalid(connection, types.group)
        if bad:
            annotate(connection, bad)
            if invalid is not None:
                invalid.add(bad)
            element = None
    added = derive(connection) if derive is not None else None
    ccid = channel_client_id(connection)
    key = identity(connection)
    if (
        element is None
        or not connection
        or "channel_client_id" in connection
        or (added is not None and added[0] in connection)
    ):
        if ccid is None:
            connection.pop("channel_client_id", None)
        else:
            connection["channel_client_id"] = ccid
        if added is not None:  # parsed back: orjson's floats read back to the same bits
            connection.update(orjson.loads(b"{" + added[1] + b"}"))
        return key, (orjson.dumps(connection),)
    if added is None:
        if ccid is None:
            return key, (element,)
        # one exact-size copy; orjson's output for a short string is a 4 KiB allocation
        body = b"".join(
            (memoryview(element)[:-1], b',"channel_client_id":', orjson.dumps(ccid), b"}")
        )
        return key, (body,)
    if ccid is None:
        body = b"".join((memoryview(element)[:-1], b",", added[1], b"}"))
    else:
        pair = orjson.dumps(ccid)
        body = b"".join(
            (memoryview(element)[:-1], b',"channel_client_id":', pair, b",", added[1], b"}")
        )
    return key, (body,)


def documents_from_objects(
    connections: list[Any],
    types: FieldTypes | None = None,
    invalid: InvalidFields | None = None,
    derive: Derive | None = None,
) -> list[Document]:
    """Documents of an already parsed array, checking that every element is an object."""
    for i, connection in enumerate(connections):
        if not isinstance(connection, dict):
            raise ShapeError(f"element {i} is {describe(connection)}, not an object")
    return [document(connection, None, types, invalid, derive) for connection in connections]


class InvalidJSONError(ValueError):
    """Some element is not valid JSON; the message says after which element."""


class ConnectionsReader:
    """Sans-IO reader of a GetStatsAllConnections body fed in chunks of any size."""

    def __init__(self, types: FieldTypes | None = None, derive: Derive | None = None) -> None:
        self.types = types  # None: no type check
        self.derive = derive
        self.invalid = InvalidFields()
        self._buffer = bytearray()
        self._started = False  # the opening "[" and the first "{" were seen
        self._whole = False  # not the expected shape: keep everything for a full parse
        self._pending = bytearray()  # pieces that did not parse alone yet, with separators
        self.documents: list[Document] = []
        self.head = b""  # the first bytes, for error messages
        self.size = 0

    def feed(self, chunk: Buffer) -> None:
        if len(self.head) < HEAD_KEPT:
            self.head += bytes(chunk[: HEAD_KEPT - len(self.head)])
        self.size += len(chunk)
        self._buffer += chunk
        if self._whole:
            return
        if self._started or self._start():
            self._cut()

    def _start(self) -> bool:
        """Drop the leading ``[``; False while more bytes are needed to decide."""
        head = self._buffer.lstrip(_WHITESPACE)
        if not head:
            return False
        if head[:1] != b"[":
            self._whole = True
            return False
        rest = head[1:].lstrip(_WHITESPACE)
        if not rest:
            return False
        if rest[:1] != b"{":
            self._whole = True  # empty array, or not objects: decided at the end
            return False
        self._buffer = rest
        self._started = True
        return True

    def _cut(self) -> None:
        buffer = self._buffer
        position = 0
        for m in _BOUNDARY.finditer(buffer):
            self._piece(buffer[position : m.start() + 1], buffer[m.start() + 1 : m.end() - 1])
            position = m.end() - 1
        if position:
            del buffer[:position]

    def _piece(self, piece: bytearray, separator: bytearray) -> None:
        if self._pending:
            self._pending += piece
            element = self._pending
        else:
            element = piece
        try:
            value = orjson.loads(element)
        except orjson.JSONDecodeError:
            if not self._pending:
                self._pending += piece
            self._pending += separator  # the cut was inside this element: join the next piece
            return
        if not isinstance(value, dict):
            raise ShapeError(f"element {len(self.documents)} is {describe(value)}, not an object")
        self.documents.append(document(value, element, self.types, self.invalid, self.derive))
        self._pending = bytearray()

    def finish(self) -> list[Document]:
        """The documents of the whole body; ShapeError or InvalidJSONError if it is not a
        JSON array of objects."""
        if not self._started:
            try:
                value = orjson.loads(self._buffer)
            except orjson.JSONDecodeError as exc:
                raise InvalidJSONError(str(exc)) from None
            if not isinstance(value, list):
                raise ShapeError(f"must be a JSON array of objects, got {describe(value)}")
            return documents_from_objects(value, self.types, self.invalid, self.derive)
        tail = self._buffer.rstrip(_WHITESPACE)
        if tail[-1:] != b"]":
            self._fail(self._pending + tail)
        self._piece(tail[:-1].rstrip(_WHITESPACE), bytearray())
        if self._pending:
            self._fail(self._pending + b"]")
        return self.documents

    def _fail(self, rest: bytes | bytearray) -> None:
        """Raise what a full parse of the elements not read yet says is wrong."""
        done = len(self.documents)
        try:
            value = orjson.loads(b"[" + rest)
        except orjson.JSONDecodeError as exc:
            raise InvalidJSONError(f"{exc}, in element {done} or later") from None
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ShapeError(f"element {done + i} is {describe(item)}, not an object")
        raise ShapeError("elements are not separated as a JSON array's are")
