"""``logging.*``: where log lines go, their level, selectors and files, and the metrics line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from sorabeat.config.schema import PositiveSeconds, Range, Size, setting

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


@dataclass(frozen=True)
class LogFilesSettings:
    path: str | None = setting(None, doc="Directory of the log files; default: path.logs.")
    name: str = setting("sorabeat", doc="Name of the active log file.")
    rotateeverybytes: Size = setting(10 * 1024 * 1024, doc="Rotate at this size.")
    keepfiles: Annotated[int, Range(2, 1024)] = setting(7, doc="Log files kept.")
    permissions: Annotated[int, Range(0, 0o777)] = setting(0o600, doc="File mode (octal).")


@dataclass(frozen=True)
class LogMetricsSettings:
    enabled: bool = setting(
        True, doc='Log "Non-zero metrics in the last 30s" with what moved, every period.'
    )
    period: PositiveSeconds = setting(30.0, doc="Period of the metrics line.")


@dataclass(frozen=True)
class LoggingSettings:
    level: LogLevel = setting("info", doc="debug, info, warning, error or critical.")
    selectors: list[str] = setting(
        factory=list,
        doc="Debug selectors: sora, spool, lumberjack, elasticsearch, publish, config, or *.",
    )
    to_stderr: bool = setting(False, doc="Log to stderr (-e sets it); wins over to_files.")
    to_files: bool | None = setting(
        None,
        doc="Log to rotating files under logging.files.path. Unset: true, except with "
        "--environment systemd or container, where logs go to stderr (the journal) unless "
        "this is set to true.",
    )
    json: bool = setting(
        False,
        doc="ECS-style JSON lines (@timestamp, log.level, log.logger, message, service.name).",
    )
    files: LogFilesSettings = setting(factory=LogFilesSettings, doc="Log files.")
    metrics: LogMetricsSettings = setting(factory=LogMetricsSettings, doc="Periodic metrics line.")
