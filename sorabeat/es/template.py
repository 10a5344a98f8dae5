"""The index template generated from fields.yml, sans-IO: a composable ``_index_template``
for Elasticsearch >= 7.8 (legacy ``_template`` before), with libbeat's settings."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sorabeat.es.bulk import CURRENT_ES, ServerInfo
from sorabeat.es.fields import Field, FieldSet

TOTAL_FIELDS_LIMIT = 10000
PRIORITY = 150
KEYWORD_IGNORE_ABOVE = 1024


def mapping_of(f: Field) -> dict[str, Any]:
    if f.type == "group":
        return {"properties": properties(f.fields)}
    if f.type == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if f.type == "text":
        return {"type": "text", "norms": False}
    return {"type": f.type}


def properties(fields: tuple[Field, ...]) -> dict[str, Any]:
    return {f.name: mapping_of(f) for f in fields}


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: ``extra`` wins on scalars, mappings merge."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _expand_dots(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``{"index.number_of_shards": 1}`` -> ``{"index": {"number_of_shards": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        value = _expand_dots(value) if isinstance(value, Mapping) else value
        node = out
        parts = str(key).split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = merge(node[parts[-1]], value)
        else:
            node[parts[-1]] = value
    return out


def build_template(
    sets: list[FieldSet],
    *,
    pattern: str,
    version: str,
    user_settings: Mapping[str, Any] | None = None,
    server: ServerInfo = CURRENT_ES,
    data_stream: bool = False,
    lifecycle: str | None = None,
) -> dict[str, Any]:
    """The template body: composable where the cluster has it, else legacy; with
    ``data_stream`` the composable template makes matching names data streams, whose
    backing indices ILM policy ``lifecycle`` manages."""
    props: dict[str, Any] = {}
    for s in sets:
        props = merge(props, properties(s.fields))
    user = _expand_dots(user_settings or {})
    source = user.pop("_source", None)
    base: dict[str, Any] = {
        "index": {
            "mapping": {"total_fields": {"limit": TOTAL_FIELDS_LIMIT}},
            "refresh_interval": "5s",
        }
    }
    if lifecycle is not None:
        base["index"]["lifecycle"] = {"name": lifecycle}
    settings = merge(base, user)
    mappings: dict[str, Any] = {
        "_meta": {"beat": "sorabeat", "version": version},
        "date_detection": False,
        "dynamic_templates": [
            {
                "strings_as_keyword": {
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
                }
            }
        ],
        "properties": props,
    }
    if source is not None:
        mappings["_source"] = source
    if server.composable_templates:
        body: dict[str, Any] = {
            "index_patterns": [pattern],
            "priority": PRIORITY,
            "template": {"settings": settings, "mappings": mappings},
            "_meta": {"beat": "sorabeat", "version": version},
        }
        if data_stream:
            body["data_stream"] = {}
        return body
    legacy: dict[str, Any] = {"index_patterns": [pattern], "order": 1, "settings": settings}
    legacy["mappings"] = {server.doc_type: mappings} if server.doc_type else mappings
    return legacy


def template_path(name: str, server: ServerInfo) -> str:
    return f"/_index_template/{name}" if server.composable_templates else f"/_template/{name}"
