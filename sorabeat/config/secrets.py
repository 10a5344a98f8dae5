"""Where secrets sit in raw settings, by the schema of the settings tree given.

``mask_secrets`` hides secret settings by position (``export config``); ``secret_values``
lists the text of every secret (settings declared ``secret=True``, every header value but a
few harmless ones, passwords in URLs, Basic credentials; keystore values are added by the
loader), for ``sorabeat.credentials.SecretScrubber`` to remove wherever they travel.
"""

from __future__ import annotations

import base64
import copy
from typing import Any
from urllib.parse import unquote

from sorabeat.config.schema import Path, walk_keys
from sorabeat.credentials import MASK, redact_url, url_credentials

# Header values are secret whatever the header's name (X-Auth-Token, X-Secret, ...), except
# these, which carry nothing a client would keep to itself.
HARMLESS_HEADERS = frozenset({"content-type", "accept", "user-agent", "accept-encoding"})
# settings holding such headers: the clients' own, and those sent to a proxy
HEADER_SETTINGS = frozenset({"headers", "proxy_headers"})


def secret_paths(schema: type) -> list[Path]:
    """The paths of the settings ``schema`` declares ``secret=True`` (``*`` for list items)."""
    return [k.path for k in walk_keys(schema) if k.secret]


def _matches(pattern: Path, path: Path) -> bool:
    return len(pattern) == len(path) and all(
        p in ("*", q) for p, q in zip(pattern, path, strict=True)
    )


def _is_secret(path: Path, key: str, value: Any, patterns: list[Path]) -> bool:
    child = (*path, key)
    if bool(path) and path[-1] in HEADER_SETTINGS:
        return key.lower() not in HARMLESS_HEADERS
    return value is not None and any(_matches(p, child) for p in patterns)


def mask_secrets(data: dict[str, Any], schema: type) -> dict[str, Any]:
    """A copy of raw settings of ``schema`` with every secret value, and secret-bearing
    headers, masked."""
    patterns = secret_paths(schema)
    out = copy.deepcopy(data)

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if _is_secret(path, str(key), value, patterns):
                    node[key] = MASK
                else:
                    node[key] = walk(value, (*path, str(key)))
            return node
        if isinstance(node, list):
            return [walk(item, (*path, "*")) for item in node]
        if isinstance(node, str):
            return redact_url(node)  # a password written into a host URL
        return node

    return walk(out, ())  # type: ignore[no-any-return]


def basic_credentials(user: str, password: str) -> str:
    """What an HTTP client sends as ``Authorization: Basic ...``."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def secret_values(data: dict[str, Any], schema: type) -> set[str]:
    """The text of every secret setting and secret-bearing header in raw settings of ``schema``.

    A header such as ``Authorization: Bearer abc`` yields both the whole value and the
    credential after the scheme, as either may end up in a message; a username and password
    (settings, or written into a URL, as given and percent-decoded) also yield their HTTP
    Basic credentials.
    """
    patterns = secret_paths(schema)
    found: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            found.add(text)
            scheme, _, credential = text.partition(" ")
            if credential.strip() and scheme.isalpha():
                found.add(credential.strip())

    def walk(node: Any, path: Path) -> None:
        if isinstance(node, dict):
            user, password = node.get("username"), node.get("password")
            if isinstance(user, str) and isinstance(password, str) and password:
                found.add(basic_credentials(user, password))
            for key, value in node.items():
                if _is_secret(path, str(key), value, patterns):
                    collect(value)
                else:
                    walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for item in node:
                walk(item, (*path, "*"))
        elif isinstance(node, str):
            for user, password in url_credentials(node):
                # the URL may carry them percent-encoded; HTTP clients send them decoded
                for u, p in ((user, password), (unquote(user), unquote(password))):
                    found.add(p)
                    found.add(basic_credentials(u, p))

    walk(data, ())
    return {v for v in found if v}
