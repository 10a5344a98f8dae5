"""What every metricset is to the poller: a name, the API call it makes, and how a response
becomes documents, sans-IO (bytes are fed in, documents come out; no socket, no clock).

The poller knows only this interface: adding a metricset is writing one more of these, not
another branch in the poller or the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sorabeat.sora.connections import Document
from sorabeat.sora.field_types import InvalidField


class ResponseError(Exception):
    """The response is not what the call returns; the message says how, without the host."""


class NotJSONError(ResponseError):
    """The body does not parse; ``head`` is its start, for the error message."""

    def __init__(self, reason: str, head: bytes | bytearray) -> None:
        super().__init__(reason)
        self.head = bytes(head)


@dataclass
class Reading:
    """The documents of one response, by the event metricset they belong to, and what was
    left out of them (for the poller to count and log)."""

    documents: dict[str, list[Document]]
    invalid: list[InvalidField] = field(default_factory=list)
    skipped: int = 0  # non-numeric members of the erlang_vm lists, not aggregated


class ResponseReader(Protocol):
    """One response being read: the body is fed as it arrives (``size`` bounds it)."""

    @property
    def size(self) -> int: ...

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> Reading:
        """The documents; raises ResponseError (or NotJSONError) if the body is not the
        call's response. State the metricset keeps across polls changes only on success."""
        ...


class Metricset(Protocol):
    """One API call to one Sora host and the event metricsets made from its response."""

    @property
    def name(self) -> str:
        """As configured; labels metrics and log lines."""
        ...

    @property
    def target(self) -> str:
        """The ``x-sora-target`` header of the call."""
        ...

    @property
    def emits(self) -> tuple[str, ...]:
        """The event metricsets a poll produces, in this order."""
        ...

    def reader(self, poll_time_us: int) -> ResponseReader:
        """A reader for the response of the poll started at ``poll_time_us``."""
        ...
