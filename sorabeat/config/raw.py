"""Raw configuration trees: YAML files read with the line of every key, merged key by key.

Dotted keys (``output.logstash.hosts: [...]``) are expanded into nested mappings as
metricbeat does, so ``a.b: 1`` and ``a: {b: 1}`` are the same setting and merge.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from sorabeat.config import yamlbounds
from sorabeat.config.schema import Path, Problem


class ConfigFileError(Exception):
    """A configuration file that cannot be read or parsed at all."""


@dataclass
class RawConfig:
    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[Path, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def get(self, path: Path, default: Any = None) -> Any:
        node: Any = self.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def set(self, path: Path, value: Any, origin: str) -> None:
        node = self.data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value
        self.origins[path] = origin


def parse_yaml(text: str, label: str) -> RawConfig:
    """Parse YAML text into a RawConfig whose origins say ``label:line`` for every key."""
    raw = RawConfig()
    value = _parse(text, label, (), raw, yaml.MappingNode, "a mapping of settings")
    raw.data = value if isinstance(value, dict) else {}
    return raw


def parse_yaml_list(text: str, label: str, base: Path, start: int, raw: RawConfig) -> list[Any]:
    """Parse a YAML list (a modules.d file) whose items become ``base.<start+i>`` in ``raw``."""
    value = _parse(text, label, base, raw, yaml.SequenceNode, "a list of module entries", start)
    return value if isinstance(value, list) else []


def _parse(
    text: str, label: str, base: Path, raw: RawConfig, top: type, what: str, start: int = 0
) -> Any:
    loader = yamlbounds.BoundedLoader(text)
    try:
        node = yamlbounds.compose(loader)
        if node is None:
            return None
        if not isinstance(node, top):
            raise ConfigFileError(f"{label}: expected {what} at the top level")
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                path = (*base, str(start + i))
                raw.origins.setdefault(path, f"{label}:{item.start_mark.line + 1}")
                items.append(_construct(loader, item, path, raw, label))
            return items
        return _construct(loader, node, base, raw, label)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}" if mark is not None else label
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(f"{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()


def _construct(
    loader: yamlbounds.BoundedLoader, node: yaml.Node, path: Path, raw: RawConfig, label: str
) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int | float | bool):
                raise ConfigFileError(
                    f"{label}:{key_node.start_mark.line + 1}: keys must be scalars"
                )
            parts = tuple(str(key).split("."))
            target = path + parts
            origin = f"{label}:{key_node.start_mark.line + 1}"
            value = _construct(loader, value_node, target, raw, label)
            _insert(out, parts, value, target, origin, raw)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            raw.origins.setdefault((*path, str(i)), f"{label}:{item.start_mark.line + 1}")
            items.append(_construct(loader, item, (*path, str(i)), raw, label))
        return items
    return loader.construct_object(node, deep=True)


def _insert(
    out: dict[str, Any], parts: Path, value: Any, target: Path, origin: str, raw: RawConfig
) -> None:
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = {}
            node[part] = child
        elif not isinstance(child, dict):
            raw.problems.append(
                Problem(".".join(target), "conflicts with a non-mapping value set earlier", origin)
            )
            return
        node = child
    last = parts[-1]
    if last in node:
        if isinstance(node[last], dict) and isinstance(value, dict):
            _merge_into(node[last], value)
        else:
            raw.problems.append(Problem(".".join(target), "duplicate key", origin))
            node[last] = value
    else:
        node[last] = value
    raw.origins.setdefault(target, origin)


def _merge_into(base: dict[str, Any], over: dict[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge_into(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def merge(base: RawConfig, over: RawConfig) -> RawConfig:
    """Later settings override earlier ones key by key; lists are replaced whole."""
    data = copy.deepcopy(base.data)
    _merge_into(data, over.data)
    origins = dict(base.origins)
    for path, origin in over.origins.items():
        origins[path] = origin
        # keys below a replaced value now come from the overriding source
        for old in [p for p in origins if len(p) > len(path) and p[: len(path)] == path]:
            if old not in over.origins:
                del origins[old]
    return RawConfig(data, origins, base.problems + over.problems)


def parse_override(text: str) -> RawConfig:
    """Parse one ``-E key=value`` flag; the value is YAML-typed (``-E a.b=[1,2]``)."""
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigFileError(f"-E {text!r}: expected key=value")
    try:
        value = yamlbounds.safe_load(value_text) if value_text.strip() else ""
    except yamlbounds.YamlLimitError as exc:
        raise ConfigFileError(f"-E {key}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError:
        value = value_text
    raw = RawConfig()
    raw.set(tuple(key.split(".")), value, f"-E {key}")
    return raw
