"""Sora's values checked against the types ``fields.yml`` declares for ``sora.<metricset>``.

Elasticsearch refuses a whole document when one value does not fit its field's mapping
(``"total_received": "n/a"`` on a ``long``). So a value that would be refused is left out of
the event, the rest of the event is kept, and the event says what was left out in
``sora.<metricset>.invalid_fields`` (the dotted paths, relative to ``sora.<metricset>``).
Fields fields.yml does not declare pass through unchanged.

What each declared type accepts is what Elasticsearch's default mapping accepts without
coercing a string into a number: ``long`` a JSON number within the signed 64-bit range,
``double``/``float`` any JSON number, ``keyword``/``text`` a string, number or boolean,
``date`` a string or number, ``ip`` a string, ``boolean`` true/false or "true"/"false"/"",
a group an object. ``null`` fits every type (Elasticsearch skips it); an array fits when
every member does (objects in an array are checked member by member).

Connection elements are checked without walking them value by value in the common case:
``FieldTypes.surely_valid`` looks at each object's values in bulk; only an element it is
unsure about is walked, and re-encoded only if something was left out.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Union

from sorabeat.es.fields import Field, load_fields

INVALID_FIELDS = "invalid_fields"  # the annotation, under sora.<metricset>
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

Group = dict[str, Union["Group", str]]  # field name -> sub-group or leaf type name

log = logging.getLogger("sorabeat.sora")


def describe(value: Any) -> str:
    """The JSON kind of a parsed value, for messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _is_long(v: Any) -> bool:
    t = type(v)
    return (t is int or t is float) and LONG_MIN <= v <= LONG_MAX


