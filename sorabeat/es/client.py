"""One Elasticsearch endpoint over httpx: headers, authentication, TLS, gzip, ``GET /``
and ``POST _bulk``. No retry logic here: the output decides what a failure means."""

from __future__ import annotations

import asyncio
import base64
import logging
import zlib
from dataclasses import dataclass

import httpx

from sorabeat import __version__
from sorabeat.credentials import redact_url
from sorabeat.es.bulk import ServerInfo
from sorabeat.es.hosts import HostURL
from sorabeat.es.root import read_root
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.proxy.http import http_proxy
from sorabeat.tls import client_context

log = logging.getLogger("sorabeat.elasticsearch")

FILTER_PATH = "errors,items.*.error,items.*.status"
COMPRESS_IN_THREAD = 256 * 1024  # smaller bodies compress faster than a thread hop


@dataclass(frozen=True)
class BulkReply:
    status: int
    headers: httpx.Headers
    body: bytes
    sent_bytes: int


def credentials_header(
    api_key: str | None, username: str | None, password: str | None
) -> str | None:
    """The Authorization value for an API key (``id:key`` or already base64) or a user;
    shared by every Elastic-stack client (Elasticsearch, Kibana)."""
    if api_key:
        encoded = base64.b64encode(api_key.encode()).decode() if ":" in api_key else api_key
        return f"ApiKey {encoded}"
    if username is None:
        return None
    token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
    return f"Basic {token}"


def auth_header(settings: ElasticsearchSettings, url: HostURL) -> str | None:
    username = settings.username if settings.username is not None else url.username
    password = settings.password if settings.password is not None else url.password
    return credentials_header(settings.api_key, username, password)


def base_headers(settings: ElasticsearchSettings, url: HostURL) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"Sorabeat/{__version__}",
        "X-Elastic-Product-Origin": "sorabeat",
    }
    auth = auth_header(settings, url)
    if auth:
        headers["Authorization"] = auth
    headers.update(settings.headers)  # user headers replace the defaults (Content-Type too)
    return headers


def gzip_body(body: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


class ElasticsearchHost:
    """An endpoint; ``server`` is None until ``GET /`` succeeds (again after a failure)."""

    def __init__(self, url: HostURL, settings: ElasticsearchSettings) -> None:
        self.url = url
        self.settings = settings
        https = url.scheme == "https"
        verify: object = client_context(settings.ssl) if settings.ssl.active(https) else True
        self.client = httpx.AsyncClient(
            base_url=url.base,
            headers=base_headers(settings, url),
            verify=verify,  # type: ignore[arg-type]
            timeout=httpx.Timeout(settings.timeout, pool=None),
            limits=httpx.Limits(
                max_connections=settings.worker, max_keepalive_connections=settings.worker
            ),
            proxy=http_proxy(settings.proxy_url, settings.proxy_headers, settings.proxy_disable),
            trust_env=not settings.proxy_disable,
        )
        if settings.proxy_url and not settings.proxy_disable:
            log.info("%s: through the proxy %s", url, redact_url(settings.proxy_url))
        self.server: ServerInfo | None = None
        self._probe_lock = asyncio.Lock()
        self._params = {"filter_path": FILTER_PATH, **settings.parameters}

    async def connect(self) -> ServerInfo:
        """``GET /`` once (again after ``failed()``); raises httpx.TransportError or
        RootError."""
        async with self._probe_lock:
            if self.server is not None:
                return self.server
            response = await self.client.get("/")
            server, warnings = read_root(response.status_code, response.headers, response.content)
            for warning in warnings:
                log.warning("%s: %s", self.url, warning)
            log.info(
                "connected to %s %s at %s (bulk op %s)",
                server.distribution,
                ".".join(map(str, server.version)),
                self.url,
                server.op_type,
            )
            self.server = server
            return server

    def failed(self) -> None:
        """After a transport failure: check the cluster again before the next request."""
        self.server = None

    async def bulk(self, body: bytes) -> BulkReply:
        headers = {}
        level = self.settings.compression_level
        if level > 0:
            if len(body) >= COMPRESS_IN_THREAD:
                body = await asyncio.to_thread(gzip_body, body, level)
            else:
                body = gzip_body(body, level)
            headers["Content-Encoding"] = "gzip"
        response = await self.client.post(
            "/_bulk", content=body, params=self._params, headers=headers
        )
        return BulkReply(response.status_code, response.headers, response.content, len(body))

    async def close(self) -> None:
        await self.client.aclose()
