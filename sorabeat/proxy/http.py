"""``proxy_url``/``proxy_headers``/``proxy_disable`` of the HTTP clients (Elasticsearch,
Kibana), as libbeat has them: an http:// or https:// proxy, CONNECT for https hosts (httpx
does the tunnelling); without ``proxy_url``, HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the
environment unless ``proxy_disable``."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

SCHEMES = ("http", "https")


def proxy_url_problem(url: str) -> str | None:
    """Why ``url`` is no usable HTTP proxy (the message never quotes the URL: it may carry a
    password), or None."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises for a bad port)
    except ValueError:
        return "not a valid URL (http://[user:password@]host:port)"
    scheme = parts.scheme.lower()
    if scheme.startswith("socks"):
        return (
            "SOCKS proxies are supported by output.logstash only; use an http:// or https:// "
            "proxy here"
        )
    if scheme not in SCHEMES:
        return f"scheme must be http:// or https://, not {parts.scheme or 'none'!r}"
    if not parts.hostname:
        return "no proxy host in the URL"
    return None


def http_proxy(url: str | None, headers: Mapping[str, str], disable: bool) -> httpx.Proxy | None:
    """What httpx gets as ``proxy=`` (None: the environment's, when ``trust_env``)."""
    if disable or not url:
        return None
    return httpx.Proxy(url.strip(), headers=dict(headers))
