"""The Erlang VM list aggregates, against a straightforward reference computation."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.sora.stats import AGGREGATED_LISTS, SUFFIXES, add_aggregates


def reference(values: list[float]) -> dict[str, float]:
    """In exact rational arithmetic: a float sum's own rounding (six equal values near
    1e12 have a naive standard deviation of 1.2e-4) must not count against the code."""
    n = len(values)
    mean = sum(map(Fraction, values), Fraction(0)) / n
    var = sum(((Fraction(v) - mean) ** 2 for v in values), Fraction(0)) / n
    return {
        "max": max(values),
        "min": min(values),
        "mean": float(mean),
        "stddev": math.sqrt(var),
        "imbalance": max(values) / max(min(values), 1),
    }


def report(**lists: Any) -> dict[str, Any]:
    return {"erlang_vm": {"statistics": dict(lists)}}


def test_reference_sample_from_the_sora_notes() -> None:
    r = report(active_tasks=[2, 0, 1], active_tasks_all=[2, 0, 1, 0], run_queue_lengths=[1, 0, 0])
    assert add_aggregates(r) == 0
    s = r["erlang_vm"]["statistics"]
    assert s["active_tasks"] == [2, 0, 1]  # the list itself is kept
    assert (s["active_tasks_min"], s["active_tasks_max"], s["active_tasks_mean"]) == (0.0, 2.0, 1.0)
    assert s["active_tasks_stddev"] == pytest.approx(0.8165, abs=1e-4)
    assert s["active_tasks_imbalance"] == 2.0
    assert s["active_tasks_all_mean"] == 0.75
    assert s["active_tasks_all_stddev"] == pytest.approx(0.8292, abs=1e-4)
    assert s["run_queue_lengths_stddev"] == pytest.approx(0.4714, abs=1e-4)
    assert s["run_queue_lengths_imbalance"] == 1.0
    assert "run_queue_lengths_all_max" not in s  # missing list: nothing added


def test_aggregates_are_always_floats() -> None:
    r = report(active_tasks=[3, 3])
    add_aggregates(r)
    s = r["erlang_vm"]["statistics"]
    for suffix in SUFFIXES:
        assert type(s[f"active_tasks_{suffix}"]) is float


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"erlang_vm": 3},
        {"erlang_vm": {}},
        {"erlang_vm": {"statistics": []}},
        report(active_tasks=[]),
    ],
)
def test_missing_or_empty_adds_nothing(doc: dict[str, Any]) -> None:
    before = repr(doc)
    assert add_aggregates(doc) == 0
    assert repr(doc) == before


def test_non_numeric_members_are_skipped_and_counted() -> None:
    r = report(active_tasks=[1, "x", None, True, 3.5, {"a": 1}], run_queue_lengths="nope")
    assert add_aggregates(r) == 4
    s = r["erlang_vm"]["statistics"]
    assert s["active_tasks_max"] == 3.5 and s["active_tasks_min"] == 1.0
    assert "run_queue_lengths_max" not in s  # not a list: left alone


def test_values_near_the_float_limit_leave_out_what_would_be_infinite() -> None:
    r = report(active_tasks=[1.5e308, 1.5e308])
    add_aggregates(r)
    s = r["erlang_vm"]["statistics"]
    assert s["active_tasks_max"] == 1.5e308
    assert "active_tasks_mean" not in s and "active_tasks_stddev" not in s
    assert all(math.isfinite(v) for v in s.values() if isinstance(v, float))


numbers = st.one_of(st.integers(-(2**53), 2**53), st.floats(-1e12, 1e12, allow_nan=False))


@given(st.lists(numbers, min_size=1, max_size=64), st.sampled_from(AGGREGATED_LISTS))
def test_matches_reference_computation(values: list[float], name: str) -> None:
    r = report(**{name: list(values)})
    add_aggregates(r)
    s = r["erlang_vm"]["statistics"]
    expected = reference([float(v) for v in values])
    for suffix, value in expected.items():
        assert s[f"{name}_{suffix}"] == pytest.approx(value, rel=1e-9, abs=1e-6)
