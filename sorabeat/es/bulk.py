"""``_bulk`` request bodies from encoded events, sans-IO.

The event bytes are not parsed: the action line is built from the ``@timestamp`` and
``@metadata`` read at their fixed places (``sorabeat.event``), and ``@metadata`` is cut out
of the source line because Elasticsearch does not index it. Only an index or pipeline
format string that references event fields, or ``indices``/``pipelines`` rules, decode the
event; only an event whose ``@metadata`` has more than the standard keys has it parsed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from sorabeat.es.format import EventFormat, FormatError, MissingFieldError
from sorabeat.es.rules import Rule, first_match, metadata_text
from sorabeat.event import TIMESTAMP_END, TIMESTAMP_START, split_metadata

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
    def data_streams(self) -> bool:
        """Data streams with ILM: Elasticsearch 7.9 and later. OpenSearch has no ILM (its
        ISM is another API), so sorabeat writes daily indices there."""
        return self.distribution == "elasticsearch" and self.version >= (7, 9, 0)

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


HEAD = b'{"@timestamp":"'
METADATA_KEY = b'","@metadata":'


# the @metadata keys that route an event: _id, _index, pipeline, op_type; one regex search
# (a single C call) costs what the one find for _id did, where three finds cost 3-4 times more
_ROUTING_KEY = re.compile(rb'"(?:_i|pipeline"|op_type")')


def plain_metadata(data: bytes, start: int, end: int) -> bool:
    """True when the @metadata object at ``data[start:end]`` has none of the keys that route
    an event: the common case, found without parsing (a value that merely looks like one
    only takes the slower path)."""
    return _ROUTING_KEY.search(data, start, end) is None


class PreparedBatch:
    """A publish's events ready to send, as parallel lists (position = batch position):
    op, action line and source line (no newlines). A position that could not be prepared
    has an empty action and is never sent."""

    __slots__ = ("actions", "ops", "sources")

    def __init__(self) -> None:
        self.ops: list[OpType] = []
        self.actions: list[bytes] = []
        self.sources: list[bytes] = []

    def __len__(self) -> int:
        return len(self.actions)

    def timestamp(self, position: int) -> str:
        """The @timestamp of a source line (it starts like the encoded event)."""
        return self.sources[position][TIMESTAMP_START:TIMESTAMP_END].decode("ascii")

    def replace(self, position: int, op: OpType, action: bytes, source: bytes) -> None:
        self.ops[position] = op
        self.actions[position] = action
        self.sources[position] = source


class ActionBuilder:
    """Turns encoded events into action and source lines for one cluster."""

    def __init__(
        self,
        index: EventFormat,
        pipeline: EventFormat | None,
        server: ServerInfo,
        *,
        index_rules: Sequence[Rule] = (),
        pipeline_rules: Sequence[Rule] = (),
        data_stream: bool = False,
    ) -> None:
        self.index = index
        self.pipeline = pipeline
        self.server = server
        self.index_rules = tuple(index_rules)
        self.pipeline_rules = tuple(pipeline_rules)
        # writing the data stream: @metadata.op_type "index" is refused by Elasticsearch
        # there, so every event is a create
        self.data_stream = data_stream
        self._actions: dict[tuple[OpType, str, str | None], bytes] = {}
        # events with plain @metadata whose index depends on the timestamp only share their
        # action line per timestamp prefix: one dict lookup per event
        self._static = (
            not index.needs_event
            and (pipeline is None or not pipeline.needs_event)
            and not self.index_rules
            and not self.pipeline_rules
        )
        self._by_time: dict[bytes, bytes] = {}
        self._depth = max(index.depth, pipeline.depth if pipeline else 0)

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

    def prepare_all(self, events: Sequence[bytes]) -> tuple[PreparedBatch, list[tuple[int, str]]]:
        """Prepare a batch; also (position, why) of each event that cannot be sent
        (a format string needs a field the event lacks, or bytes that are no event)."""
        batch = PreparedBatch()
        ops, actions, sources = batch.ops, batch.actions, batch.sources
        rejected: list[tuple[int, str]] = []
        by_time = self._by_time
        static = self._static
        depth_end = TIMESTAMP_START + self._depth
        default_op = self.server.op_type
        routing_key = _ROUTING_KEY.search
        for position, event in enumerate(events):
            try:
                if not event.startswith(HEAD) or not event.startswith(METADATA_KEY, TIMESTAMP_END):
                    raise ValueError("no head")
                metadata, source = split_metadata(event)
            except ValueError:  # split_metadata raises it too when @metadata does not end
                rejected.append((position, "not an encoded event (no @timestamp/@metadata head)"))
                ops.append(default_op)
                actions.append(b"")
                sources.append(b"")
                continue
            action = None
            op = default_op
            if static and routing_key(metadata) is None:
                action = by_time.get(event[TIMESTAMP_START:depth_end])
            if action is None:
                try:
                    op, action = self._action(event, metadata, source)
                except MissingFieldError as exc:
                    rejected.append((position, f"field {exc.field!r} is missing"))
                    action = b""
                except (FormatError, ValueError) as exc:
                    rejected.append((position, str(exc)))
                    action = b""
            ops.append(op)
            actions.append(action)
            sources.append(source)
        return batch, rejected

    def _action(self, event: bytes, metadata: bytes, source: bytes) -> tuple[OpType, bytes]:
        timestamp = event[TIMESTAMP_START:TIMESTAMP_END].decode("ascii")
        decoded: dict[str, Any] | None = None

        def fields() -> Any:
            nonlocal decoded
            if decoded is None:
                decoded = orjson.loads(source)
                decoded["@metadata"] = orjson.loads(metadata)
            return decoded

        meta: dict[str, Any] = {}
        if not plain_metadata(metadata, 0, len(metadata)):
            parsed = orjson.loads(metadata)
            meta = parsed if isinstance(parsed, dict) else {}
        index = (meta and metadata_text(meta, "_index")) or None
        if index is None and self.index_rules:
            index = first_match(self.index_rules, timestamp, fields)
        if index is None:
            index = self.index.render(timestamp, fields)
        pipeline = (meta and metadata_text(meta, "pipeline")) or None
        if pipeline is None and self.pipeline_rules:
            pipeline = first_match(self.pipeline_rules, timestamp, fields)
        if pipeline is None and self.pipeline is not None:
            pipeline = self.pipeline.render(timestamp, fields)
        doc_id = metadata_text(meta, "_id") if meta else None
        if doc_id is not None:
            # with an _id, always create: a replay is a 409, not an overwrite
            return "create", self.action_line("create", index, pipeline, doc_id)
        op = self.server.op_type
        if meta.get("op_type") == "index" and not self.data_stream:
            op = "index"
        key = (op, index, pipeline)
        action = self._actions.get(key)
        if action is None:
            if len(self._actions) > 1024:
                self._actions.clear()
            action = self._actions[key] = self.action_line(op, index, pipeline, None)
        if self._static and not meta:
            if len(self._by_time) > 4096:
                self._by_time.clear()
            self._by_time[event[TIMESTAMP_START : TIMESTAMP_START + self._depth]] = action
        return op, action

    def dead_letter(
        self, batch: PreparedBatch, position: int, index: str, status: int, reason: str
    ) -> None:
        """libbeat's rewrite of a refused event for the dead-letter index, in place: the
        original document as the ``message`` string, with the status and the reason."""
        document = {
            "@timestamp": batch.timestamp(position),
            "message": batch.sources[position].decode("utf-8", "replace"),
            "error": {"type": status, "message": reason},
        }
        op = self.server.op_type
        batch.replace(position, op, self.action_line(op, index, None, None), orjson.dumps(document))


def bulk_body(batch: PreparedBatch, positions: Sequence[int]) -> bytes:
    """NDJSON body for the events at ``positions``; every line ends with a newline."""
    parts: list[bytes]
    if isinstance(positions, range) and positions.step == 1:  # a run: slices, no loop
        parts = [b""] * (2 * len(positions))
        parts[0::2] = batch.actions[positions.start : positions.stop]
        parts[1::2] = batch.sources[positions.start : positions.stop]
    else:
        parts = []
        append = parts.append
        actions, sources = batch.actions, batch.sources
        for i in positions:
            append(actions[i])
            append(sources[i])
    parts.append(b"")
    return b"\n".join(parts)
