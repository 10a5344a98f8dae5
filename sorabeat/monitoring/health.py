"""Whether the pipeline makes progress: unhealthy when no event was acknowledged for
``unhealthy_after`` seconds while some wait (the ``spool.events.acked`` counter and the
``spool.events.pending`` gauge the spool maintains). Clock-free: callers pass ``now``."""

from __future__ import annotations

from dataclasses import dataclass

from sorabeat.monitoring.registry import Registry

ACKED = "spool.events.acked"
PENDING = "spool.events.pending"


@dataclass(frozen=True)
class HealthStatus:
    healthy: bool
    reason: str | None = None


class Health:
    def __init__(self, registry: Registry, unhealthy_after: float, now: float) -> None:
        self.registry = registry
        self.unhealthy_after = unhealthy_after
        self._acked = registry.total(ACKED)
        self._progress_at = now

    def pending(self) -> float:
        return sum(v for (name, _), v in self.registry.gauges().items() if name == PENDING)

    def sample(self, now: float) -> None:
        """Note progress; call it often (the server does, every second or so), so that
        the time events start waiting is known to within that interval."""
        acked = self.registry.total(ACKED)
        if acked != self._acked or self.pending() <= 0:
            self._acked = acked
            self._progress_at = now

    def status(self, now: float) -> HealthStatus:
        self.sample(now)
        waited = now - self._progress_at
        pending = self.pending()
        if pending > 0 and waited >= self.unhealthy_after:
            return HealthStatus(
                False,
                f"no event acknowledged for {waited:.0f}s while {pending:.0f} events wait "
                f"(http.unhealthy_after: {self.unhealthy_after:g}s)",
            )
        return HealthStatus(True)
