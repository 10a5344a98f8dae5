"""Where a batch stands after each ``_bulk`` round, sans-IO: which events are done, which
go again, which are given up, and how far the done prefix (what the spool may forget) goes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sorabeat.es.response import Item, ItemResult


@dataclass
class Round:
    """What one response's items mean for the batch (positions are batch positions)."""

    retry: list[int] = field(default_factory=list)
    dropped: list[tuple[int, int, str]] = field(default_factory=list)  # (position, status, why)
    dead_letter: list[tuple[int, int, str]] = field(default_factory=list)
    ok: int = 0
    duplicates: int = 0
    toomany: int = 0
    failed: int = 0


def apply_items(
    positions: Sequence[int],
    items: Sequence[ItemResult],
    *,
    dead_letter_enabled: bool,
    dead_lettered: Collection[int] = (),
) -> Round:
    """Sort the items of a response into done, retry and permanent.

    A permanent refusal goes to the dead-letter index when one is configured, unless the
    event already is the dead-letter rewrite: then it is dropped (libbeat's poison pill).
    """
    result = Round()
    for position, item in zip(positions, items, strict=True):
        kind = item.kind
        if kind is Item.OK:
            result.ok += 1
        elif kind is Item.DUPLICATE:
            result.duplicates += 1
        elif kind is Item.TOO_MANY:
            result.toomany += 1
            result.retry.append(position)
        elif kind is Item.FAILED:
            result.failed += 1
            result.retry.append(position)
        elif dead_letter_enabled and position not in dead_lettered:
            result.dead_letter.append((position, item.status, item.reason))
        else:
            result.dropped.append((position, item.status, item.reason))
    return result


class BatchProgress:
    """Done flags of a batch and its done prefix."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._done = bytearray(size)
        self.acked = 0

    def finish(self, position: int) -> None:
        self._done[position] = 1

    def finish_all(self, positions: Sequence[int]) -> None:
        if isinstance(positions, range) and positions.step == 1:  # a run: one slice
            self._done[positions.start : positions.stop] = b"\x01" * len(positions)
            return
        for position in positions:
            self._done[position] = 1

    def is_done(self, position: int) -> bool:
        return bool(self._done[position])

    def advance(self) -> int | None:
        """Move the prefix over done events; the new prefix if it moved."""
        start = self.acked
        end = self._done.find(0, start)
        if end < 0:
            end = self.size
        if end == start:
            return None
        self.acked = end
        return end

    @property
    def complete(self) -> bool:
        return self.acked == self.size
