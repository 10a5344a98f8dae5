"""The periodic "Non-zero metrics in the last 30s" log line (libbeat's wording): counters
that moved in the interval as deltas, gauges at their current value, and the totals at exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sorabeat.monitoring.registry import Registry
from sorabeat.monitoring.snapshot import Snapshot

log = logging.getLogger("sorabeat.monitoring")


def period_text(seconds: float) -> str:
    """A period as libbeat prints Go durations: 30s, 1m0s, 500ms."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s"


class MetricsLog:
    def __init__(self, registry: Registry, period: float) -> None:
        self.registry = registry
        self.period = period
        self._last = Snapshot()

    def interval(self) -> tuple[str, dict[str, Any]]:
        """The message and extra fields for the interval since the previous call."""
        current = Snapshot.of(self.registry)
        moved = current.moved_since(self._last)
        self._last = current
        window = period_text(self.period)
        if moved.empty():
            return f"No non-zero metrics in the last {window}", {}
        return f"Non-zero metrics in the last {window}", {"monitoring": {"metrics": moved.tree()}}

    def totals(self) -> tuple[str, dict[str, Any]]:
        return "Total metrics", {
            "monitoring": {"metrics": Snapshot.of(self.registry).nonzero().tree()}
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Log one line every period until ``stop``, then the totals."""
        self.interval()  # the first line covers its own period, not the start-up
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.period)
            if stop.is_set():
                break
            message, extra = self.interval()
            log.info(message, extra=extra)
        message, extra = self.totals()
        log.info(message, extra=extra)