def _is_number(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


def _is_scalar(v: Any) -> bool:
    return type(v) in (str, int, float, bool)


def _is_date(v: Any) -> bool:
    return type(v) in (str, int, float)


def _is_string(v: Any) -> bool:
    return type(v) is str


def _is_boolean(v: Any) -> bool:
    return type(v) is bool or v in ("true", "false", "")


def _is_object(v: Any) -> bool:
    return type(v) is dict


ACCEPTS: dict[str, Callable[[Any], bool]] = {
    "long": _is_long,
    "double": _is_number,
    "float": _is_number,
    "keyword": _is_scalar,
    "text": _is_scalar,
    "date": _is_date,
    "ip": _is_string,
    "boolean": _is_boolean,
    "object": _is_object,
}
NUMBER_TYPES = frozenset({"long", "double", "float"})


@dataclass(frozen=True)
class InvalidField:
    path: str  # dotted, relative to sora.<metricset>
    found: str  # "a string"
    expected: str  # the fields.yml type, "long"


def _fits(value: Any, leaf_type: str) -> bool:
    if value is None:
        return True
    if type(value) is list:
        return all(_fits(member, leaf_type) for member in value)
    return ACCEPTS[leaf_type](value)


def _found(value: Any, leaf_type: str) -> str:
    """The kind of the first thing in ``value`` that does not fit (members of arrays too)."""
    if type(value) is list:
        for member in value:
            if not _fits(member, leaf_type):
                return f"an array holding {_found(member, leaf_type)}"
    if type(value) is int and not _is_long(value):
        return "a number outside the 64-bit range"
    return describe(value)


def remove_invalid(doc: dict[str, Any], group: Group, prefix: str = "") -> list[InvalidField]:
    """Take every declared value that does not fit its type out of ``doc`` (in place)."""
    invalid: list[InvalidField] = []
    for name in [k for k in doc if k in group]:
        value = doc[name]
        spec = group[name]
        path = prefix + name
        if isinstance(spec, dict):
            if type(value) is dict:
                invalid += remove_invalid(value, spec, path + ".")
                continue
            if value is None:
                continue
            if type(value) is list and all(m is None or type(m) is dict for m in value):
                for member in value:
                    if member is not None:
                        invalid += remove_invalid(member, spec, path + ".")
                continue
            invalid.append(InvalidField(path, describe(value), "an object (group)"))
        elif _fits(value, spec):
            continue
        else:
            invalid.append(InvalidField(path, _found(value, spec), spec))
        del doc[name]
    return invalid


_NUMBER_KINDS = frozenset({int, float})
_INT_KIND = {int}
_CHECK = Callable[[dict[str, Any]], bool]


def _numbers_only(doc: dict[str, Any]) -> bool:
    """``surely_valid`` of a group that declares only numbers: one look at the values' types,
    then the long range (a number too big for a long is left to the walk to judge)."""
    values: Any = doc.values()
    if not values:
        return True
    kinds = set(map(type, values))
    if kinds == _INT_KIND:  # orjson gives a float below -2**63: only the top can be too big
        return bool(max(values) <= LONG_MAX)
    if not kinds <= _NUMBER_KINDS:
        if type(None) not in kinds or not kinds <= _NUMBER_KINDS | {type(None)}:
            return False
        values = [v for v in values if v is not None]
        if not values:
            return True
    return bool(max(values) <= LONG_MAX and min(values) >= LONG_MIN)


_NONE = type(None)
# the Python types (as orjson parses JSON) each declared type may take; long and boolean
# values are checked further: the range, and which strings
_TYPES_OK: dict[str, frozenset[type]] = {
    "long": frozenset({int, float, _NONE}),
    "double": frozenset({int, float, _NONE}),
    "float": frozenset({int, float, _NONE}),
    "keyword": frozenset({str, int, float, bool, _NONE}),
    "text": frozenset({str, int, float, bool, _NONE}),
    "date": frozenset({str, int, float, _NONE}),
    "ip": frozenset({str, _NONE}),
    "boolean": frozenset({bool, str, _NONE}),
    "object": frozenset({dict, _NONE}),
}
_MAX_SHAPES = 16  # per group: Sora sends one or two (fields present or not); more are not kept


@dataclass(frozen=True)
class _Shape:
    """A group's field names with their values' types, known to fit; what is left to check."""

    types: dict[str, type]
    groups: tuple[tuple[str, _CHECK], ...]  # objects at declared groups: look inside
    longs: tuple[str, ...]  # numbers at declared longs: the range
    booleans: tuple[str, ...]  # strings at declared booleans: which


def _compile(group: Group) -> _CHECK:
    """The ``surely_valid`` check of one group, specialized to its shape."""
    subgroups = {n: _compile(spec) for n, spec in group.items() if isinstance(spec, dict)}
    leaves = {n: spec for n, spec in group.items() if not isinstance(spec, dict)}
    if not subgroups and all(spec in NUMBER_TYPES for spec in leaves.values()):
        return _numbers_only
    shapes: list[_Shape] = []

    def shape_of(types: dict[str, type]) -> _Shape | None:
        """What is left to check for values of these types; None if some type cannot fit."""
        groups, longs, booleans = [], [], []
        for name, kind in types.items():
            if name in subgroups:
                if kind is dict:
                    groups.append((name, subgroups[name]))
                elif kind is not _NONE:
                    return None
            elif name in leaves:
                spec = leaves[name]
                if kind not in _TYPES_OK[spec]:
                    return None
                if spec == "long" and kind is not _NONE:
                    longs.append(name)
                elif spec == "boolean" and kind is str:
                    booleans.append(name)
        return _Shape(types, tuple(groups), tuple(longs), tuple(booleans))

    def mixed(doc: dict[str, Any]) -> bool:
        if not doc:
            return True
        types = dict(zip(doc, map(type, doc.values()), strict=True))
        for shape in shapes:
            if shape.types == types:
                break
        else:
            found = shape_of(types)
            if found is None:
                return False
            shape = found
            if len(shapes) < _MAX_SHAPES:
                shapes.append(shape)
        for name, check in shape.groups:
            if not check(doc[name]):
                return False
        for name in shape.longs:
            if not LONG_MIN <= doc[name] <= LONG_MAX:
                return False
        if shape.booleans:  # rare: no generator in the common case
            return all(doc[name] in ("true", "false", "") for name in shape.booleans)
        return True

    return mixed


class FieldTypes:
    """The precompiled type table of one metricset's document."""

    def __init__(self, group: Group) -> None:
        self.group = group
        self._check = _compile(group)

    def surely_valid(self, doc: dict[str, Any]) -> bool:
        """True only if every declared value of ``doc`` (as orjson parses it) fits; False
        means "walk it".

        Cheap because it looks at each object's values in bulk: a group of numbers by the
        set of its values' types and its maximum; any other group by its field names and
        their values' types, compared in one go with shapes already found to fit (what
        those cannot say, the range of a long, is checked for the few fields concerned).
        """
        return self._check(doc)


def annotate(doc: dict[str, Any], invalid: list[InvalidField]) -> None:
    """Say in the document which fields were left out (replacing any earlier list)."""
    doc[INVALID_FIELDS] = [f.path for f in invalid]


def _group_of(fields: tuple[Field, ...]) -> Group:
    return {f.name: _group_of(f.fields) if f.type == "group" else f.type for f in fields}


@functools.cache
def metricset_types(metricset: str) -> FieldTypes:
    """The table of ``sora.<metricset>`` from the packaged fields.yml (built once)."""
    for field_set in load_fields():
        for top in field_set.fields:
            if top.name == "sora" and top.type == "group":
                for f in top.fields:
                    if f.name == metricset and f.type == "group":
                        return FieldTypes(_group_of(f.fields))
    raise LookupError(f"fields.yml declares no group sora.{metricset}")


class InvalidFieldLog:
    """Logs each invalid field of one host's metricset once for the process lifetime.

    Remembers at most ``limit`` paths (Sora declares a few hundred); past that, one line says
    further fields are not logged, so a misbehaving Sora cannot grow memory or the log.
    """

    def __init__(self, address: str, metricset: str, limit: int = 1000) -> None:
        self.address = address
        self.metricset = metricset
        self.limit = limit
        self._logged: set[str] = set()
        self._full = False

    def report(self, invalid: Iterable[InvalidField]) -> None:
        for f in invalid:
            if f.path in self._logged:
                continue
            if len(self._logged) >= self.limit:
                if not self._full:
                    self._full = True
                    log.warning(
                        "sora %s from %s: more than %d invalid fields, further ones are not logged",
                        self.metricset,
                        self.address,
                        self.limit,
                    )
                return
            self._logged.add(f.path)
            log.warning(
                "sora %s from %s: %s is %s, fields.yml declares %s: left out of the events "
                "(listed in sora.%s.%s; logged once per field)",
                self.metricset,
                self.address,
                f.path,
                f.found,
                f.expected,
                self.metricset,
                INVALID_FIELDS,
            )
