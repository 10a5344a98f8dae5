"""Rate-limited log lines for dropped events: the first drop of a kind is logged at once,
later ones at most once per interval, each line saying how many were dropped since."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Kind:
    unlogged: int = 0
    last: float = float("-inf")
    message: str = ""


class DropNotices:
    def __init__(
        self,
        log: logging.Logger,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._interval = interval
        self._clock = clock
        self._kinds: dict[str, _Kind] = {}

    def dropped(self, reason: str, count: int, message: str) -> None:
        """``message`` is formatted with ``count``: the events dropped since the last line."""
        kind = self._kinds.setdefault(reason, _Kind())
        kind.unlogged += count
        kind.message = message
        now = self._clock()
        if now - kind.last >= self._interval:
            self._emit(kind, now)

    def flush(self) -> None:
        """Log what was dropped since the last line of each kind."""
        for kind in self._kinds.values():
            if kind.unlogged:
                self._emit(kind, self._clock())

    def _emit(self, kind: _Kind, now: float) -> None:
        self._log.warning(kind.message, kind.unlogged)
        kind.unlogged = 0
        kind.last = now
