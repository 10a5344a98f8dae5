"""One Lens line chart per numeric field of ``fields.yml``: the largest value per interval
for a gauge, the per-second rate for a counter; connection fields split per connection,
every other field per polled Sora node."""

from __future__ import annotations

from dataclasses import dataclass

from sorabeat.es.fields import NUMERIC, Field, FieldSet, leaves
from sorabeat.kibana.ids import object_id
from sorabeat.kibana.lens import Format, Json, Series, Split, XYChart, lens_object

CONNECTIONS = "sora.connections."
STATS = "sora.stats."
CONNECTION_SPLIT = Split("sora.connections.channel_client_id", "Connection (channel/client)", 10)
NODE_SPLIT = Split("service.address", "Sora node", 10)
_UNIT_SUFFIX = {"ms": " ms", "micros": " µs", "nanos": " ns", "s": " s"}
_UNIT_WORDS = {
    "ms": "milliseconds",
    "micros": "microseconds",
    "nanos": "nanoseconds",
    "s": "seconds",
}


class CatalogError(ValueError):
    """fields.yml lacks a field a chart needs, or has it with another kind."""


@dataclass(frozen=True)
class NumericField:
    path: str
    field: Field

    @property
    def counter(self) -> bool:
        return self.field.metric_type == "counter"

    @property
    def per_connection(self) -> bool:
        return self.path.startswith(CONNECTIONS)


def numeric_fields(sets: list[FieldSet]) -> list[NumericField]:
    return [NumericField(path, f) for path, f in leaves(sets) if f.type in NUMERIC]


class Catalog:
    """The fields of fields.yml by path, for charts that name fields themselves."""

    def __init__(self, sets: list[FieldSet]) -> None:
        self.fields = dict(leaves(sets))

    def number(self, path: str, metric_type: str) -> Field:
        f = self.fields.get(path)
        if f is None or f.type not in NUMERIC:
            raise CatalogError(f"fields.yml has no numeric field {path}")
        if f.metric_type != metric_type:
            raise CatalogError(f"{path} is a {f.metric_type} in fields.yml, not a {metric_type}")
        return f

    def keyword(self, path: str) -> Field:
        f = self.fields.get(path)
        if f is None or f.type != "keyword":
            raise CatalogError(f"fields.yml has no keyword field {path}")
        return f


def value_format(f: Field, rate: bool) -> Format:
    if f.format == "bytes":
        return Format("bytes", 1)
    suffix = "" if rate else _UNIT_SUFFIX.get(f.unit or "", "")
    decimals = 2 if rate or f.type != "long" else 0
    return Format("number", decimals, suffix)


def phrase(path: str, counter: bool, plain: bool = False) -> str:
    """``sora.connections.rtp.total_sent_byte_size`` (a counter) -> ``rtp sent bytes/s``;
    ``plain`` keeps every word (``rtp total sent byte size/s``)."""
    for prefix in (STATS, CONNECTIONS):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    words = []
    for part in path.split("."):
        if part == "statistics":
            continue  # erlang_vm.statistics.*: says nothing an operator needs
        if not plain:
            part = part.removeprefix("total_").replace("byte_size", "bytes")
        words.append(part.replace("_", " "))
    return " ".join(words) + ("/s" if counter else "")


def labels(fields: list[NumericField]) -> dict[str, str]:
    """The short phrase of each field, or its plain one where short phrases collide
    (``total_sent_bytes`` of 2017 and ``total_sent_byte_size`` of 18.10 both say "sent
    bytes"; ``active_tasks`` lists what ``total_active_tasks`` sums)."""
    short = {nf.path: phrase(nf.path, nf.counter) for nf in fields}
    taken: dict[str, int] = {}
    for text in short.values():
        taken[text] = taken.get(text, 0) + 1
    return {
        nf.path: short[nf.path] if taken[short[nf.path]] == 1 else phrase(nf.path, nf.counter, True)
        for nf in fields
    }


def field_visualization_id(path: str) -> str:
    return object_id("lens-field", path)


def _describe(nf: NumericField) -> str:
    f = nf.field
    unit = f" in {_UNIT_WORDS[f.unit]}" if f.unit in _UNIT_WORDS else ""
    if nf.counter:
        how = (
            "Per-second rate of this counter (counter rate of its maximum; a drop reads as "
            "a restart)"
        )
    else:
        how = "Largest value in each interval"
    who = (
        f"per connection, for the {CONNECTION_SPLIT.size} connections with the largest values"
        if nf.per_connection
        else f"per Sora node (top {NODE_SPLIT.size})"
    )
    kind = "bytes" if f.format == "bytes" else (f.metric_type or "")
    return f"{f.description} {how}, {who}. Field {nf.path} ({kind}{unit})."


def field_chart(nf: NumericField, label: str) -> tuple[str, str, XYChart]:
    """(title, description, chart) of the field's visualization; ``label`` names the value."""
    scope = "Sora" if nf.path.startswith("sora.") else "Sorabeat"
    who = "per connection" if nf.per_connection else "per node"
    series = Series(
        nf.path,
        label,
        "counter_rate" if nf.counter else "max",
        value_format(nf.field, nf.counter),
    )
    split = CONNECTION_SPLIT if nf.per_connection else NODE_SPLIT
    return f"{scope}: {label} {who}", _describe(nf), XYChart((series,), split)


def field_visualizations(fields: list[NumericField], data_view_id: str) -> dict[str, Json]:
    """Field path -> its visualization."""
    names = labels(fields)
    return {nf.path: field_visualization(nf, names[nf.path], data_view_id) for nf in fields}


def field_visualization(nf: NumericField, label: str, data_view_id: str) -> Json:
    title, description, chart = field_chart(nf, label)
    return lens_object(field_visualization_id(nf.path), title, description, chart, data_view_id)
