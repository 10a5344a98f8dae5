"""What every output offers the pipeline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

AckFn = Callable[[int], None]


class Output(Protocol):
    """Delivers batches of encoded events.

    ``publish`` calls ``ack(n)`` whenever the first ``n`` events of the batch are done
    (delivered, or dropped for good), ``n`` growing; it returns once all are done. It retries
    transient failures itself, with backoff, and raises only for programming errors.
    Cancelling it stops delivery; what was acknowledged stays acknowledged. The pipeline
    starts at most ``max_in_flight`` publishes at once, in spool order.
    """

    name: str
    batch_size: int
    max_in_flight: int

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None: ...

    async def close(self) -> None: ...
