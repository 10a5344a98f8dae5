"""Masking secrets before a configuration is shown (``export config``, logs)."""

from __future__ import annotations

import copy
from typing import Any

from sorabeat.config.schema import Path, walk_keys
from sorabeat.config.settings import Settings

MASK = "xxxxx"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def secret_paths() -> list[Path]:
    return [k.path for k in walk_keys(Settings) if k.secret]


def _matches(pattern: Path, path: Path) -> bool:
    return len(pattern) == len(path) and all(
        p in ("*", q) for p, q in zip(pattern, path, strict=True)
    )


def _is_secret(path: Path, key: str, value: Any, patterns: list[Path]) -> bool:
    child = (*path, key)
    if bool(path) and path[-1] == "headers" and key.lower() in SECRET_HEADERS:
        return True
    return value is not None and any(_matches(p, child) for p in patterns)


def mask_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of raw settings with every secret value, and secret-bearing headers, masked."""
    patterns = secret_paths()
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
        return node

    return walk(out, ())  # type: ignore[no-any-return]


def secret_values(data: dict[str, Any]) -> set[str]:
    """The text of every secret setting and secret-bearing header in raw settings.

    A header such as ``Authorization: Bearer abc`` yields both the whole value and the
    credential after the scheme, as either may end up in a message.
    """
    patterns = secret_paths()
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
            for key, value in node.items():
                if _is_secret(path, str(key), value, patterns):
                    collect(value)
                else:
                    walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for item in node:
                walk(item, (*path, "*"))

    walk(data, ())
    return {v for v in found if v}
