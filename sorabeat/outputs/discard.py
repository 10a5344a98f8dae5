"""The output of ``sorabeat run -N``: events are read from the spool and acknowledged
without being sent anywhere (to try the input and the spool alone)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sorabeat.outputs.base import AckFn

log = logging.getLogger("sorabeat.publish")


class DiscardOutput:
    name = "discard"
    max_in_flight = 1

    def __init__(self, batch_size: int = 2048) -> None:
        self.batch_size = batch_size

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        log.debug("publishing disabled (-N): %d events acknowledged without sending", len(events))
        ack(len(events))

    async def close(self) -> None:
        return None
