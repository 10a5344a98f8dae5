"""Reading ``GET /``, sans-IO: which cluster answers, and whether it is Elasticsearch."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from sorabeat.credentials import reply_head
from sorabeat.es.bulk import ServerInfo, parse_version
from sorabeat.es.response import error_reason


class RootError(Exception):
    """``GET /`` did not identify a usable cluster; the message says why."""


class CredentialsError(RootError):
    pass


def read_root(status: int, headers: Mapping[str, str], body: bytes) -> tuple[ServerInfo, list[str]]:
    """The cluster's ServerInfo and warnings worth logging, or RootError.

    Elasticsearch >= 7.14 sends ``X-Elastic-Product: Elasticsearch``; older ones are known by
    their tagline. OpenSearch (osmem-server among them) is accepted with a warning: it speaks
    the same ``_bulk`` API.
    """
    if status in (401, 403):
        raise CredentialsError(
            f"credentials refused ({status}): check output.elasticsearch.username/password "
            f"or api_key ({_reason(body)})"
        )
    if not 200 <= status < 300:
        raise RootError(f"GET / answered {status}: {_reason(body)}")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RootError(
            f"GET / did not answer JSON, this is not Elasticsearch: {reply_head(body, 80)!r}"
        ) from None
    version = data.get("version") if isinstance(data, dict) else None
    number = version.get("number") if isinstance(version, dict) else None
    if not isinstance(number, str):
        raise RootError("GET / has no version.number, this is not Elasticsearch")
    assert isinstance(version, dict)
    assert isinstance(data, dict)
    try:
        parsed = parse_version(number)
    except ValueError as exc:
        raise RootError(f"GET /: {exc}") from None
    distribution = str(version.get("distribution") or "elasticsearch").lower()
    flavor = str(version.get("build_flavor") or "default")
    product = {k.lower(): v for k, v in headers.items()}.get("x-elastic-product")
    warnings: list[str] = []
    if distribution == "opensearch":
        warnings.append(
            f"the cluster is OpenSearch {number}, not Elasticsearch; sorabeat uses only the "
            "_bulk and index template APIs, which it shares"
        )
    elif product != "Elasticsearch":
        old = parsed < (7, 14, 0) and data.get("tagline") == "You Know, for Search"
        if not old:
            raise RootError(
                f"the server is not Elasticsearch: its GET / lacks the X-Elastic-Product: "
                f"Elasticsearch header (version {number!r}, product {product!r})"
            )
    return ServerInfo(parsed, distribution, flavor), warnings


def _reason(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return reply_head(body, 120).strip() or "no body"
    if isinstance(data, dict) and "error" in data:
        return error_reason(data["error"])
    return reply_head(body, 120)
