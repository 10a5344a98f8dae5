"""One Sora API call: ``POST /`` with ``x-sora-target``, checked as the original never did.

Status code, size, JSON validity and shape are all checked; every failure is a
``FetchError`` whose message names the cause, which becomes the error event's
``error.message``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from sorabeat.sora.hosts import SoraHost

TARGETS = {
    "stats": "Sora_20171010.GetStatsReport",
    "connections": "Sora_20171101.GetStatsAllConnections",
}
_SNIPPET = 200


class FetchError(Exception):
    """A poll that produced no data; the message says why."""


def snippet(body: bytes | bytearray) -> str:
    text = bytes(body[:_SNIPPET]).decode("utf-8", errors="replace")
    more = "..." if len(body) > _SNIPPET else ""
    return f"{text!r}{more}" if text else "an empty body"


def _connect_reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


async def fetch_body(
    client: httpx.AsyncClient,
    host: SoraHost,
    metricset: str,
    *,
    time_limit: float,
    max_size: int,
    headers: dict[str, str] | None = None,
) -> bytes | bytearray:
    """POST the metricset's target to the host and return the body of a 2xx reply."""
    request_headers = dict(headers or {})
    request_headers["x-sora-target"] = TARGETS[metricset]
    auth = (host.username, host.password or "") if host.username else None
    try:
        async with asyncio.timeout(time_limit):
            async with client.stream(
                "POST", host.url, headers=request_headers, auth=auth or httpx.USE_CLIENT_DEFAULT
            ) as response:
                return await _read(response, host, max_size)
    except TimeoutError:
        raise FetchError(f"no complete response from {host.url} within {time_limit:g}s") from None
    except httpx.ConnectError as exc:
        raise FetchError(f"cannot connect to {host.url}: {_connect_reason(exc)}") from None
    except httpx.RemoteProtocolError as exc:
        raise FetchError(f"incomplete response from {host.url}: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"request to {host.url} failed: {exc or type(exc).__name__}") from None


async def _read(response: httpx.Response, host: SoraHost, max_size: int) -> bytearray:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_size:
        raise FetchError(
            f"response from {host.url} is {declared} bytes, over max_response_size "
            f"({max_size} bytes); not read"
        )
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_size and response.is_success:
            raise FetchError(
                f"response from {host.url} exceeds max_response_size ({max_size} bytes); "
                "reading stopped"
            )
        if not response.is_success and len(body) > _SNIPPET:
            break
    if not response.is_success:
        raise FetchError(
            f"HTTP {response.status_code} {response.reason_phrase} from {host.url}: {snippet(body)}"
        )
    return body


def parse_json(body: bytes | bytearray, host: SoraHost) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FetchError(f"invalid JSON from {host.url} ({exc}): {snippet(body)}") from None


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def check_stats(value: Any, host: SoraHost) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FetchError(
            f"unexpected response from {host.url}: GetStatsReport must be a JSON object, "
            f"got {describe(value)}"
        )
    return value


def check_connections(value: Any, host: SoraHost) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise FetchError(
            f"unexpected response from {host.url}: GetStatsAllConnections must be a JSON "
            f"array of objects, got {describe(value)}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise FetchError(
                f"unexpected response from {host.url}: GetStatsAllConnections element {i} "
                f"is {describe(item)}, not an object"
            )
    return value
