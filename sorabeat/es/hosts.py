"""``output.elasticsearch.hosts`` entries as URLs, libbeat's way, sans-IO: a missing scheme
comes from ``protocol``, a missing port is 9200, ``path`` prefixes every request, and
credentials written into the URL are taken out of it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sorabeat.credentials import redact_url

DEFAULT_PORT = 9200


@dataclass(frozen=True)
class HostURL:
    scheme: str
    host: str
    port: int
    path: str  # "" or "/prefix", without a trailing slash
    username: str | None = None
    password: str | None = None

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    def __str__(self) -> str:  # for logs: never the credentials
        return self.base


def parse_host_url(
    text: str, protocol: str = "http", path: str = "", default_port: int = DEFAULT_PORT
) -> HostURL:
    """Raises ValueError naming what is wrong with the entry. ``default_port`` lets Kibana's
    ``setup.kibana.host`` (port 5601) share these rules."""
    raw = text.strip()
    shown = redact_url(text)
    if not raw:
        raise ValueError("empty host")
    if "://" not in raw:
        raw = f"{protocol}://{raw}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"host {shown!r}: scheme must be http or https, not {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"host {shown!r}: invalid port") from None
    hostname = parts.hostname
    if not hostname:
        raise ValueError(f"host {shown!r}: no host name")
    url_path = parts.path.rstrip("/")
    prefix = path.strip().rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return HostURL(
        scheme=scheme,
        host=hostname,
        port=port or default_port,
        path=url_path or prefix,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
