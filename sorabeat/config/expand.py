"""``${NAME}`` and ``${NAME:default}`` in setting values, resolved as metricbeat does:
first another setting (``${path.config}``), then the keystore, then the environment."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sorabeat.config.raw import RawConfig
from sorabeat.config.schema import ExpandedStr, Path, Problem, find_origin

_REFERENCE = re.compile(r"\$\{([^{}:]+)(?::([^{}]*))?\}")
_MAX_DEPTH = 8

Lookup = Callable[[str], str | None]


Resolver = Callable[[str, Path], str | None]


def resolver(raw: RawConfig, *lookups: Lookup) -> Resolver:
    """A function that expands one text found at a path of ``raw`` (None, with a problem
    recorded in ``raw``, when a reference cannot be resolved)."""

    def from_settings(name: str) -> str | None:
        value = raw.get(tuple(name.split(".")))
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        return None

    chain = (from_settings, *lookups)

    def resolve(text: str, path: Path, depth: int = 0) -> str | None:
        def substitute(m: re.Match[str]) -> str:
            name, default = m.group(1).strip(), m.group(2)
            for lookup in chain:
                found = lookup(name)
                if found is not None:
                    if "${" in found and depth < _MAX_DEPTH:
                        found = resolve(found, path, depth + 1) or ""
                    return found
            if default is not None:
                return default
            raise _UnresolvedError(name)

        try:
            # innermost references first, so a default may itself be a reference: ${A:${B}}
            for _ in range(_MAX_DEPTH):
                expanded = _REFERENCE.sub(substitute, text)
                if expanded == text:
                    break
                text = expanded
            return text
        except _UnresolvedError as exc:
            origin = find_origin(raw.origins, path)
            raw.problems.append(
                Problem(
                    ".".join(path),
                    f"cannot resolve ${{{exc.name}}}: it is not a setting, a keystore key "
                    "or an environment variable (give a default with ${NAME:default})",
                    origin,
                )
            )
            return None

    return resolve


def expand(raw: RawConfig, *lookups: Lookup) -> None:
    """Replace every reference in ``raw`` in place; unresolved ones become problems."""
    resolve = resolver(raw, *lookups)

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            for key in list(node):
                node[key] = walk(node[key], (*path, key))
            return node
        if isinstance(node, list):
            return [walk(item, (*path, str(i))) for i, item in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            resolved = resolve(node, path)
            return node if resolved is None else ExpandedStr(resolved)
        return node

    walk(raw.data, ())


class _UnresolvedError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
