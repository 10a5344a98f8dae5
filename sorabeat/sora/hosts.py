"""Sora host strings (``host:port`` or a full URL) as metricbeat's URL host parser reads them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_SCHEME = "http"
DEFAULT_PORT = 3000


class HostError(ValueError):
    pass


@dataclass(frozen=True)
class SoraHost:
    url: str  # what is requested: scheme://host:port/path
    address: str  # host:port, as events report it in service.address
    https: bool
    username: str | None = None
    password: str | None = None


def parse_sora_host(text: str) -> SoraHost:
    raw = text.strip()
    if not raw:
        raise HostError("empty host")
    if "://" not in raw:
        raw = f"{DEFAULT_SCHEME}://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise HostError(f"invalid host {text!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise HostError(f"invalid host {text!r}: scheme must be http or https")
    if not parts.hostname:
        raise HostError(f"invalid host {text!r}: no host name")
    if port is None:
        port = DEFAULT_PORT
    hostname = parts.hostname
    host_for_url = f"[{hostname}]" if ":" in hostname else hostname
    netloc = f"{host_for_url}:{port}"
    path = parts.path or "/"
    url = urlunsplit((parts.scheme, netloc, path, parts.query, ""))
    return SoraHost(
        url=url,
        address=netloc,
        https=parts.scheme == "https",
        # percent-encoded in the URL (``p%40ss`` for ``p@ss``), sent decoded, as Go's
        # url.UserPassword gives them to metricbeat
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
