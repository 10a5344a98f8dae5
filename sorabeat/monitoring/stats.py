"""The JSON documents of ``GET /`` and ``GET /stats``, shaped like libbeat's."""

from __future__ import annotations

import os
from typing import Any

from sorabeat.event import AgentInfo
from sorabeat.monitoring.snapshot import Snapshot, number

# The pipeline's headline numbers, from the counters the stages maintain.
EVENT_SUMMARY = {
    "produced": "sora.events",
    "spooled": "spool.events.appended",
    "acked": "spool.events.acked",
    "dropped": "spool.events.dropped",
}
RESERVED = frozenset({"beat", "events"})


def identity(agent: AgentInfo) -> dict[str, Any]:
    return {
        "beat": "sorabeat",
        "name": agent.name,
        "hostname": agent.hostname,
        "uuid": agent.id,
        "ephemeral_id": agent.ephemeral_id,
        "version": agent.version,
    }


def rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _sum(values: dict[Any, float], name: str) -> float:
    return sum(v for (n, _), v in values.items() if n == name)


def stats(agent: AgentInfo, snapshot: Snapshot, uptime_s: float) -> dict[str, Any]:
    """Beat info and uptime, an event summary, then every registered metric, nested."""
    doc: dict[str, Any] = {
        "beat": {
            "info": {
                "name": agent.name,
                "uuid": agent.id,
                "ephemeral_id": agent.ephemeral_id,
                "version": agent.version,
                "uptime": {"ms": int(uptime_s * 1000)},
            },
            "memstats": {"rss": rss_bytes()},
        },
        "events": {
            **{key: number(_sum(snapshot.counters, name)) for key, name in EVENT_SUMMARY.items()},
            "pending": number(_sum(snapshot.gauges, "spool.events.pending")),
        },
    }
    for key, value in snapshot.tree().items():
        doc[key if key not in RESERVED else f"{key}_metrics"] = value
    return doc
