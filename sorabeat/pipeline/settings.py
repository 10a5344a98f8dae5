"""The whole configuration of sorabeat, as typed settings: the composition root's tree.

Each part declares its own section (``sorabeat.sora.settings``, ``sorabeat.lumberjack.settings``,
...); this module assembles them under the keys metricbeat uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sorabeat.config.load import LoadedConfig, LoadOptions, load
from sorabeat.config.schema import Seconds, setting
from sorabeat.es.settings import ElasticsearchSettings, IlmSettings, TemplateSettings
from sorabeat.event import EnvelopeFormat
from sorabeat.kibana.settings import DashboardsSettings, KibanaSettings
from sorabeat.logs.settings import LoggingSettings
from sorabeat.lumberjack.settings import LogstashSettings
from sorabeat.monitoring.settings import HttpSettings
from sorabeat.outputs.settings import ConsoleSettings, FileSettings
from sorabeat.sora.settings import SoraModuleSettings
from sorabeat.spool.settings import MemQueueSettings, SpoolSettings


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
    event_format: EnvelopeFormat = setting(
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


LoadedSettings = LoadedConfig[Settings]


def load_settings(opts: LoadOptions) -> LoadedSettings:
    """Load, merge, expand and validate the whole tree; ConfigError lists every problem."""
    return load(opts, Settings)
