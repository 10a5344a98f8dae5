"""Where and as whom to reach Kibana, from ``setup.kibana`` and, as metricbeat does, the
Elasticsearch output's credentials and TLS settings when ``setup.kibana`` has none."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from sorabeat.es.client import credentials_header
from sorabeat.es.hosts import HostURL, parse_host_url
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.kibana.settings import DEFAULT_PORT, KibanaSettings
from sorabeat.proxy.http import http_proxy
from sorabeat.tls import TLSSettings


@dataclass(frozen=True)
class Connection:
    url: HostURL
    space: str | None
    authorization: str | None
    credentials_from: str | None  # the settings the credentials came from, None: anonymous
    ssl: TLSSettings
    ssl_from: str
    timeout: float
    proxy: httpx.Proxy | None = None
    proxy_disable: bool = False

    def api(self, path: str) -> str:
        """``/api/...`` of the configured space (``/s/<space>/api/...``)."""
        return f"/s/{self.space}{path}" if self.space else path

    def describe(self) -> str:
        space = f" (space {self.space})" if self.space else ""
        return f"{self.url}{space}"


def resolve(kibana: KibanaSettings, es: ElasticsearchSettings | None) -> Connection:
    """Raises ValueError for an unusable host (settings validation catches it first)."""
    url = parse_host_url(kibana.host, kibana.protocol, kibana.path, DEFAULT_PORT)
    es = es if es is not None and es.enabled else None
    source: str | None = "setup.kibana"
    if kibana.has_credentials():
        api_key, username, password = kibana.api_key, kibana.username, kibana.password
    elif url.username is not None:
        api_key, username, password = None, url.username, url.password
        source = "setup.kibana.host"
    elif es is not None and (es.api_key or es.username is not None):
        api_key, username, password = es.api_key, es.username, es.password
        source = "output.elasticsearch"
    else:
        api_key = username = password = None
        source = None
    ssl, ssl_from = kibana.ssl, "setup.kibana.ssl"
    if kibana.ssl == TLSSettings() and es is not None and es.ssl != TLSSettings():
        ssl, ssl_from = es.ssl, "output.elasticsearch.ssl"
    return Connection(
        url=url,
        space=kibana.space.id,
        authorization=credentials_header(api_key, username, password),
        credentials_from=source,
        ssl=ssl,
        ssl_from=ssl_from,
        timeout=kibana.timeout,
        proxy=http_proxy(kibana.proxy_url, kibana.proxy_headers, kibana.proxy_disable),
        proxy_disable=kibana.proxy_disable,
    )
