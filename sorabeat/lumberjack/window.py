"""libbeat's slow-start window (``slow_start: true``): how many events the next window holds.

Start at 10 events; after a window is acknowledged, grow 1.5x while that size had never
succeeded before (but not past the batch it came from, nor ``bulk_max_size``), or grow
back quickly towards the largest size that ever succeeded; halve after any error.
Without slow start the window is the whole batch, up to ``bulk_max_size``.
"""

from __future__ import annotations

import math

START_SIZE = 10
MIN_SIZE = 1


class WindowSizer:
    def __init__(self, max_size: int, *, slow_start: bool, start: int = START_SIZE) -> None:
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        self.max_size = max_size
        self.slow_start = slow_start
        self.start = min(start, max_size)
        self.size = self.start if slow_start else max_size
        self.max_ok = 0  # largest window that was ever acknowledged

    def next_size(self, available: int) -> int:
        """Events to put in the next window when ``available`` are waiting."""
        return max(MIN_SIZE, min(self.size, available))

    def succeeded(self, batch_size: int) -> None:
        """A window of the current size, cut from a batch of ``batch_size``, was acked."""
        if not self.slow_start:
            return
        size = self.size
        if size > batch_size:
            return  # the batch was smaller than the window: says nothing about larger sizes
        if self.max_ok < size:
            self.max_ok = size
            grown = math.ceil(1.5 * size)
            if batch_size < grown:
                grown = batch_size
            self.size = min(grown, self.max_size)
        elif size < self.max_ok:
            self.size = min(math.ceil(1.5 * size), self.max_ok)

    def failed(self) -> None:
        if self.slow_start:
            self.size = max(MIN_SIZE, self.size // 2)

    def reset(self) -> None:
        """A new connection (libbeat's sync client after a ttl reconnect) starts small again."""
        if self.slow_start:
            self.size = self.start
