"""One Sora API call: ``POST /`` with ``x-sora-target``, checked as the original never did.

Status code, size and transport are checked here (JSON validity and shape by the
metricset's reader); every failure is a ``FetchError`` whose message names the cause, which
becomes the error event's ``error.message``.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import httpx

from sorabeat.credentials import SecretScrubber
from sorabeat.sora.hosts import SoraHost

_SNIPPET = 200
# how much of a body is read and scrubbed before the snippet is cut from it: a secret a
# server echoes across the cut is then masked whole, not left half shown
SCRUBBED_HEAD = 1024


class FetchError(Exception):
    """A poll that produced no data; the message says why."""


def snippet(body: bytes | bytearray, scrubber: SecretScrubber | None = None) -> str:
    """The start of a body for an error message, with the secrets it echoes masked."""
    text = bytes(body[:SCRUBBED_HEAD]).decode("utf-8", errors="replace")
    if scrubber is not None:
        text = scrubber.scrub(text)
    more = "..." if len(text) > _SNIPPET or len(body) > SCRUBBED_HEAD else ""
    text = text[:_SNIPPET]
    return f"{text!r}{more}" if text else "an empty body"


def _connect_reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


class BodySink(Protocol):
    """Takes the body of a 2xx reply as it arrives."""

    @property
    def size(self) -> int:
        """How many bytes were fed so far (bounded by ``max_response_size``)."""
        ...

    def feed(self, chunk: bytes) -> None: ...


async def fetch(
    client: httpx.AsyncClient,
    host: SoraHost,
    target: str,
    body: BodySink,
    *,
    time_limit: float,
    max_size: int,
    headers: dict[str, str] | None = None,
    scrubber: SecretScrubber | None = None,
) -> None:
    """POST ``target`` (``x-sora-target``) to the host and feed the body of a 2xx reply to
    ``body``."""
    request_headers = dict(headers or {})
    request_headers["x-sora-target"] = target
    auth = (host.username, host.password or "") if host.username else None
    try:
        async with asyncio.timeout(time_limit):
            async with client.stream(
                "POST", host.url, headers=request_headers, auth=auth or httpx.USE_CLIENT_DEFAULT
            ) as response:
                await _read(response, host, body, max_size, scrubber)
    except TimeoutError:
        raise FetchError(f"no complete response from {host.url} within {time_limit:g}s") from None
    except httpx.ConnectError as exc:
        raise FetchError(f"cannot connect to {host.url}: {_connect_reason(exc)}") from None
    except httpx.RemoteProtocolError as exc:
        raise FetchError(f"incomplete response from {host.url}: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"request to {host.url} failed: {exc or type(exc).__name__}") from None


async def _read(
    response: httpx.Response,
    host: SoraHost,
    body: BodySink,
    max_size: int,
    scrubber: SecretScrubber | None,
) -> None:
    if not response.is_success:
        head = bytearray()
        async for chunk in response.aiter_bytes():
            head += chunk
            if len(head) > SCRUBBED_HEAD:
                break
        raise FetchError(
            f"HTTP {response.status_code} {response.reason_phrase} from {host.url}: "
            f"{snippet(head, scrubber)}"
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_size:
        raise FetchError(
            f"response from {host.url} is {declared} bytes, over max_response_size "
            f"({max_size} bytes); not read"
        )
    async for chunk in response.aiter_bytes():
        if body.size + len(chunk) > max_size:
            raise FetchError(
                f"response from {host.url} exceeds max_response_size ({max_size} bytes); "
                "reading stopped"
            )
        body.feed(chunk)
