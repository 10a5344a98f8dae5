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


def mask_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of raw settings with every secret value, and secret-bearing headers, masked."""
    patterns = secret_paths()
    out = copy.deepcopy(data)

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                child = (*path, str(key))
                secret_header = (
                    bool(path) and path[-1] == "headers" and (str(key).lower() in SECRET_HEADERS)
                )
                secret_setting = value is not None and any(_matches(p, child) for p in patterns)
                if secret_header or secret_setting:
                    node[key] = MASK
                else:
                    node[key] = walk(value, child)
            return node
        if isinstance(node, list):
            return [walk(item, (*path, "*")) for item in node]
        return node

    return walk(out, ())  # type: ignore[no-any-return]
