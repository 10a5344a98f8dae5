"""The metricbeat event envelope, and the encoded-event contract every later stage relies on.

An encoded event is the UTF-8 bytes of one JSON object, serialized once, here (orjson:
Sora's documents come from orjson.loads, which refuses NaN and infinities, so none can
reach the output as invalid JSON). It always
starts ``{"@timestamp":"YYYY-MM-DDTHH:MM:SS.mmmZ","@metadata":{`` and its ``@metadata``
object holds only strings free of braces, so outputs can read the timestamp and cut the
metadata out (Elasticsearch does not index it) without parsing the event again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

TIMESTAMP_START = len(b'{"@timestamp":"')
TIMESTAMP_END = TIMESTAMP_START + len("2006-01-02T15:04:05.000Z")
METADATA_START = TIMESTAMP_END + len(b'","@metadata":')
ECS_VERSION = "8.0.0"

EnvelopeFormat = Literal["8", "6"]
Buffer = bytes | bytearray | memoryview


def format_timestamp(epoch_ms: int) -> str:
    """``2026-01-02T15:04:05.000Z``: UTC, exactly millisecond precision."""
    seconds, millis = divmod(epoch_ms, 1000)
    dt = datetime.fromtimestamp(seconds, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def event_timestamp(event: bytes) -> str:
    """The @timestamp of an encoded event, read at its fixed offset."""
    return event[TIMESTAMP_START:TIMESTAMP_END].decode("ascii")


def split_metadata(event: bytes) -> tuple[bytes, bytes]:
    """Cut an encoded event into its ``@metadata`` object and the event without it."""
    end = event.index(b"}", METADATA_START) + 1
    return event[METADATA_START:end], b'{"@timestamp":"' + event[
        TIMESTAMP_START:TIMESTAMP_END
    ] + b'"' + event[end:]


def escape_html(event: bytes) -> bytes:
    """``escape_html: true``: rewrite ``<``, ``>`` and ``&`` as JSON escapes.

    Exact on encoded JSON without parsing it: these bytes never occur in JSON outside
    strings, nor inside UTF-8 multi-byte sequences, so every occurrence is string content.
    """
    if b"<" in event or b">" in event or b"&" in event:
        return event.replace(b"&", b"\\u0026").replace(b"<", b"\\u003c").replace(b">", b"\\u003e")
    return event


@dataclass(frozen=True)
class AgentInfo:
    """Who ships: the ``agent``/``beat`` fields of every event."""

    name: str
    hostname: str
    id: str
    ephemeral_id: str
    version: str
    type: str = "sorabeat"


@dataclass(frozen=True)
class EnvelopeSettings:
    """What the envelope needs from the configuration, resolved once."""

    agent: AgentInfo
    format: EnvelopeFormat = "8"
    beat: str = "sorabeat"  # @metadata.beat: the output's lowercased index option
    metadata_version: str | None = None  # @metadata.version; default: agent.version
    fields: Mapping[str, Any] = field(default_factory=dict)
    fields_under_root: bool = False
    tags: tuple[str, ...] = ()
    document_ids: bool = False  # put a deterministic @metadata._id in every event

    @property
    def version(self) -> str:
        return self.metadata_version or self.agent.version


_RESERVED = frozenset({"@timestamp", "@metadata", "sora"})


class MetricsetEncoder:
    """Encodes the events of one metricset of one Sora host.

    The envelope is the same for every event of a fetch, so it is serialized once per fetch
    and each document is serialized once, then the pieces are joined.
    """

    def __init__(
        self,
        envelope: EnvelopeSettings,
        *,
        metricset: str,
        period_s: float,
        address: str,
        fields: Mapping[str, Any] | None = None,
        fields_under_root: bool = False,
        tags: Iterable[str] = (),
    ) -> None:
        self.envelope = envelope
        self.metricset = metricset
        self.period_ms = round(period_s * 1000)
        self.address = address
        merged_fields: dict[str, Any] = {}
        under_root: dict[str, Any] = {}
        (under_root if envelope.fields_under_root else merged_fields).update(envelope.fields)
        (under_root if fields_under_root else merged_fields).update(fields or {})
        self._fields = merged_fields
        self._under_root = {k: v for k, v in under_root.items() if k not in _RESERVED}
        self._tags = list(dict.fromkeys([*envelope.tags, *tags]))
        self._metadata = {
            "beat": envelope.beat,
            "type": "doc" if envelope.format == "6" else "_doc",
            "version": envelope.version,
        }
        self._open_sora = b',"sora":{"' + metricset.encode() + b'":'

    def _common(self, duration_ns: int) -> dict[str, Any]:
        env = self.envelope
        agent = env.agent
        doc: dict[str, Any]
        if env.format == "6":
            doc = {
                "beat": {"name": agent.name, "hostname": agent.hostname, "version": env.version},
                "metricset": {
                    "module": "sora",
                    "name": self.metricset,
                    "host": self.address,
                    "rtt": duration_ns // 1000,
                },
            }
        else:
            doc = {
                "agent": {
                    "type": agent.type,
                    "version": agent.version,
                    "name": agent.name,
                    "hostname": agent.hostname,
                    "id": agent.id,
                    "ephemeral_id": agent.ephemeral_id,
                },
                "ecs": {"version": ECS_VERSION},
                "host": {"name": agent.name},
                "event": {
                    "module": "sora",
                    "dataset": f"sora.{self.metricset}",
                    "duration": duration_ns,
                },
                "metricset": {"name": self.metricset, "period": self.period_ms},
                "service": {"type": "sora", "address": self.address},
            }
        if self._fields:
            doc["fields"] = self._fields
        if self._tags:
            doc["tags"] = self._tags
        doc.update(self._under_root)
        return doc

    def _head(self, timestamp: str) -> bytes:
        return b'{"@timestamp":"' + timestamp.encode("ascii") + b'","@metadata":'

    def _metadata_bytes(self, doc_id: str | None) -> bytes:
        if doc_id is None:
            return orjson.dumps(self._metadata)
        return orjson.dumps({**self._metadata, "_id": doc_id})

    def document_id(self, timestamp: str, key: str) -> str:
        """Deterministic id: the same (metricset, host, @timestamp, key) gives the same id."""
        material = "\x1f".join((self.metricset, self.address, timestamp, key)).encode()
        return hashlib.blake2b(material, digest_size=16).hexdigest()

    def encode(
        self,
        epoch_ms: int,
        duration_ns: int,
        documents: Iterable[tuple[str, Sequence[Buffer]]],
    ) -> list[bytes]:
        """Encode one event per ``(identity key, JSON parts)`` of a fetch.

        The parts, joined, are the document's JSON object, which goes under
        ``sora.<metricset>`` unchanged; the key is what tells events of one fetch apart (the
        connection id; "" for stats).
        """
        timestamp = format_timestamp(epoch_ms)
        head = self._head(timestamp)
        common = orjson.dumps(self._common(duration_ns))
        middle = b"," + common[1:-1] + self._open_sora
        ids = self.envelope.document_ids
        shared_meta = None if ids else self._metadata_bytes(None)
        out: list[bytes] = []
        for key, parts in documents:
            meta = shared_meta or self._metadata_bytes(self.document_id(timestamp, key))
            out.append(b"".join((head, meta, middle, *parts, b"}}")))
        return out

    def encode_objects(
        self, epoch_ms: int, duration_ns: int, documents: Iterable[tuple[str, Any]]
    ) -> list[bytes]:
        """``encode`` for documents given as Python objects."""
        return self.encode(epoch_ms, duration_ns, ((k, (orjson.dumps(d),)) for k, d in documents))

    def encode_error(self, epoch_ms: int, duration_ns: int, message: str) -> bytes:
        """One error event: the envelope plus ``error.message``, as metricbeat sends."""
        timestamp = format_timestamp(epoch_ms)
        doc = self._common(duration_ns)
        doc["error"] = {"message": message}
        if self.envelope.format == "6":
            doc["sora"] = {self.metricset: {}}
        meta_id = self.document_id(timestamp, "error") if self.envelope.document_ids else None
        body = orjson.dumps(doc)
        return self._head(timestamp) + self._metadata_bytes(meta_id) + b"," + body[1:]
