"""Counters and gauges every stage reports into; the metrics log line and the HTTP
endpoints read the same numbers."""

from __future__ import annotations

import threading
from collections.abc import Mapping

Labels = tuple[tuple[str, str], ...]


class Registry:
    """Named counters (only go up) and gauges (current values), each with optional labels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, Labels], float] = {}
        self._gauges: dict[tuple[str, Labels], float] = {}

    @staticmethod
    def _key(name: str, labels: Mapping[str, str]) -> tuple[str, Labels]:
        return name, tuple(sorted(labels.items()))

    def add(self, name: str, value: float = 1, **labels: str) -> None:
        key = self._key(name, labels)
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._gauges[self._key(name, labels)] = value

    def counter(self, name: str, **labels: str) -> float:
        return self._counters.get(self._key(name, labels), 0)

    def gauge(self, name: str, **labels: str) -> float:
        return self._gauges.get(self._key(name, labels), 0)

    def total(self, name: str) -> float:
        """Sum of a counter over all its labels."""
        with self._lock:
            return sum(v for (n, _), v in self._counters.items() if n == name)

    def counters(self) -> dict[tuple[str, Labels], float]:
        with self._lock:
            return dict(self._counters)

    def gauges(self) -> dict[tuple[str, Labels], float]:
        with self._lock:
            return dict(self._gauges)
