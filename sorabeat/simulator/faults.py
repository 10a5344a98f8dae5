"""Fault switches: which of the next stats/connections requests get a broken answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAULTS = ("none", "500", "invalid-json", "truncated", "slow")
METRICSETS = ("stats", "connections")


class FaultError(ValueError):
    """A SetFault request or --fault value that cannot be obeyed; the message says why."""


@dataclass
class FaultPlan:
    fault: str = "none"
    remaining: int | None = None  # how many more requests get it; None: until changed
    targets: frozenset[str] = frozenset(METRICSETS)

    def take(self, metricset: str) -> str:
        """The fault for this request of ``metricset`` ("none" for a normal answer)."""
        if self.fault == "none" or metricset not in self.targets:
            return "none"
        fault = self.fault
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.fault, self.remaining = "none", None
        return fault

    def describe(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "count": self.remaining,
            "targets": [m for m in METRICSETS if m in self.targets],
        }


def make_plan(
    fault: str, count: int | None = None, targets: list[str] | tuple[str, ...] | None = None
) -> FaultPlan:
    if fault not in FAULTS:
        raise FaultError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
    if count is not None and (type(count) is not int or count < 1):
        raise FaultError(f"count must be a positive integer or omitted, got {count!r}")
    if targets is None:
        chosen = frozenset(METRICSETS)
    else:
        unknown = [t for t in targets if t not in METRICSETS]
        if unknown or not targets:
            raise FaultError(
                f"targets must be a non-empty list of {' and '.join(METRICSETS)}, got {targets!r}"
            )
        chosen = frozenset(targets)
    if fault == "none":
        return FaultPlan()
    return FaultPlan(fault=fault, remaining=count, targets=chosen)


def plan_from_request(body: dict[str, Any]) -> FaultPlan:
    """``{"fault": "500", "count": 2, "targets": ["stats"]}`` (count and targets optional)."""
    unknown = sorted(set(body) - {"fault", "count", "targets"})
    if unknown:
        raise FaultError(f"unknown member(s) {', '.join(unknown)}; expected fault, count, targets")
    fault = body.get("fault")
    if not isinstance(fault, str):
        raise FaultError(f'"fault" must be one of {", ".join(FAULTS)}, got {fault!r}')
    targets = body.get("targets")
    if targets is not None and not (
        isinstance(targets, list) and all(isinstance(t, str) for t in targets)
    ):
        raise FaultError(f'"targets" must be a list of strings, got {targets!r}')
    return make_plan(fault, body.get("count"), targets)
