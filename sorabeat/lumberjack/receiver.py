"""The receiver behind ``sorabeat receive``: a Lumberjack server that writes each event it
acknowledges as one JSON line, before the ACK goes out, so an event was acknowledged only
if it is in the file (a SIGKILLed receiver never acked what it did not write)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from sorabeat.lumberjack.protocol import ProtocolError
from sorabeat.lumberjack.server import ConnectionState, LumberjackServer, ServerOptions

EventsCallback = Callable[[ConnectionState, list[bytes]], None]


@dataclass
class ReceiverOptions:
    server: ServerOptions = field(default_factory=ServerOptions)
    output_path: str | None = None  # NDJSON file, appended to
    validate: bool = True  # each payload must be a JSON object (Logstash refuses others)
    keep_events: bool = False  # keep acknowledged events in memory (tests, the demo)


class LumberjackReceiver:
    def __init__(self, options: ReceiverOptions, on_events: EventsCallback | None = None) -> None:
        self.options = options
        self.on_events = on_events
        self.server = LumberjackServer(options.server, self._accept)
        self.events: list[bytes] = []
        self.events_written = 0
        self._fd: int | None = None

    @property
    def connections(self) -> list[ConnectionState]:
        return self.server.connections

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        if self.options.output_path and self._fd is None:
            self._fd = os.open(
                self.options.output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
            )
        return await self.server.start(host, port)

    async def close(self) -> None:
        await self.server.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def _accept(self, connection: ConnectionState, events: list[bytes]) -> None:
        if self.options.validate:
            for n, payload in enumerate(events, 1):
                _check_object(payload, n)
        if self._fd is not None:
            data = b"\n".join(_one_line(e) for e in events) + b"\n"
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        self.events_written += len(events)
        if self.options.keep_events:
            self.events.extend(events)
        if self.on_events is not None:
            self.on_events(connection, events)


def _check_object(payload: bytes, n: int) -> None:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"event {n} of the window is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError(
            f"event {n} of the window is a JSON {type(value).__name__}, not an object"
        )


def _one_line(payload: bytes) -> bytes:
    """NDJSON needs one line per event: JSON may hold raw newlines as whitespace."""
    if b"\n" in payload or b"\r" in payload:
        try:
            return orjson.dumps(orjson.loads(payload))
        except orjson.JSONDecodeError:
            return payload.replace(b"\r", b" ").replace(b"\n", b" ")
    return payload
