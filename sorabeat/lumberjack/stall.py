"""Is a connection stalled? Sans-IO, with the clock passed in.

Logstash answers a busy pipeline with ``ACK 0`` keepalives every 5 s; libbeat takes each as
progress, so a wedged pipeline holds a window forever. Here only acknowledged events count:
a connection with events waiting and none acknowledged for ``limit`` seconds is stalled.
"""

from __future__ import annotations


class AckStall:
    def __init__(self, limit: float, now: float) -> None:
        self.limit = limit  # 0: never stalled
        self.since = now  # the last acknowledged event, or when waiting began
        self.stalled = False

    def waiting_began(self, now: float) -> None:
        """A window went out while nothing was waiting: the clock starts now, not at the
        last ACK of an earlier busy spell."""
        self.since = now

    def acknowledged(self, now: float) -> bool:
        """Events were acknowledged; True if that ends a stall."""
        ended = self.stalled
        self.since = now
        self.stalled = False
        return ended

    def check(self, now: float, waiting: int) -> bool:
        """True once, when the connection becomes stalled."""
        if self.limit <= 0 or waiting <= 0 or self.stalled:
            return False
        if now - self.since >= self.limit:
            self.stalled = True
            return True
        return False

    def seconds(self, now: float) -> float:
        """Seconds since the last acknowledged event (or since waiting began)."""
        return max(0.0, now - self.since)
