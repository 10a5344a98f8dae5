"""The log lines of something that keeps failing: the first failure, one line per interval
while it goes on, one line when it is back.

A dead Sora host polled every few seconds, or a Logstash that refuses connections, would
otherwise fill the log with the same line; and nothing would say when it came back. The
class only decides which line to write (pure, with injected clocks): callers log it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

REMIND_EVERY = 60.0  # seconds between "still failing" lines


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class FailureStreak:
    """Failures of one thing (``what``: "sora stats from host:port", "logstash host:port")."""

    def __init__(
        self,
        what: str,
        *,
        remind_every: float = REMIND_EVERY,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.what = what
        self.remind_every = remind_every
        self.clock = clock
        self.wall_clock = wall_clock
        self.failures = 0  # in the current streak; 0: not failing
        self._since = ""  # wall-clock time of the streak's first failure
        self._last_line = 0.0  # clock() of the last line written for this streak

    def failed(self, reason: str) -> str | None:
        """Count a failure; the line to log now, if any (the first failure, then a reminder
        once every ``remind_every`` seconds)."""
        self.failures += 1
        now = self.clock()
        if self.failures == 1:
            self._since = _utc(self.wall_clock())
            self._last_line = now
            return f"{self.what}: {reason}"
        if now - self._last_line >= self.remind_every:
            self._last_line = now
            return (
                f"{self.what}: still failing, {self.failures} times since {self._since}: {reason}"
            )
        return None

    def succeeded(self) -> str | None:
        """End the streak; the line to log if there was one ("... is back")."""
        if not self.failures:
            return None
        failures, since = self.failures, self._since
        self.failures = 0
        noun = "failure" if failures == 1 else "failures"
        return f"{self.what} is back after {failures} {noun} since {since}"
