"""``output.console``: one JSON document per line on stdout."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import BinaryIO

import orjson

from sorabeat.outputs.base import AckFn
from sorabeat.outputs.settings import ConsoleSettings


class ConsoleOutput:
    name = "console"
    max_in_flight = 1

    def __init__(self, settings: ConsoleSettings, stream: BinaryIO | None = None) -> None:
        self.pretty = settings.pretty
        self.batch_size = settings.bulk_max_size
        self.stream = stream if stream is not None else sys.stdout.buffer

    async def publish(self, events: Sequence[bytes], ack: AckFn) -> None:
        if self.pretty:
            lines = [orjson.dumps(orjson.loads(e), option=orjson.OPT_INDENT_2) for e in events]
        else:
            lines = list(events)
        try:
            self.stream.write(b"\n".join(lines) + b"\n")
            self.stream.flush()
        except BrokenPipeError:
            # stdout went away (e.g. `sorabeat demo | head`): nobody can receive these
            pass
        ack(len(events))

    async def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.stream.flush()
