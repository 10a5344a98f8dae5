"""Logging the libbeat way: files under path.logs by default, ``-e`` to stderr, ``-d`` debug
selectors (``sora``, ``spool``, ``lumberjack``, ``elasticsearch``, ``publish``, ``config``)."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Sequence

from sorabeat.config.settings import LoggingSettings

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
FORMAT = "%(asctime)s.%(msecs)03dZ\t%(levelname)s\t[%(selector)s]\t%(message)s"


def selector_of(logger_name: str) -> str:
    """``sorabeat.lumberjack.client`` -> ``lumberjack``."""
    parts = logger_name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "sorabeat" else "sorabeat"


class SelectorFilter(logging.Filter):
    """Passes records at or above the base level, and debug records of the chosen selectors."""

    def __init__(self, base_level: int, debug_selectors: frozenset[str] | None) -> None:
        super().__init__()
        self.base_level = base_level
        self.debug_selectors = debug_selectors  # None: every selector

    def filter(self, record: logging.LogRecord) -> bool:
        selector = selector_of(record.name)
        record.selector = selector  # read by FORMAT
        if record.levelno >= self.base_level:
            return True
        return self.debug_selectors is None or selector in self.debug_selectors


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


class UTCFormatter(logging.Formatter):
    converter = staticmethod(_utc)


def configure(
    settings: LoggingSettings,
    *,
    to_stderr: bool = False,
    selectors: Sequence[str] = (),
    environment: str | None = None,
) -> None:
    """Route sorabeat's loggers per the settings; safe to call more than once."""
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
    on_stderr = to_stderr or settings.to_stderr or not settings.to_files
    if environment in ("systemd", "container") and not settings.to_files:
        on_stderr = True
    if on_stderr:
        handler = logging.StreamHandler(sys.stderr)
    else:
        files = settings.files
        os.makedirs(files.path, exist_ok=True)
        path = os.path.join(files.path, files.name)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=files.rotateeverybytes, backupCount=files.keepfiles - 1
        )
        with contextlib.suppress(OSError):
            os.chmod(path, files.permissions)
    handler.addFilter(SelectorFilter(base, debug_selectors))
    handler.setFormatter(UTCFormatter(FORMAT, "%Y-%m-%dT%H:%M:%S"))
    root.addHandler(handler)
