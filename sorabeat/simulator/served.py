"""Exact counts of what the simulator answered, so tests can compare event counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sorabeat.simulator.faults import FAULTS, METRICSETS


@dataclass
class TargetCounts:
    ok: int = 0  # answered 200 with a complete, valid document
    faulted: int = 0  # answered with a fault (counted when the request arrived)
    objects: int = 0  # connection objects in the ok answers (connections only)
    faults: dict[str, int] = field(default_factory=dict)


@dataclass
class ServedCounts:
    stats: TargetCounts = field(default_factory=TargetCounts)
    connections: TargetCounts = field(default_factory=TargetCounts)
    rejected: int = 0  # requests answered with a Sora API error (unknown target, GET, ...)

    def reset(self) -> None:
        """Back to zero, in place: holders of this object see the reset."""
        self.stats = TargetCounts()
        self.connections = TargetCounts()
        self.rejected = 0

    def target(self, metricset: str) -> TargetCounts:
        return self.stats if metricset == "stats" else self.connections

    def count_ok(self, metricset: str, objects: int = 0) -> None:
        counts = self.target(metricset)
        counts.ok += 1
        counts.objects += objects

    def count_fault(self, metricset: str, fault: str) -> None:
        counts = self.target(metricset)
        counts.faulted += 1
        counts.faults[fault] = counts.faults.get(fault, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in METRICSETS:
            counts = self.target(name)
            out[name] = {
                "ok": counts.ok,
                "faulted": counts.faulted,
                "faults": {f: counts.faults[f] for f in FAULTS if f in counts.faults},
            }
            if name == "connections":
                out[name]["objects"] = counts.objects
        out["rejected"] = self.rejected
        return out
