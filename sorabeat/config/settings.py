"""The whole configuration of sorabeat, as typed settings.

Each stage declares its own section (``sorabeat.sora.settings``, ``sorabeat.lumberjack.settings``,
...); this module assembles them under the keys metricbeat uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from sorabeat.config.schema import PositiveSeconds, Range, Seconds, Size, setting
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.kibana.settings import DashboardsSettings, KibanaSettings
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.outputs.settings import ConsoleSettings, FileSettings
from sorabeat.sora.settings import SoraModuleSettings
from sorabeat.spool.settings import MemQueueSettings, SpoolSettings
from sorabeat.tls import TLSSettings

EventFormat = Literal["8", "6"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


@dataclass(frozen=True)
class PathSettings:
    home: str | None = setting(None, doc="Home directory; default: the current directory.")
    config: str | None = setting(None, doc="Directory of sorabeat.yml; default: path.home.")
    data: str | None = setting(None, doc="Directory of persistent data; default: path.home/data.")
    logs: str | None = setting(None, doc="Directory of log files; default: path.home/logs.")


@dataclass(frozen=True)
class ModuleFilesSettings:
    path: str = setting(
        "${path.config}/modules.d/*.yml", doc="Glob of module files (one list of entries each)."
    )


@dataclass(frozen=True)
class ConfigFilesSettings:
    modules: ModuleFilesSettings = setting(factory=ModuleFilesSettings, doc="Module files.")


@dataclass(frozen=True)
class SorabeatSection:
    config: ConfigFilesSettings = setting(factory=ConfigFilesSettings, doc="Where modules live.")
    modules: list[SoraModuleSettings] = setting(
        factory=list, doc="Module entries given inline, in addition to the module files."
    )
    shutdown_timeout: Seconds = setting(
        5.0,
        doc="On SIGTERM/SIGINT/SIGHUP, how long at most to wait for pending events to be "
        "acknowledged.",
    )


@dataclass(frozen=True)
class OutputSection:
    console: ConsoleSettings | None = setting(None, doc="Standard output.")
    file: FileSettings | None = setting(None, doc="Rotating local files.")
    logstash: LogstashSettings | None = setting(None, doc="Logstash (Lumberjack v2).")
    elasticsearch: ElasticsearchSettings | None = setting(None, doc="Elasticsearch _bulk API.")

    def enabled(self) -> list[str]:
        names = ("console", "file", "logstash", "elasticsearch")
        return [n for n in names if (s := getattr(self, n)) is not None and s.enabled]

    def problems(self) -> list[tuple[str, str]]:
        enabled = self.enabled()
        if not enabled:
            return [
                (
                    "",
                    "no output is enabled: configure one of output.logstash, "
                    "output.elasticsearch, output.file or output.console",
                )
            ]
        if len(enabled) > 1:
            names = ", ".join(f"output.{n}" for n in enabled)
            return [("", f"only one output may be enabled, found {names}")]
        return []


@dataclass(frozen=True)
class QueueSection:
    spool: SpoolSettings | None = setting(None, doc="Disk spool (the default).")
    mem: MemQueueSettings | None = setting(None, doc="Memory queue: events are lost on exit.")

    def problems(self) -> list[tuple[str, str]]:
        if self.spool is not None and self.mem is not None:
            return [("", "set either queue.spool or queue.mem, not both")]
        return []


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


@dataclass(frozen=True)
class HttpSettings:
    enabled: bool = setting(
        False, doc="Serve / (identity), /stats (JSON), /metrics (Prometheus) and /health."
    )
    host: str = setting(
        "localhost", doc="Listen address; anyone who can reach it can read the metrics."
    )
    port: Annotated[int, Range(0, 65535)] = setting(5066, doc="Listen port (0: any free port).")
    unhealthy_after: PositiveSeconds = setting(
        300.0,
        doc="/health turns unhealthy when no event was acknowledged this long while some wait.",
    )


@dataclass(frozen=True)
class TemplateSettings:
    enabled: bool = setting(True, doc="Load the index template at setup.")
    name: str = setting("sorabeat-%{[agent.version]}", doc="Template name.")
    pattern: str | None = setting(
        None,
        doc="Index pattern it applies to. Default: the template name when writing the data "
        "stream (the pattern must not match the daily indices), else the name followed by -*.",
    )
    overwrite: bool = setting(False, doc="Replace an existing template.")
    settings: dict[str, Any] = setting(factory=dict, doc="Extra index settings.")


@dataclass(frozen=True)
class IlmSettings:
    enabled: bool = setting(
        True,
        doc="Write the data stream sorabeat-<version> with a lifecycle policy (Elasticsearch "
        "7.9 or later); false, or OpenSearch or an older cluster: daily indices, no policy.",
    )
    policy_name: str = setting("sorabeat", doc="Name of the lifecycle policy.")
    policy_file: str | None = setting(
        None,
        doc='A JSON file with your own policy ({"policy": {"phases": ...}}); default: a hot '
        "phase rolling over at 50gb per primary shard or 30 days, as metricbeat 8.",
    )
    overwrite: bool = setting(False, doc="Replace an existing policy at setup.")
    check_exists: bool = setting(
        True,
        doc="Ask whether the policy exists before loading it; false (for a user without the "
        "read_ilm privilege) loads it every time.",
    )


@dataclass(frozen=True)
class SetupSettings:
    template: TemplateSettings = setting(factory=TemplateSettings, doc="Index template.")
    ilm: IlmSettings = setting(
        factory=IlmSettings, doc="Index lifecycle management and the data stream."
    )
    kibana: KibanaSettings = setting(factory=KibanaSettings, doc="Kibana, for dashboards.")
    dashboards: DashboardsSettings = setting(
        factory=DashboardsSettings, doc="The data view, visualizations and dashboard."
    )


@dataclass(frozen=True)
class Settings:
    name: str | None = setting(None, doc="Name of this shipper (agent.name); default: host name.")
    tags: list[str] = setting(factory=list, doc="Tags added to every event.")
    fields: dict[str, Any] = setting(factory=dict, doc="Fields added to every event.")
    fields_under_root: bool = setting(False, doc="Put fields at the top level.")
    event_format: EventFormat = setting(
        "8",
        doc='"8": the metricbeat 7.x/8.x event shape; "6": the Beats 6.0 shape of the original '
        "Sorabeat.",
    )
    metadata_version: str | None = setting(
        None,
        doc="@metadata.version (and beat.version in format 6); default: sorabeat's version. "
        "Pin it to the metricbeat version your Logstash index names use.",
    )
    path: PathSettings = setting(factory=PathSettings, doc="Directories.")
    sorabeat: SorabeatSection = setting(factory=SorabeatSection, doc="Modules and shutdown.")
    output: OutputSection = setting(factory=OutputSection, doc="Where events go.")
    queue: QueueSection = setting(factory=QueueSection, doc="Where events wait.")
    logging: LoggingSettings = setting(factory=LoggingSettings, doc="Logging.")
    http: HttpSettings = setting(factory=HttpSettings, doc="Self-monitoring endpoint.")
    setup: SetupSettings = setting(factory=SetupSettings, doc="sorabeat setup.")

    @property
    def modules(self) -> list[SoraModuleSettings]:
        return [m for m in self.sorabeat.modules if m.enabled]


__all__ = ["Settings", "TLSSettings"]
