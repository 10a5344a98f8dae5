"""libbeat's ``when`` conditions, pure: compiled once from the configuration, evaluated on a
decoded event.

``equals``, ``contains``, ``regexp``, ``range``, ``has_fields``, ``or``, ``and``, ``not``,
with libbeat's meanings: several fields under one operator must all hold; a missing field
makes a field test false; ``contains`` and ``regexp`` also hold when any string of a list
field does; ``regexp`` searches (is not anchored); ``range`` takes ``field.gte``-style keys.
The configuration loader may have expanded ``a.b: 1`` into ``{a: {b: 1}}``: field maps are
flattened back to dotted paths first, so both spellings mean the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Condition = Callable[[Mapping[str, Any]], bool]
_RANGE_OPS = ("gte", "gt", "lte", "lt")


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message names the operator and field."""


def lookup(event: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """(present, value) of a dotted field: nested objects, or a literal dotted key."""
    if path in event:
        return True, event[path]
    node: Any = event
    for part in path.split("."):
        # decoded JSON: dict, and the exact type check is several times cheaper than Mapping's
        if type(node) is not dict or part not in node:
            return False, None
        node = node[part]
    return True, node


def _flatten(fields: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _field_map(op: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping) or not spec:
        raise ConditionError(f"{op}: expected a mapping of field: value")
    return _flatten(spec)


def _equals(spec: Any) -> Condition:
    wanted = _field_map("equals", spec)
    for field, value in wanted.items():
        if not isinstance(value, str | int | float | bool) or value is None:
            raise ConditionError(
                f"equals.{field}: expected a string, number or boolean, got {value!r}"
            )

    def test(event: Mapping[str, Any]) -> bool:
        for field, value in wanted.items():
            present, actual = lookup(event, field)
            if not present:
                return False
            if isinstance(value, bool) or isinstance(actual, bool):
                if actual is not value:
                    return False
            elif _is_number(value):
                if not _is_number(actual) or actual != value:
                    return False
            elif actual != value:
                return False
        return True

    return test


def _contains(spec: Any) -> Condition:
    wanted = _field_map("contains", spec)
    for field, value in wanted.items():
        if not isinstance(value, str):
            raise ConditionError(f"contains.{field}: expected a string, got {value!r}")

    def test(event: Mapping[str, Any]) -> bool:
        for field, value in wanted.items():
            if not any(value in s for s in _strings(lookup(event, field)[1])):
                return False
        return True

    return test


def _regexp(spec: Any) -> Condition:
    compiled: dict[str, re.Pattern[str]] = {}
    for field, pattern in _field_map("regexp", spec).items():
        if not isinstance(pattern, str):
            raise ConditionError(f"regexp.{field}: expected a regular expression string")
        try:
            compiled[field] = re.compile(pattern)
        except re.error as exc:
            raise ConditionError(f"regexp.{field}: invalid regular expression: {exc}") from None

    def test(event: Mapping[str, Any]) -> bool:
        for field, pattern in compiled.items():
            if not any(pattern.search(s) for s in _strings(lookup(event, field)[1])):
                return False
        return True

    return test


def _range(spec: Any) -> Condition:
    bounds: dict[str, list[tuple[str, float]]] = {}
    for key, value in _field_map("range", spec).items():
        field, _, op = key.rpartition(".")
        if not field or op not in _RANGE_OPS:
            raise ConditionError(f"range.{key}: expected <field>.gte, .gt, .lte or .lt")
        if not _is_number(value):
            raise ConditionError(f"range.{key}: expected a number, got {value!r}")
        bounds.setdefault(field, []).append((op, value))

    def test(event: Mapping[str, Any]) -> bool:
        for field, limits in bounds.items():
            actual = lookup(event, field)[1]
            if not _is_number(actual):
                return False
            for op, limit in limits:
                if not (
                    (op == "gte" and actual >= limit)
                    or (op == "gt" and actual > limit)
                    or (op == "lte" and actual <= limit)
                    or (op == "lt" and actual < limit)
                ):
                    return False
        return True

    return test


def _has_fields(spec: Any) -> Condition:
    if not isinstance(spec, list) or not spec or not all(isinstance(f, str) for f in spec):
        raise ConditionError("has_fields: expected a list of field names")
    fields = list(spec)
    return lambda event: all(lookup(event, f)[0] for f in fields)


def _all_of(op: str, spec: Any) -> list[Condition]:
    if not isinstance(spec, list) or not spec:
        raise ConditionError(f"{op}: expected a list of conditions")
    return [compile_condition(s, f"{op}.{i}") for i, s in enumerate(spec)]


def compile_condition(spec: Any, where: str = "") -> Condition:
    """A condition from its configuration (one operator per mapping). Raises ConditionError."""
    prefix = f"{where}: " if where else ""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ConditionError(
            f"{prefix}expected one operator (equals, contains, regexp, range, has_fields, "
            "or, and, not)"
        )
    ((op, body),) = spec.items()
    try:
        if op == "equals":
            return _equals(body)
        if op == "contains":
            return _contains(body)
        if op == "regexp":
            return _regexp(body)
        if op == "range":
            return _range(body)
        if op == "has_fields":
            return _has_fields(body)
        if op == "or":
            parts = _all_of("or", body)
            return lambda event: any(p(event) for p in parts)
        if op == "and":
            parts = _all_of("and", body)
            return lambda event: all(p(event) for p in parts)
        if op == "not":
            inner = compile_condition(body, "not")
            return lambda event: not inner(event)
    except ConditionError as exc:
        raise ConditionError(f"{prefix}{exc}") from None
    raise ConditionError(
        f"{prefix}unknown operator {op!r} (expected equals, contains, regexp, range, "
        "has_fields, or, and, not)"
    )
