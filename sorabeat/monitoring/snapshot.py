"""Point-in-time copies of a Registry, their differences, and the nested shape libbeat uses
for them (``{"spool": {"events": {"acked": 3}}}``), whatever names the stages registered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sorabeat.monitoring.registry import Labels, Registry

Key = tuple[str, Labels]


@dataclass(frozen=True)
class Snapshot:
    counters: dict[Key, float] = field(default_factory=dict)
    gauges: dict[Key, float] = field(default_factory=dict)

    @classmethod
    def of(cls, registry: Registry) -> Snapshot:
        return cls(registry.counters(), registry.gauges())

    def moved_since(self, earlier: Snapshot) -> Snapshot:
        """Counters that went up since ``earlier`` (as deltas), and gauges that are not
        zero or changed (as current values): libbeat's "non-zero metrics"."""
        counters = {
            key: value - earlier.counters.get(key, 0)
            for key, value in self.counters.items()
            if value != earlier.counters.get(key, 0)
        }
        gauges = {
            key: value
            for key, value in self.gauges.items()
            if value != 0 or earlier.gauges.get(key, 0) != 0
        }
        return Snapshot(counters, gauges)

    def nonzero(self) -> Snapshot:
        return Snapshot(
            {k: v for k, v in self.counters.items() if v},
            {k: v for k, v in self.gauges.items() if v},
        )

    def empty(self) -> bool:
        return not self.counters and not self.gauges

    def tree(self) -> dict[str, Any]:
        """Counters and gauges nested by the dots of their names; labelled values one level
        further down, under ``k=v,k2=v2``."""
        root: dict[str, Any] = {}
        for values in (self.counters, self.gauges):
            for (name, labels), value in sorted(values.items()):
                path = [p for p in name.split(".") if p]
                if labels:
                    path.append(",".join(f"{k}={v}" for k, v in labels))
                _place(root, path or ["value"], number(value))
        return root


def number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 3)


def _place(root: dict[str, Any], path: list[str], value: int | float) -> None:
    node = root
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            # a name that is both a value and a prefix ("a.b" and "a.b.c"): keep both
            child = {} if child is None else {"value": child}
            node[part] = child
        node = child
    last = path[-1]
    if isinstance(node.get(last), dict):
        node[last]["value"] = value
    else:
        node[last] = value
