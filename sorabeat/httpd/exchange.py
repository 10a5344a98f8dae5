"""The sans-IO half of the server: h11 for one connection, plus the limits h11 leaves to
its user (head size of a head that arrives whole, body size, HTTP version, methods).

Feed it bytes; ``next_request`` gives each complete request once, in order (pipelined
ones wait in h11's buffer until the previous answer is out), or the ``ProtocolError`` to
answer before closing. ``respond`` turns an answer into the bytes to write.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from http import HTTPStatus

import h11

from sorabeat.httpd.messages import ProtocolError, Request, Response

_CONTINUE = h11.InformationalResponse(status_code=100, reason=b"Continue", headers=[])
_FRAMING = frozenset({"content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Limits:
    max_header_bytes: int = 16 * 1024  # request line and header fields (431 beyond)
    max_body_bytes: int = 1024 * 1024  # decoded request body (413 beyond)
    idle_timeout: float = 60.0  # seconds without a byte from the peer before closing
    methods: Collection[str] | None = None  # the methods served at all (405 for others)


def reason(status: int) -> bytes:
    """The reason phrase of ``status`` from the standard library's table ("" if unknown)."""
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


class Exchange:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # h11 bounds a head still incomplete; bytes reach it in slices of that bound while
        # it waits for a head (so a long head is never complete in one slice), and a head
        # that is complete anyway is measured in _start
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self._pending = bytearray()  # read, not yet given to h11
        self._head: h11.Request | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._failed = False
        self._method = b""  # of the request being answered

    def feed(self, data: bytes) -> None:
        self._pending += data

    def _pass_on(self) -> None:
        size = len(self._pending)
        if self._h11.their_state is not h11.SEND_BODY:
            size = min(size, self.limits.max_header_bytes)
        with memoryview(self._pending) as view:
            data = bytes(view[:size])  # one copy; h11 keeps its own buffer
        self._h11.receive_data(data)
        del self._pending[:size]

    def next_request(self) -> Request | ProtocolError | None:
        """The next complete request, the error that ends the connection, or None when
        more bytes are needed (or the previous answer is not out yet)."""
        if self._failed:
            return None
        try:
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA and self._pending:
                    self._pass_on()
                    continue
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return None
                if isinstance(event, h11.Request):
                    self._start(event)
                elif isinstance(event, h11.Data):
                    self._size += len(event.data)
                    if self._size > self.limits.max_body_bytes:
                        raise ProtocolError(413, self._too_large())
                    self._body.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    return self._complete()
                else:  # ConnectionClosed: nothing more will come
                    return None
        except h11.RemoteProtocolError as exc:
            self._failed = True
            if exc.error_status_hint == 431:
                return ProtocolError(431, self._head_too_large())
            return ProtocolError(exc.error_status_hint, str(exc))
        except ProtocolError as exc:
            self._failed = True
            return exc

    def _head_too_large(self) -> str:
        return f"request head over {self.limits.max_header_bytes} bytes"

    def _too_large(self) -> str:
        return f"request body over {self.limits.max_body_bytes} bytes"

    def _start(self, head: h11.Request) -> None:
        if not head.http_version.startswith(b"1."):
            raise ProtocolError(505, f"HTTP/{head.http_version.decode()} is not supported")
        # size as read: request line, "name: value" lines, the empty line
        size = len(head.method) + len(head.target) + 12
        size += sum(len(name) + len(value) + 4 for name, value in head.headers.raw_items())
        if size + 2 > self.limits.max_header_bytes:
            raise ProtocolError(431, self._head_too_large())
        names = {name for name, _ in head.headers}
        if b"content-length" in names and b"transfer-encoding" in names:
            raise ProtocolError(400, "both Transfer-Encoding and Content-Length")
        methods = self.limits.methods
        if methods is not None and head.method.decode("ascii") not in methods:
            allowed = ", ".join(methods)
            message = f"{head.method.decode('ascii')} is not allowed"
            raise ProtocolError(405, message, (("allow", allowed),))
        for name, value in head.headers:
            if name == b"content-length" and int(value) > self.limits.max_body_bytes:
                raise ProtocolError(413, self._too_large())
        self._head = head
        self._method = head.method
        self._body = []
        self._size = 0

    def _complete(self) -> Request:
        head = self._head
        assert head is not None  # h11 gives EndOfMessage only after a Request
        self._head = None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        return Request(
            method=head.method.decode("ascii"),
            target=head.target.decode("latin-1"),
            version=head.http_version.decode("ascii"),
            headers=tuple(
                (name.decode("ascii"), value.decode("latin-1")) for name, value in head.headers
            ),
            body=body,
        )

    def continue_bytes(self) -> bytes:
        """``100 Continue`` when the peer waits for it before sending the body, else b""."""
        if not self._h11.they_are_waiting_for_100_continue:
            return b""
        return self._h11.send(_CONTINUE) or b""

    def respond(self, response: Response, *, close: bool = False) -> list[bytes]:
        """The bytes of ``response``: the head, then the body as it is (not copied).

        ``close`` (or ``response.close``) announces ``Connection: close``; the body is left
        out for HEAD. With ``body_bytes`` only that much of the body is given, and the
        connection must end after it."""
        headers = [("content-length", str(len(response.body)))]
        headers += [h for h in response.headers if h[0].lower() not in _FRAMING]
        if close or response.close:
            headers.append(("connection", "close"))
        head = h11.Response(
            status_code=response.status, reason=reason(response.status), headers=headers
        )
        out = [self._h11.send(head) or b""]
        if response.body_bytes is not None:
            return [*out, response.body[: response.body_bytes]]
        if response.body and self._h11.our_state is h11.SEND_BODY and self._method != b"HEAD":
            out += self._h11.send_with_data_passthrough(h11.Data(data=response.body)) or []
        self._h11.send(h11.EndOfMessage())
        return out

    def responded_raw(self) -> None:
        """The handler wrote its own bytes: move h11 past this answer as if it had."""
        head = h11.Response(status_code=200, headers=[("content-length", "0")])
        self._h11.send(head)
        self._h11.send(h11.EndOfMessage())

    def next_cycle(self) -> bool:
        """After an answer: True when the connection stays open for the next request."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            self._method = b""
            return True
        return False
