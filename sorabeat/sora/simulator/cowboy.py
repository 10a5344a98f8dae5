"""How Sora's web server, Cowboy, frames answers: lowercase header names, ``server:
Cowboy``, a ``date``; and the limits it reads requests within."""

from __future__ import annotations

import email.utils
import time

from sorabeat.httpd import Limits, Response

LIMITS = Limits(max_header_bytes=16 * 1024, max_body_bytes=1024 * 1024, idle_timeout=60.0)
JSON = "application/json"


class HttpDate:
    """The ``date`` header value, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._text = email.utils.formatdate(now, usegmt=True)
        return self._text


def answer(status: int, body: bytes, date: str, body_bytes: int | None = None) -> Response:
    """A JSON answer with Cowboy's headers; ``body_bytes`` cuts the body short (a fault)."""
    headers = (("content-type", JSON), ("date", date), ("server", "Cowboy"))
    return Response(status, body, headers, body_bytes=body_bytes)
