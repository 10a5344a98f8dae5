"""The interface between the input and the outputs: events wait in a spool until an output
acknowledges them.

The input only appends; outputs only see ``Batch`` objects and report acknowledgements.
A batch is acknowledged from its start (``ack(batch, n)``: the first ``n`` events are done);
batches may be acknowledged in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class EventSink(Protocol):
    """Where the input hands encoded events."""

    async def append(self, events: Sequence[bytes]) -> int:
        """Store the events; returns once they are stored as durably as the spool promises,
        with how many of them were stored: the others were dropped (counted and logged)
        under the when_full policy. Stored events may still be dropped later, when
        ``drop_oldest`` makes room for newer ones (also counted and logged)."""


@dataclass(eq=False)
class Batch:
    """Consecutive events handed to an output; ``first`` is the spool position of events[0]."""

    first: int
    events: list[bytes]
    acked: int = 0

    def advance(self, count: int) -> int:
        """Record that the first ``count`` events are done; return how many are newly so.

        Acks only grow: a smaller or equal count is a late duplicate and changes nothing.
        """
        if count <= self.acked:
            return 0
        if count > len(self.events):
            raise ValueError(f"ack of {count} events for a batch of {len(self.events)}")
        newly = count - self.acked
        self.acked = count
        return newly


class Spool(EventSink, Protocol):
    async def get(self, max_events: int) -> Batch | None:
        """The next events in order (at most ``max_events``), waiting for at least one;
        None once the spool is closed."""

    def ack(self, batch: Batch, count: int) -> None:
        """The first ``count`` events of ``batch`` are done (delivered or dropped for good)."""

    def pending(self) -> int:
        """Events stored and not yet acknowledged (in flight included)."""

    async def wait_drained(self) -> None:
        """Return once nothing is pending."""

    async def close(self) -> None:
        """Persist what must be, and wake every waiting ``get`` with None."""
