"""What ``sorabeat demo`` tells about the events it shipped: how many of each kind, and the
one thing an operator looks at first (the busiest channel). Pure: events in, lines out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sorabeat.top.render import bits
from sorabeat.top.view import channel_row

# dataset -> how the summary names its events
KINDS = (
    ("sora.stats", "stats events"),
    ("sora.connections", "connection events"),
    ("sora.channels", "channel events"),
)


def _dataset(event: Mapping[str, Any]) -> str:
    dataset = (event.get("event") or {}).get("dataset")
    return dataset if isinstance(dataset, str) else "?"


def shipped_line(events: Sequence[Mapping[str, Any]]) -> str:
    """``7 polls: 7 stats events, 70 connection events, 21 channel events`` (a stats poll
    makes exactly one event, its error event if it failed, so they count the polls)."""
    counts = Counter(_dataset(e) for e in events)
    kinds = ", ".join(f"{counts[dataset]} {name}" for dataset, name in KINDS)
    errors = sum(1 for e in events if "error" in e)
    failed = f", {errors} of them error events" if errors else ""
    return f"{counts['sora.stats']} polls: {kinds}{failed}"


def busiest_line(events: Iterable[Mapping[str, Any]]) -> str:
    """The channel with the most bits per second (in + out) at the last poll that had
    channel rates."""
    by_poll: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        doc = (event.get("sora") or {}).get("channels")
        if _dataset(event) == "sora.channels" and isinstance(doc, dict) and "rates" in doc:
            by_poll.setdefault(str(event.get("@timestamp")), []).append(doc)
    if not by_poll:
        return "busiest channel: none yet (a channel's bitrate needs two polls)"
    last = by_poll[max(by_poll)]
    rows = [channel_row(doc) for doc in last]
    top = max(rows, key=lambda r: ((r.bits_in or 0.0) + (r.bits_out or 0.0), r.channel_id))
    return (
        f"busiest channel: {top.channel_id}, {bits(top.bits_in)}bit/s in, "
        f"{bits(top.bits_out)}bit/s out, {top.connections} connections "
        f"(of {len(rows)} channels at the last poll)"
    )
