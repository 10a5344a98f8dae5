"""Reading ``_bulk`` responses, sans-IO: what happened to the request and to every item.

Rules (libbeat's, less its silent-loss bug):

* whole request 413: split the batch (a single event still too large is dropped);
  401/403: credentials refused, retry with backoff; any other non-2xx: retry the batch;
  a 2xx whose body does not parse, lacks ``items`` or has the wrong number of them is a
  failure of the whole request (libbeat reports it as delivered);
* per item: 2xx done; 409 on ``create`` done (a duplicate); 429 and 5xx retry;
  any other status is permanent: the event is dropped or dead-lettered.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from sorabeat.credentials import reply_head

RETRY_AFTER_LIMIT = 300.0  # an absurd Retry-After must not park events for days


class Item(enum.Enum):
    OK = "ok"
    DUPLICATE = "duplicate"
    TOO_MANY = "toomany"  # 429: retry
    FAILED = "failed"  # 5xx: retry
    PERMANENT = "permanent"  # other 4xx: drop or dead-letter

    @property
    def done(self) -> bool:
        return self in (Item.OK, Item.DUPLICATE)

    @property
    def retry(self) -> bool:
        return self in (Item.TOO_MANY, Item.FAILED)


class Request(enum.Enum):
    ITEMS = "items"  # the request went through; look at each item
    SPLIT = "split"  # 413
    CREDENTIALS = "credentials"  # 401/403
    RETRY = "retry"  # other non-2xx
    INVALID = "invalid"  # a 2xx we cannot read


@dataclass(frozen=True)
class ItemResult:
    kind: Item
    status: int
    reason: str = ""


@dataclass(frozen=True)
class Verdict:
    kind: Request
    status: int
    items: list[ItemResult] = field(default_factory=list)
    message: str = ""
    retry_after: float | None = None


def classify_item(status: int, op: str) -> Item:
    if 200 <= status < 300:
        return Item.OK
    if status == 409 and op == "create":
        return Item.DUPLICATE
    if status == 429:
        return Item.TOO_MANY
    if status >= 500:
        return Item.FAILED
    return Item.PERMANENT


def error_reason(error: Any) -> str:
    """``type: reason (caused by type: reason)`` from an Elasticsearch error object."""
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return "" if error is None else orjson.dumps(error).decode()
    text = ": ".join(str(error[k]) for k in ("type", "reason") if error.get(k) is not None)
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        text += f" (caused by {error_reason(cause)})"
    return text


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_LIMIT)


def _body_error(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = reply_head(body, 200).strip()
        return text
    if isinstance(data, dict) and "error" in data:
        return error_reason(data["error"])
    return reply_head(body, 200)


def classify(
    status: int, body: bytes, ops: Sequence[str], retry_after: float | None = None
) -> Verdict:
    """The verdict on a ``_bulk`` response to a request carrying ``ops`` (one per item)."""
    if status == 413:
        return Verdict(Request.SPLIT, status, message="request entity too large")
    if status in (401, 403):
        return Verdict(
            Request.CREDENTIALS, status, message=_body_error(body), retry_after=retry_after
        )
    if not 200 <= status < 300:
        return Verdict(Request.RETRY, status, message=_body_error(body), retry_after=retry_after)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Verdict(Request.INVALID, status, message=f"response body is not JSON ({exc})")
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return Verdict(Request.INVALID, status, message="response has no items")
    if len(items) != len(ops):
        return Verdict(
            Request.INVALID,
            status,
            message=f"response has {len(items)} items for {len(ops)} events",
        )
    ok = ItemResult(Item.OK, 201)
    if data.get("errors") is False:
        # Elasticsearch sets errors whenever an item failed: all done, no per-item work
        return Verdict(Request.ITEMS, status, [ok] * len(ops), retry_after=retry_after)
    results: list[ItemResult] = []
    for item, op in zip(items, ops, strict=True):
        inner = _only_value(item)
        item_status = inner.get("status") if inner is not None else None
        if not isinstance(item_status, int) or isinstance(item_status, bool):
            return Verdict(Request.INVALID, status, message=f"item without a status: {item!r}")
        if 200 <= item_status < 300:
            results.append(ok if item_status == 201 else ItemResult(Item.OK, item_status))
            continue
        kind = classify_item(item_status, op)
        reason = error_reason(inner.get("error")) if inner is not None else ""
        results.append(ItemResult(kind, item_status, reason))
    return Verdict(Request.ITEMS, status, results, retry_after=retry_after)


def _only_value(item: Any) -> dict[str, Any] | None:
    if isinstance(item, dict) and len(item) == 1:
        (value,) = item.values()
        if isinstance(value, dict):
            return value
    return None
