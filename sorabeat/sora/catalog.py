"""The metricsets sorabeat knows, and the calls a module's configured metricsets need on
one host: ``connections`` and ``channels`` share one GetStatsAllConnections call."""

from __future__ import annotations

from collections.abc import Sequence

from sorabeat.sora.all_connections import AllConnections
from sorabeat.sora.metricset import Metricset
from sorabeat.sora.stats import StatsReport

NAMES = ("stats", "connections", "channels")


def metricsets_for(names: Sequence[str], address: str) -> list[Metricset]:
    """One ``Metricset`` per API call, in the order the names were configured."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown metricset {unknown[0]!r}; known: {', '.join(NAMES)}")
    calls: list[Metricset] = []
    connections = "connections" in names
    channels = "channels" in names
    for name in dict.fromkeys(names):
        if name == "stats":
            calls.append(StatsReport())
        elif name == "connections" or not connections:
            calls.append(AllConnections(address, connections=connections, channels=channels))
    return calls
