"""``_bulk`` request bodies from encoded events, sans-IO.

The event bytes are not parsed: the action line is built from the ``@timestamp`` and
``@metadata`` read at their fixed places (``sorabeat.event``), and ``@metadata`` is cut out
of the source line because Elasticsearch does not index it. Only an index or pipeline
format string that references event fields decodes the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from sorabeat.es.format import EventFormat
from sorabeat.event import event_timestamp, split_metadata

OpType = Literal["create", "index"]


@dataclass(frozen=True)
class ServerInfo:
    """What ``GET /`` told about the cluster, and what follows for bulk requests."""

    version: tuple[int, int, int]
    distribution: str = "elasticsearch"  # or "opensearch"
    build_flavor: str = "default"

    @property
    def op_type(self) -> OpType:
        """libbeat: ``create`` from ES 7.5 (needed for data streams, and a replayed event
        with an ``_id`` then gets a 409 instead of overwriting); ``index`` before.
        OpenSearch forked from ES 7.10 and has it too."""
        if self.distribution == "opensearch" or self.version >= (7, 5, 0):
            return "create"
        return "index"

    @property
    def composable_templates(self) -> bool:
        """``_index_template`` exists from ES 7.8, and in every OpenSearch."""
        return self.distribution == "opensearch" or self.version >= (7, 8, 0)

    @property
    def doc_type(self) -> str | None:
        """ES 6 still wants a mapping type in the action line."""
        return "doc" if self.distribution == "elasticsearch" and self.version < (7, 0, 0) else None


CURRENT_ES = ServerInfo((8, 15, 0))  # what to assume when no cluster was asked


def parse_version(text: str) -> tuple[int, int, int]:
    """``8.15.0``, ``7.17.3-SNAPSHOT`` -> (8, 15, 0)."""
    head = text.split("-", 1)[0]
    parts = head.split(".")
    try:
        numbers = [int(p) for p in parts[:3]]
    except ValueError:
        raise ValueError(f"version {text!r} is not x.y.z") from None
    if not numbers:
        raise ValueError(f"version {text!r} is not x.y.z")
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


@dataclass(slots=True)
class Prepared:
    """One event ready to send: its action line and source line, without newlines."""

    op: OpType
    action: bytes
    source: bytes
    timestamp: str


class ActionBuilder:
    """Turns encoded events into action and source lines for one cluster."""

    def __init__(
        self, index: EventFormat, pipeline: EventFormat | None, server: ServerInfo
    ) -> None:
        self.index = index
        self.pipeline = pipeline
        self.server = server
        self._actions: dict[tuple[str, str | None], bytes] = {}

    def action_line(
        self, op: OpType, index: str, pipeline: str | None, doc_id: str | None
    ) -> bytes:
        meta: dict[str, str] = {"_index": index}
        if doc_id is not None:
            meta["_id"] = doc_id
        if self.server.doc_type is not None:
            meta["_type"] = self.server.doc_type
        if pipeline:
            meta["pipeline"] = pipeline
        return orjson.dumps({op: meta})

    def prepare(self, event: bytes) -> Prepared:
        """Raises ``MissingFieldError`` when a format string needs an absent field, and
        ``ValueError`` for bytes that break the encoded-event contract."""
        try:
            metadata, source = split_metadata(event)
            timestamp = event_timestamp(event)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not an encoded event (no @timestamp/@metadata head)") from None
        decoded: dict[str, Any] | None = None

        def fields() -> Any:
            nonlocal decoded
            if decoded is None:
                decoded = orjson.loads(source)
                decoded["@metadata"] = orjson.loads(metadata)
            return decoded

        index = self.index.render(timestamp, fields)
        pipeline = self.pipeline.render(timestamp, fields) if self.pipeline else None
        doc_id: str | None = None
        if b'"_id"' in metadata:
            value = orjson.loads(metadata).get("_id")
            doc_id = value if isinstance(value, str) and value else None
        if doc_id is not None:
            op: OpType = "create"  # with an _id, create: a replay is a 409, not an overwrite
            action = self.action_line(op, index, pipeline, doc_id)
        else:
            op = self.server.op_type
            key = (index, pipeline)
            action = self._actions.get(key) or self._cache(key, op)
        return Prepared(op, action, source, timestamp)

    def _cache(self, key: tuple[str, str | None], op: OpType) -> bytes:
        if len(self._actions) > 1024:
            self._actions.clear()
        action = self._actions[key] = self.action_line(op, key[0], key[1], None)
        return action

    def dead_letter(self, prepared: Prepared, index: str, status: int, reason: str) -> Prepared:
        """libbeat's rewrite of a refused event for the dead-letter index: the original
        document as the ``message`` string, with the status and Elasticsearch's reason."""
        document = {
            "@timestamp": prepared.timestamp,
            "message": prepared.source.decode("utf-8", "replace"),
            "error": {"type": status, "message": reason},
        }
        op = self.server.op_type
        return Prepared(
            op, self.action_line(op, index, None, None), orjson.dumps(document), prepared.timestamp
        )


def bulk_body(prepared: Sequence[Prepared], positions: Sequence[int]) -> bytes:
    """NDJSON body for the events at ``positions``; every line ends with a newline."""
    parts: list[bytes] = []
    append = parts.append
    for i in positions:
        p = prepared[i]
        append(p.action)
        append(p.source)
    append(b"")
    return b"\n".join(parts)
