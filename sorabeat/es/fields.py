"""``fields.yml``: every field of sorabeat's events with its type, loaded and checked.

The file is package data (``sorabeat/fields.yml``); the index template and the Kibana
dashboards are generated from it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from sorabeat.config import yamlbounds

TYPES = frozenset(
    {"group", "keyword", "text", "long", "double", "float", "date", "boolean", "ip", "object"}
)
NUMERIC = frozenset({"long", "double", "float"})
METRIC_TYPES = frozenset({"counter", "gauge"})
FORMATS = frozenset({"bytes", "duration", "number", "percent"})
_FIELD_KEYS = frozenset({"name", "type", "description", "fields", "metric_type", "unit", "format"})
_SET_KEYS = frozenset({"key", "title", "description", "fields"})


class FieldsError(ValueError):
    """fields.yml breaks its format; the message names the field."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str
    fields: tuple[Field, ...] = ()
    metric_type: str | None = None
    unit: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class FieldSet:
    key: str
    title: str
    description: str
    fields: tuple[Field, ...] = field(default_factory=tuple)


def _field(raw: Any, where: str) -> Field:
    if not isinstance(raw, dict):
        raise FieldsError(f"{where or 'top level'}: a field must be a mapping, not {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name or "." in name:
        raise FieldsError(
            f"{f'{where}.' if where else ''}{name!r}: name must be a non-empty string without dots"
        )
    path = f"{where}.{name}" if where else name
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise FieldsError(f"{path}: unknown keys {sorted(unknown)}")
    ftype = raw.get("type")
    if ftype not in TYPES:
        raise FieldsError(f"{path}: type must be one of {sorted(TYPES)}, not {ftype!r}")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise FieldsError(f"{path}: a description is needed")
    children = raw.get("fields")
    if ftype == "group":
        if not isinstance(children, list) or not children:
            raise FieldsError(f"{path}: a group needs a non-empty fields list")
        parsed = tuple(_field(child, path) for child in children)
        names = [c.name for c in parsed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise FieldsError(f"{path}: duplicate fields {duplicates}")
    elif children is not None:
        raise FieldsError(f"{path}: only a group has fields")
    else:
        parsed = ()
    metric_type = raw.get("metric_type")
    if metric_type is not None and (ftype not in NUMERIC or metric_type not in METRIC_TYPES):
        raise FieldsError(f"{path}: metric_type must be counter or gauge, on a number")
    if ftype in NUMERIC and metric_type is None:
        raise FieldsError(f"{path}: a number needs metric_type (counter or gauge)")
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise FieldsError(f"{path}: format must be one of {sorted(FORMATS)}")
    unit = raw.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise FieldsError(f"{path}: unit must be a string")
    return Field(name, ftype, description.strip(), parsed, metric_type, unit, fmt)


def parse_fields(data: Any) -> list[FieldSet]:
    if not isinstance(data, list) or not data:
        raise FieldsError("fields.yml must be a non-empty list of field sets")
    sets = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict) or set(raw) - _SET_KEYS or "key" not in raw:
            raise FieldsError(f"field set {i}: expected key, title, description, fields")
        fields = raw.get("fields")
        if not isinstance(fields, list) or not fields:
            raise FieldsError(f"field set {raw['key']}: fields must be a non-empty list")
        sets.append(
            FieldSet(
                str(raw["key"]),
                str(raw.get("title", raw["key"])),
                str(raw.get("description", "")),
                tuple(_field(f, "") for f in fields),
            )
        )
    paths = [path for path, _ in leaves(sets)]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    if duplicates:
        raise FieldsError(f"fields declared twice: {duplicates[:5]}")
    return sets


def load_fields(text: str | None = None) -> list[FieldSet]:
    """The packaged fields.yml (or ``text``), validated."""
    if text is None:
        return list(_packaged_fields())
    try:
        data = yamlbounds.safe_load(text)
    except yaml.YAMLError as exc:
        raise FieldsError(f"fields.yml is not YAML: {exc}") from None
    return parse_fields(data)


@functools.cache
def _packaged_fields() -> tuple[FieldSet, ...]:
    """The packaged fields.yml, read once per process (each poller's field table and the
    template need it; the sets are frozen). It is our own file, not an operator's, so
    libyaml reads it when PyYAML has it: ~3x faster than the bounded pure-Python loader,
    whose cost (~0.4 s of CPU per read on a busy node) counted at every start."""
    text = resources.files("sorabeat").joinpath("fields.yml").read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", None)
    try:
        data = yamlbounds.safe_load(text) if loader is None else yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise FieldsError(f"fields.yml is not YAML: {exc}") from None
    return tuple(parse_fields(data))


def walk(fields: tuple[Field, ...], prefix: str = "") -> Iterator[tuple[str, Field]]:
    """(dotted path, field) for every field, groups included, depth first."""
    for f in fields:
        path = f"{prefix}{f.name}"
        yield path, f
        if f.type == "group":
            yield from walk(f.fields, path + ".")


def leaves(sets: list[FieldSet]) -> Iterator[tuple[str, Field]]:
    """(dotted path, field) for every non-group field of every set."""
    for s in sets:
        for path, f in walk(s.fields):
            if f.type != "group":
                yield path, f
