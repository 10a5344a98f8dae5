"""Fault plans (which requests get a broken answer) and served counts."""

from __future__ import annotations

from typing import Any

import pytest

from sorabeat.simulator.faults import FaultError, make_plan, plan_from_request
from sorabeat.simulator.served import ServedCounts


def test_no_fault_by_default() -> None:
    plan = make_plan("none")
    assert [plan.take("stats"), plan.take("connections")] == ["none", "none"]


def test_a_counted_fault_heals_itself() -> None:
    plan = make_plan("500", count=2)
    assert [plan.take("stats"), plan.take("connections"), plan.take("stats")] == [
        "500",
        "500",
        "none",
    ]
    assert plan.describe() == {"fault": "none", "count": None, "targets": ["stats", "connections"]}


def test_an_uncounted_fault_lasts() -> None:
    plan = make_plan("slow")
    assert {plan.take("stats") for _ in range(50)} == {"slow"}


def test_targets_limit_the_fault_and_other_requests_do_not_use_it_up() -> None:
    plan = make_plan("truncated", count=1, targets=["connections"])
    assert plan.take("stats") == "none"
    assert plan.take("stats") == "none"
    assert plan.take("connections") == "truncated"
    assert plan.take("connections") == "none"


def test_a_request_body_makes_a_plan() -> None:
    plan = plan_from_request({"fault": "invalid-json", "count": 3, "targets": ["stats"]})
    assert plan.describe() == {"fault": "invalid-json", "count": 3, "targets": ["stats"]}
    assert plan_from_request({"fault": "none"}).describe()["fault"] == "none"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, '"fault"'),
        ({"fault": "boom"}, "unknown fault"),
        ({"fault": 500}, '"fault"'),
        ({"fault": "500", "count": 0}, "count"),
        ({"fault": "500", "count": True}, "count"),
        ({"fault": "500", "count": "2"}, "count"),
        ({"fault": "500", "targets": []}, "targets"),
        ({"fault": "500", "targets": "stats"}, "targets"),
        ({"fault": "500", "targets": ["stats", "nodes"]}, "targets"),
        ({"fault": "500", "extra": 1}, "extra"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(body: dict[str, Any], words: str) -> None:
    with pytest.raises(FaultError, match=words):
        plan_from_request(body)


def test_served_counts_snapshot() -> None:
    served = ServedCounts()
    served.count_ok("stats")
    served.count_ok("connections", 7)
    served.count_ok("connections", 0)
    served.count_fault("connections", "500")
    served.count_fault("connections", "500")
    served.count_fault("stats", "slow")
    served.rejected += 1
    assert served.snapshot() == {
        "stats": {"ok": 1, "faulted": 1, "faults": {"slow": 1}},
        "connections": {"ok": 2, "faulted": 2, "faults": {"500": 2}, "objects": 7},
        "rejected": 1,
    }
