"""Kibana's answers, read without I/O: ``GET /api/status`` and ``POST
/api/saved_objects/_import``. Every problem becomes a KibanaError whose message says what
Kibana said, in one line.

Kibana's HTTP errors are JSON ``{statusCode, error, message}`` (Hapi/Boom); the import answer
is ``{success, successCount, successResults?, errors?}`` with per-object errors ``{id, type,
title?, meta {title}, error {type, ...}}`` where ``type`` is conflict (``destinationId``),
ambiguous_conflict (``destinations``), missing_references (``references [{type, id}]``),
unsupported_type or unknown (``statusCode``, ``message``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from sorabeat.credentials import reply_head
from sorabeat.kibana import versions

SNIPPET = 120


class KibanaError(Exception):
    """Kibana refused or could not be understood; the message says which."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class KibanaAuthError(KibanaError):
    """401: the credentials were refused (the caller adds where they came from)."""


@dataclass(frozen=True)
class KibanaStatus:
    version: tuple[int, int, int]
    version_text: str
    level: str  # "available", "degraded", ... (8.x), or 7.x's "green"/"yellow"/"red"


@dataclass(frozen=True)
class ObjectError:
    """One object Kibana did not import."""

    type: str
    id: str
    title: str
    kind: str  # conflict, missing_references, unknown, ...
    detail: str

    def describe(self) -> str:
        title = f' "{self.title}"' if self.title else ""
        return f"{self.type} {self.id}{title}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class ImportResult:
    success: bool
    success_count: int
    errors: tuple[ObjectError, ...]


def _snippet(body: bytes) -> str:
    text = reply_head(body, SNIPPET).replace("\n", " ").strip()
    return text + ("..." if len(body) > SNIPPET else "")


def _json(status: int, content_type: str, body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        kind = content_type.split(";", 1)[0].strip() or "no content type"
        raise KibanaError(
            f"{what}: Kibana answered {status} with a body that is not JSON ({kind}: "
            f"{_snippet(body)!r}); is setup.kibana.host (and path) Kibana, not a proxy "
            "page or another service?",
            status,
        ) from None


def _boom_message(data: Any) -> str:
    if isinstance(data, dict):
        message = data.get("message") or data.get("error")
        if isinstance(message, str) and message:
            return " ".join(message.split())
    return orjson.dumps(data).decode()[:SNIPPET]


def _http_error(status: int, data: Any, what: str) -> KibanaError:
    message = _boom_message(data)
    if status == 401:
        return KibanaAuthError(f"{what}: Kibana refused the credentials (401): {message}", 401)
    if status == 403:
        return KibanaError(
            f"{what}: Kibana denied it (403): {message}; the user needs the privilege to "
            "manage saved objects (Kibana's 'Saved Objects Management' or dashboards 'All')",
            403,
        )
    if status == 404:
        return KibanaError(
            f"{what}: not found (404): {message}; check setup.kibana.path and "
            "setup.kibana.space.id (does the space exist?)",
            404,
        )
    if status == 413:
        return KibanaError(
            f"{what}: the file is larger than Kibana accepts (413): {message}; raise "
            "savedObjects.maxImportPayloadBytes in kibana.yml",
            413,
        )
    return KibanaError(f"{what}: Kibana answered {status}: {message}", status)


def read_status(status: int, content_type: str, body: bytes) -> KibanaStatus:
    """``GET /api/status``: Kibana's version and overall level."""
    what = "GET /api/status"
    data = _json(status, content_type, body, what)
    overall = data.get("status", {}).get("overall", {}) if isinstance(data, dict) else {}
    level = overall.get("level") or overall.get("state") if isinstance(overall, dict) else None
    if status == 503 and isinstance(level, str):
        return _status_of(data, level, what)
    if status != 200:
        raise _http_error(status, data, what)
    if not isinstance(level, str):
        level = "unknown"
    return _status_of(data, level, what)


def _status_of(data: Any, level: str, what: str) -> KibanaStatus:
    version = data.get("version") if isinstance(data, dict) else None
    number = version.get("number") if isinstance(version, dict) else None
    if not isinstance(number, str):
        raise KibanaError(
            f"{what}: Kibana did not tell its version (it redacts its status for "
            "anonymous users): set setup.kibana.username/password or setup.kibana.api_key"
        )
    try:
        parsed = versions.parse(number)
    except ValueError:
        raise KibanaError(f"{what}: Kibana's version {number!r} is not a version") from None
    return KibanaStatus(parsed, number, level)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _object_error(entry: Any) -> ObjectError:
    if not isinstance(entry, dict):
        return ObjectError("?", "?", "", "unknown", f"unreadable error entry {entry!r}")
    meta = _mapping(entry.get("meta"))
    title = _text(entry.get("title")) or _text(meta.get("title"))
    error = _mapping(entry.get("error"))
    kind = _text(error.get("type")) or "unknown"
    object_type = _text(entry.get("type")) or "?"
    object_id = _text(entry.get("id")) or "?"
    return ObjectError(object_type, object_id, title, kind, _detail(kind, error))


def _detail(kind: str, error: dict[str, Any]) -> str:
    if kind == "conflict":
        other = _text(error.get("destinationId"))
        where = f" (object {other})" if other else ""
        return f"another object of the same origin{where} exists and was not overwritten"
    if kind == "ambiguous_conflict":
        ids = [_text(d.get("id")) for d in error.get("destinations", []) if isinstance(d, dict)]
        return "several objects of the same origin exist: " + (", ".join(ids) or "?")
    if kind == "missing_references":
        refs = [
            f"{_text(r.get('type'))} {_text(r.get('id'))}"
            for r in error.get("references", [])
            if isinstance(r, dict)
        ]
        return "it references objects that exist neither in Kibana nor in the file: " + (
            ", ".join(refs) or "?"
        )
    if kind == "unsupported_type":
        return "this Kibana does not know the saved-object type"
    if kind == "unknown":
        code = error.get("statusCode")
        message = " ".join(_text(error.get("message")).split()) or "no message"
        return f"{code}: {message}" if isinstance(code, int) else message
    return orjson.dumps(error).decode()[:SNIPPET]


def read_import(status: int, content_type: str, body: bytes) -> ImportResult:
    """``POST /api/saved_objects/_import``: how many objects went in, and what failed."""
    what = "POST /api/saved_objects/_import"
    data = _json(status, content_type, body, what)
    if status != 200:
        raise _http_error(status, data, what)
    if not isinstance(data, dict):
        raise KibanaError(f"{what}: Kibana answered a JSON {type(data).__name__}, not an object")
    success = data.get("success")
    count = data.get("successCount")
    if not isinstance(success, bool) or not isinstance(count, int) or isinstance(count, bool):
        raise KibanaError(
            f"{what}: Kibana's answer lacks success/successCount: {_snippet(body)!r}", status
        )
    raw_errors = data.get("errors", [])
    if not isinstance(raw_errors, list):
        raise KibanaError(f"{what}: Kibana's errors is not a list: {_snippet(body)!r}", status)
    return ImportResult(success, count, tuple(_object_error(e) for e in raw_errors))
