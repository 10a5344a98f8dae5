"""A sans-IO HTTP/1.1 server codec: bytes in, requests out; replies to bytes.

Only what an API server needs: request line and headers (bounded), ``Content-Length``
and ``chunked`` request bodies (bounded), keep-alive rules of HTTP/1.0 and 1.1,
``Expect: 100-continue``, pipelining. Anything else is a ``ProtocolError`` carrying the
status to answer before closing the connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
_MAX_CHUNK_LINE = 1024
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")
_CHUNK_SIZE = re.compile(rb"^([0-9A-Fa-f]{1,16})[ \t]*(?:;.*)?$")
_BARE_LF = re.compile(rb"(?<!\r)\n")

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


class ProtocolError(Exception):
    """The peer broke HTTP/1.1; answer ``status`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: tuple[int, int]
    headers: tuple[tuple[str, str], ...]  # names lowercased, in arrival order
    body: bytes
    keep_alive: bool

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lowercase); several are joined with ", "."""
        values = [v for n, v in self.headers if n == name]
        return ", ".join(values) if values else None


@dataclass
class _Head:
    method: str
    target: str
    version: tuple[int, int]
    headers: tuple[tuple[str, str], ...]
    keep_alive: bool
    length: int | None  # None: chunked


def _tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


class RequestParser:
    """Feed it bytes as they arrive; it returns each complete request once.

    ``feed`` returns the requests completed by the data, followed by a
    ``ProtocolError`` if the data broke the protocol (nothing is parsed after that).
    """

    def __init__(
        self, *, max_header_bytes: int = MAX_HEADER_BYTES, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._head: _Head | None = None
        self._body = bytearray()
        self._chunk_left = 0  # bytes of the current chunk still to come
        self._chunk_state = "size"  # size | data | data-end | trailers
        self._trailer_bytes = 0
        self._broken = False
        self._continue = False

    def want_continue(self) -> bool:
        """True once after the head of a request that asked for ``100 Continue``."""
        wanted, self._continue = self._continue, False
        return wanted

    def feed(self, data: bytes) -> list[Request | ProtocolError]:
        if self._broken:
            return []
        self._buffer += data
        out: list[Request | ProtocolError] = []
        try:
            while True:
                request = self._step()
                if request is None:
                    break
                out.append(request)
        except ProtocolError as exc:
            self._broken = True
            self._buffer.clear()
            out.append(exc)
        return out

    def _step(self) -> Request | None:
        if self._head is None:
            head = self._parse_head()
            if head is None:
                return None
            self._head = head
            if head.version >= (1, 1) and "100-continue" in _tokens(self._header(head, "expect")):
                self._continue = head.length != 0
        head = self._head
        done = self._read_sized(head.length) if head.length is not None else self._read_chunked()
        if not done:
            return None
        body = bytes(self._body)
        self._head = None
        self._body.clear()
        self._continue = False
        return Request(
            method=head.method,
            target=head.target,
            version=head.version,
            headers=head.headers,
            body=body,
            keep_alive=head.keep_alive,
        )

    @staticmethod
    def _header(head: _Head, name: str) -> str | None:
        values = [v for n, v in head.headers if n == name]
        return ", ".join(values) if values else None

    def _parse_head(self) -> _Head | None:
        # RFC 9112 2.2: ignore empty lines before the request line.
        while self._buffer.startswith(b"\r\n"):
            del self._buffer[:2]
        end = self._buffer.find(b"\r\n\r\n")
        if _BARE_LF.search(self._buffer, 0, end if end >= 0 else len(self._buffer)):
            raise ProtocolError(400, "a line of the request head ends in LF without CR")
        if end < 0:
            if len(self._buffer) > self.max_header_bytes:
                raise ProtocolError(431, f"request head over {self.max_header_bytes} bytes")
            return None
        if end + 4 > self.max_header_bytes:
            raise ProtocolError(431, f"request head over {self.max_header_bytes} bytes")
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        lines = raw.split(b"\r\n")
        method, target, version = self._request_line(lines[0])
        headers = tuple(self._header_line(line) for line in lines[1:])
        head = _Head(method, target, version, headers, keep_alive=False, length=0)
        connection = _tokens(self._header(head, "connection"))
        if version >= (1, 1):
            head.keep_alive = "close" not in connection
            if self._header(head, "host") is None:
                raise ProtocolError(400, "HTTP/1.1 request without a Host header")
        else:
            head.keep_alive = "keep-alive" in connection
        head.length = self._body_length(head)
        return head

    @staticmethod
    def _request_line(line: bytes) -> tuple[str, str, tuple[int, int]]:
        parts = line.split(b" ")
        if len(parts) != 3 or not all(parts):
            raise ProtocolError(400, "malformed request line")
        method, target, version = parts
        if not _TOKEN.match(method):
            raise ProtocolError(400, "malformed request method")
        match = _VERSION.match(version)
        if match is None:
            raise ProtocolError(400, "malformed HTTP version")
        major, minor = int(match[1]), int(match[2])
        if major != 1:
            raise ProtocolError(505, f"HTTP/{major}.{minor} is not supported")
        if any(b <= 0x20 or b == 0x7F for b in target):
            raise ProtocolError(400, "malformed request target")
        return method.decode("ascii"), target.decode("latin-1"), (major, minor)

    @staticmethod
    def _header_line(line: bytes) -> tuple[str, str]:
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError(400, "obsolete header line folding")
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise ProtocolError(400, "malformed header line")
        if b"\r" in value or b"\n" in value or b"\0" in value:
            raise ProtocolError(400, "invalid character in a header value")
        return name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")

    def _body_length(self, head: _Head) -> int | None:
        transfer = self._header(head, "transfer-encoding")
        length = [v for n, v in head.headers if n == "content-length"]
        if transfer is not None:
            if length:
                raise ProtocolError(400, "both Transfer-Encoding and Content-Length")
            if head.version < (1, 1):
                raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
            codings = [c.strip().lower() for c in transfer.split(",")]
            if codings != ["chunked"]:
                raise ProtocolError(501, f"unsupported Transfer-Encoding {transfer!r}")
            return None
        if not length:
            return 0
        values = {v.strip() for item in length for v in item.split(",")}
        if len(values) != 1 or not all(v.isdigit() and v.isascii() for v in values):
            raise ProtocolError(400, "invalid Content-Length")
        size = int(values.pop())
        if size > self.max_body_bytes:
            raise ProtocolError(413, f"request body over {self.max_body_bytes} bytes")
        return size

    def _read_sized(self, length: int) -> bool:
        if len(self._buffer) < length:
            return False
        self._body += self._buffer[:length]
        del self._buffer[:length]
        return True

    def _read_chunked(self) -> bool:
        while True:
            if self._chunk_state == "size":
                line = self._line()
                if line is None:
                    return False
                match = _CHUNK_SIZE.match(line)
                if match is None:
                    raise ProtocolError(400, "malformed chunk size")
                self._chunk_left = int(match[1], 16)
                if len(self._body) + self._chunk_left > self.max_body_bytes:
                    raise ProtocolError(413, f"request body over {self.max_body_bytes} bytes")
                self._chunk_state = "data" if self._chunk_left else "trailers"
            elif self._chunk_state == "data":
                if not self._buffer:
                    return False
                take = min(self._chunk_left, len(self._buffer))
                self._body += self._buffer[:take]
                del self._buffer[:take]
                self._chunk_left -= take
                if self._chunk_left:
                    return False
                self._chunk_state = "data-end"
            elif self._chunk_state == "data-end":
                if len(self._buffer) < 2:
                    return False
                if self._buffer[:2] != b"\r\n":
                    raise ProtocolError(400, "chunk data not followed by CRLF")
                del self._buffer[:2]
                self._chunk_state = "size"
            else:  # trailers: ignored, up to the empty line
                line = self._line()
                if line is None:
                    return False
                if not line:
                    self._chunk_state = "size"
                    self._trailer_bytes = 0
                    return True
                self._trailer_bytes += len(line) + 2
                if self._trailer_bytes > self.max_header_bytes:
                    raise ProtocolError(431, f"trailers over {self.max_header_bytes} bytes")

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_CHUNK_LINE:
                raise ProtocolError(400, "chunk size or trailer line too long")
            return None
        if end > _MAX_CHUNK_LINE:
            raise ProtocolError(400, "chunk size or trailer line too long")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line


def encode_head(
    status: int,
    content_length: int,
    *,
    date: str,
    close: bool,
    content_type: str = "application/json",
) -> bytes:
    """A response head as Cowboy writes it (lowercase names, ``server: Cowboy``)."""
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
        f"content-length: {content_length}",
        f"content-type: {content_type}",
        f"date: {date}",
        "server: Cowboy",
    ]
    if close:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
