"""Logging the libbeat way.

Files under ``path.logs`` by default (size-rotated, ``keepfiles`` kept, created with
``permissions``), ``-e`` to stderr, ``--environment systemd|container`` to stderr unless
``logging.to_files`` is set; ``-d`` debug selectors (``sora``, ``spool``, ``lumberjack``,
``elasticsearch``, ``publish``, ``config``, ``*``); tab-separated text or ECS-style JSON lines.
Every record passes a filter that masks the configuration's secret values.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from sorabeat.config.secrets import MASK, MIN_MASKED_LENGTH, SecretScrubber
from sorabeat.config.settings import LoggingSettings

__all__ = ["MASK", "MIN_MASKED_LENGTH", "configure"]

SELECTORS = (
    "sora",
    "spool",
    "lumberjack",
    "elasticsearch",
    "publish",
    "config",
    "kibana",
    "monitoring",
)
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_ECS_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
STDERR_ENVIRONMENTS = frozenset({"systemd", "container"})

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    [
        *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "selector",
        "taskName",
    ]
)


def selector_of(logger_name: str) -> str:
    """``sorabeat.lumberjack.client`` -> ``lumberjack``."""
    parts = logger_name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "sorabeat" else "sorabeat"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed with ``extra=`` (e.g. the metrics line's ``monitoring``)."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}


class SelectorFilter(logging.Filter):
    """Passes records at or above the base level, and debug records of the chosen selectors."""

    def __init__(self, base_level: int, debug_selectors: frozenset[str] | None) -> None:
        super().__init__()
        self.base_level = base_level
        self.debug_selectors = debug_selectors  # None: every selector

    def filter(self, record: logging.LogRecord) -> bool:
        selector = selector_of(record.name)
        record.selector = selector  # read by the formatters
        if record.levelno >= self.base_level:
            return True
        return self.debug_selectors is None or selector in self.debug_selectors


class SecretFilter(logging.Filter):
    """Masks every known secret value in a record (message, arguments, extra fields,
    exception and stack text) before any formatter sees it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.scrubber = SecretScrubber(secrets)

    def scrub(self, text: str) -> str:
        return self.scrubber.scrub(text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for key, value in extra_fields(record).items():
            setattr(record, key, self.scrubber.scrub_value(value))
        return True


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created * 1000) % 1000:03d}Z"


def _json_default(value: Any) -> Any:
    return str(value)


class TextFormatter(logging.Formatter):
    """``<timestamp>\\t<LEVEL>\\t[<selector>]\\t<message>[\\t<extra fields as JSON>]``, as
    libbeat's console encoder writes."""

    def format(self, record: logging.LogRecord) -> str:
        selector = getattr(record, "selector", None) or selector_of(record.name)
        parts = [
            _timestamp(record.created),
            record.levelname,
            f"[{selector}]",
            record.getMessage(),
        ]
        extra = extra_fields(record)
        if extra:
            parts.append(orjson.dumps(extra, default=_json_default).decode())
        line = "\t".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{record.stack_info}"
        return line


class JsonFormatter(logging.Formatter):
    """One ECS-style JSON object per line."""

    def __init__(self, service_name: str = "sorabeat") -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "@timestamp": _timestamp(record.created),
            "log.level": _ECS_LEVELS.get(record.levelno, record.levelname.lower()),
            "log.logger": getattr(record, "selector", None) or selector_of(record.name),
            "log.origin": {"file.name": record.filename, "file.line": record.lineno},
            "message": record.getMessage(),
            "service.name": self.service_name,
            "ecs.version": "1.6.0",
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            if record.exc_info and record.exc_info[1] is not None:
                doc["error.type"] = type(record.exc_info[1]).__name__
            doc["error.stack_trace"] = record.exc_text
        for key, value in extra_fields(record).items():
            doc.setdefault(key, value)
        return orjson.dumps(doc, default=_json_default).decode()


class RotatingFile(logging.handlers.RotatingFileHandler):
    """libbeat's file rotation: ``sorabeat`` is active, then ``sorabeat.1`` ... up to
    ``keepfiles`` files; each created with ``permissions`` whatever the umask."""

    def __init__(self, path: str, max_bytes: int, keep: int, permissions: int) -> None:
        self.permissions = permissions
        super().__init__(path, maxBytes=max_bytes, backupCount=max(keep - 1, 1))

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.permissions)
        os.fchmod(fd, self.permissions)
        return open(fd, "a", encoding="utf-8", errors="backslashreplace")


def logs_to_files(settings: LoggingSettings, environment: str | None) -> bool:
    """``logging.to_files`` when set; unset, files except under systemd or in a container,
    where stderr goes to the journal or the container runtime."""
    if settings.to_files is not None:
        return settings.to_files
    return environment not in STDERR_ENVIRONMENTS


def configure(
    settings: LoggingSettings,
    *,
    to_stderr: bool = False,
    selectors: Sequence[str] = (),
    environment: str | None = None,
    secrets: Iterable[str] = (),
    logs_dir: str = "logs",
) -> None:
    """Route sorabeat's loggers per the settings; safe to call more than once.

    ``logs_dir`` is path.logs, where files go unless ``logging.files.path`` says otherwise.
    """
    root = logging.getLogger("sorabeat")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    chosen = {s for s in [*settings.selectors, *selectors] if s}
    base = _LEVELS[settings.level]
    debug_selectors: frozenset[str] | None
    if "*" in chosen or (settings.level == "debug" and not chosen):
        debug_selectors = None
        base = logging.DEBUG if settings.level == "debug" or "*" in chosen else base
    else:
        debug_selectors = frozenset(chosen)
    root.setLevel(logging.DEBUG if chosen or settings.level == "debug" else base)
    root.propagate = False

    handler: logging.Handler
    if to_stderr or settings.to_stderr or not logs_to_files(settings, environment):
        handler = logging.StreamHandler(sys.stderr)
    else:
        files = settings.files
        directory = files.path or logs_dir
        os.makedirs(directory, exist_ok=True)
        handler = RotatingFile(
            os.path.join(directory, files.name),
            max_bytes=files.rotateeverybytes,
            keep=files.keepfiles,
            permissions=files.permissions,
        )
    handler.addFilter(SelectorFilter(base, debug_selectors))
    handler.addFilter(SecretFilter(secrets))
    handler.setFormatter(JsonFormatter() if settings.json else TextFormatter())
    root.addHandler(handler)
