"""libbeat's ``when`` conditions: each operator's meaning, nesting, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.conditions import ConditionError, compile_condition

EVENT: dict[str, Any] = {
    "metricset": {"name": "connections"},
    "service": {"address": "sora1:3000"},
    "sora": {
        "connections": {
            "channel_id": "room-42",
            "role": "sendonly",
            "rtp": {"total_received_byte_size": 1500, "ratio": 0.5},
            "flag": True,
        }
    },
    "tags": ["prod", "tokyo-1"],
    "dotted.key": "x",
}


def check(spec: Any, event: dict[str, Any] = EVENT) -> bool:
    return compile_condition(spec)(event)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"equals": {"metricset.name": "connections"}}, True),
        ({"equals": {"metricset.name": "stats"}}, False),
        ({"equals": {"metricset": {"name": "connections"}}}, True),  # expanded dotted key
        ({"equals": {"sora.connections.rtp.total_received_byte_size": 1500}}, True),
        ({"equals": {"sora.connections.rtp.total_received_byte_size": "1500"}}, False),
        ({"equals": {"sora.connections.flag": True}}, True),
        ({"equals": {"sora.connections.flag": 1}}, False),  # a boolean is not a number
        ({"equals": {"missing.field": "x"}}, False),
        ({"equals": {"metricset.name": "connections", "sora.connections.role": "recvonly"}}, False),
        ({"equals": {"dotted.key": "x"}}, True),
        ({"contains": {"sora.connections.channel_id": "room-"}}, True),
        ({"contains": {"sora.connections.channel_id": "lobby"}}, False),
        ({"contains": {"tags": "tokyo"}}, True),  # any string of a list
        ({"contains": {"sora.connections.rtp.ratio": "0"}}, False),  # not a string
        ({"regexp": {"sora.connections.channel_id": "^room-[0-9]+$"}}, True),
        ({"regexp": {"sora.connections.channel_id": "[0-9]{3}"}}, False),
        ({"regexp": {"service.address": "1:3"}}, True),  # searches, not anchored
        ({"regexp": {"tags": "^tok"}}, True),
        ({"range": {"sora.connections.rtp.total_received_byte_size.gte": 1500}}, True),
        ({"range": {"sora.connections.rtp.total_received_byte_size.gt": 1500}}, False),
        (
            {"range": {"sora.connections.rtp.ratio.gt": 0.1, "sora.connections.rtp.ratio.lt": 1}},
            True,
        ),
        ({"range": {"sora": {"connections": {"rtp": {"ratio": {"lte": 0.4}}}}}}, False),
        ({"range": {"sora.connections.role.gte": 0}}, False),  # not a number
        ({"range": {"missing.gte": 0}}, False),
        ({"has_fields": ["sora.connections.channel_id", "metricset.name"]}, True),
        ({"has_fields": ["sora.connections.channel_id", "sora.connections.nope"]}, False),
        ({"or": [{"equals": {"metricset.name": "stats"}}, {"has_fields": ["tags"]}]}, True),
        ({"or": [{"equals": {"metricset.name": "stats"}}, {"has_fields": ["nope"]}]}, False),
        ({"and": [{"equals": {"metricset.name": "connections"}}, {"has_fields": ["tags"]}]}, True),
        ({"and": [{"equals": {"metricset.name": "connections"}}, {"has_fields": ["x"]}]}, False),
        ({"not": {"equals": {"metricset.name": "stats"}}}, True),
        ({"not": {"not": {"equals": {"metricset.name": "stats"}}}}, False),
    ],
)
def test_operators(spec: Any, expected: bool) -> None:
    assert check(spec) is expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"equal": {"a": 1}}, "unknown operator 'equal'"),
        ({"equals": {"a": 1}, "contains": {"b": "c"}}, "expected one operator"),
        ("equals", "expected one operator"),
        ({"equals": {}}, "equals: expected a mapping"),
        ({"equals": {"a": [1]}}, "equals.a: expected a string, number or boolean"),
        ({"contains": {"a": 1}}, "contains.a: expected a string"),
        ({"regexp": {"a": "("}}, "regexp.a: invalid regular expression"),
        ({"range": {"a": 1}}, "range.a: expected <field>.gte"),
        ({"range": {"a.between": 1}}, "range.a.between: expected <field>.gte"),
        ({"range": {"a.gt": "1"}}, "range.a.gt: expected a number"),
        ({"has_fields": "a"}, "has_fields: expected a list"),
        ({"or": {"equals": {"a": 1}}}, "or: expected a list of conditions"),
        ({"and": [{"equals": {"a": 1}}, {"bad": {}}]}, "and.1: unknown operator 'bad'"),
        ({"not": {"range": {"x": 1}}}, "not: range.x: expected"),
    ],
)
def test_errors_name_the_problem(spec: Any, message: str) -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition(spec)
    assert message in str(info.value)


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.integers(-5, 5) | st.sampled_from(["", "5", True])
    ),
    st.sampled_from(["a", "b", "c"]),
    st.integers(-5, 5),
)
def test_not_and_or_follow_boolean_logic(event: dict[str, Any], field: str, n: int) -> None:
    left = {"range": {f"{field}.gte": n}}
    right = {"has_fields": [field]}
    lv, rv = check(left, event), check(right, event)
    assert check({"not": left}, event) is (not lv)
    assert check({"and": [left, right]}, event) is (lv and rv)
    assert check({"or": [left, right]}, event) is (lv or rv)
    value = event.get(field)
    numeric = isinstance(value, int) and not isinstance(value, bool)
    assert lv is (numeric and value >= n)
