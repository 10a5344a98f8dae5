"""``setup.kibana`` (where Kibana is, libbeat's names) and ``setup.dashboards`` (what is
loaded into it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from sorabeat.config.schema import Pattern, PositiveSeconds, header_problems, setting
from sorabeat.es.hosts import parse_host_url
from sorabeat.proxy.http import proxy_url_problem
from sorabeat.tls import TLSSettings

DEFAULT_PORT = 5601
# Kibana's rule for space ids: lowercase letters, digits, "_" and "-"
SpaceId = Annotated[str, Pattern(r"[a-z0-9_-]+", "a Kibana space id (a-z, 0-9, _ and -)")]


@dataclass(frozen=True)
class KibanaSpace:
    id: SpaceId | None = setting(
        None,
        doc="Kibana space to import into (requests go to /s/<id>/api/...); default: the "
        "default space.",
    )


@dataclass(frozen=True)
class KibanaSettings:
    host: str = setting("localhost:5601", doc="Kibana endpoint (port 5601 by default).")
    protocol: Literal["http", "https"] = setting("http", doc="Scheme of a host given without one.")
    path: str = setting("", doc="Path prefix (Kibana behind a proxy, server.basePath).")
    username: str | None = setting(
        None,
        doc="Basic auth user. When none of username, password and api_key is set, the "
        "Elasticsearch output's credentials are used, as metricbeat does.",
    )
    password: str | None = setting(None, secret=True, doc="Basic auth password.")
    api_key: str | None = setting(None, secret=True, doc="API key as id:key (or its base64).")
    space: KibanaSpace = setting(factory=KibanaSpace, doc="Kibana space.")
    timeout: PositiveSeconds = setting(90.0, doc="HTTP timeout of one request.")
    ssl: TLSSettings = setting(
        factory=TLSSettings,
        doc="TLS to Kibana. Left entirely unset, the Elasticsearch output's ssl settings are used.",
    )
    proxy_url: str | None = setting(
        None,
        doc="HTTP proxy, http(s)://[user:password@]host:port (CONNECT for https hosts); "
        "default: the HTTP_PROXY/HTTPS_PROXY/NO_PROXY environment.",
    )
    proxy_disable: bool = setting(
        False, doc="No proxy at all: ignore proxy_url and the proxy environment variables."
    )
    proxy_headers: dict[str, str] = setting(
        factory=dict, doc="Headers sent to the proxy (the CONNECT request too); secret."
    )

    def has_credentials(self) -> bool:
        return not (self.username is None and self.password is None and self.api_key is None)

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.api_key is not None and (self.username or self.password):
            out.append(("api_key", "set either api_key or username/password, not both"))
        try:
            parse_host_url(self.host, self.protocol, self.path, DEFAULT_PORT)
        except ValueError as exc:
            out.append(("host", str(exc)))
        out.extend(header_problems(self.proxy_headers, "proxy_headers"))
        if self.proxy_url and not self.proxy_disable:
            problem = proxy_url_problem(self.proxy_url)
            if problem:
                out.append(("proxy_url", problem))
        return out


@dataclass(frozen=True)
class DashboardsSettings:
    enabled: bool = setting(
        True,
        doc="Plain 'sorabeat setup' loads the data view, visualizations and dashboard into "
        "Kibana; false leaves them out ('sorabeat setup --dashboards' still loads them).",
    )
    index: str = setting(
        "sorabeat-*",
        doc="Index pattern of the data view the visualizations read (its id derives from it).",
    )

    def problems(self) -> list[tuple[str, str]]:
        if not self.index.strip():
            return [("index", "an index pattern is needed")]
        return []
