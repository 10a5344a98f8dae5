"""What a handler sees and answers: a complete request, a response, or raw bytes."""

from __future__ import annotations

from dataclasses import dataclass


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 or a limit; answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers  # e.g. Allow for 405


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # as sent: origin form with the query, or absolute form
    version: str  # "1.1", "1.0"
    headers: tuple[tuple[str, str], ...]  # names lowercased, in arrival order
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lowercase); several are joined with ", "."""
        values = [v for n, v in self.headers if n == name]
        return ", ".join(values) if values else None


@dataclass(frozen=True, slots=True)
class Response:
    """An answer; the server adds ``content-length`` (and ``Connection: close`` when it
    closes) and leaves the body out for HEAD.

    ``body_bytes`` and ``reset`` break the answer on purpose, for fault injection: send
    the head (announcing the whole body) and only ``body_bytes`` of the body, then end the
    connection; ``reset`` ends it with a TCP reset instead of a close.
    """

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()  # names as they go on the wire
    close: bool = False  # close the connection after this answer
    body_bytes: int | None = None
    reset: bool = False


@dataclass(frozen=True, slots=True)
class RawResponse:
    """Bytes written as they are, in place of an answer: whatever the handler wants the
    peer to see (wrong lengths, endless bodies, nothing at all). The server keeps reading
    requests on the connection unless ``close`` or ``reset``."""

    data: bytes
    close: bool = False
    reset: bool = False
