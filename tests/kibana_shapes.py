"""The saved-object shapes Kibana 8.x documents and exports, as a validator for tests.

Encodes: the common envelope (type, id, attributes, references [{name, type, id}],
coreMigrationVersion/typeMigrationVersion for the target); the keys each type requires; JSON
strings inside attributes parse; Lens formBased layers (columns, columnOrder, references
between columns, counter_rate over max, terms ranking, one data-view reference per layer,
visualization accessors that exist); dashboard panels (48-column grid without overlaps,
``panelRefName``/``<panelIndex>:panel_<panelIndex>`` references) and options-list controls;
tags (``tag`` objects with ``name``/``description``/``color``; a reference to a tag is
``{type: tag, id, name: tag-ref-<id>}``, only on types Kibana can tag, and names a tag of the
set).
Returns every problem found, so a test can show them all.
"""

from __future__ import annotations

import json
import re
from typing import Any

JSON = dict[str, Any]
VERSION = re.compile(r"\d+\.\d+\.\d+")
TAGGABLE = {"dashboard", "visualization", "map", "lens", "search"}  # Kibana's taggableTypes
REQUIRED = {
    "tag": {"name": str, "description": str, "color": str},
    "index-pattern": {"title": str, "timeFieldName": str},
    "lens": {"title": str, "description": str, "visualizationType": str, "state": dict},
    "dashboard": {
        "title": str,
        "description": str,
        "panelsJSON": str,
        "optionsJSON": str,
        "version": int,
        "timeRestore": bool,
        "kibanaSavedObjectMeta": dict,
    },
}
JSON_STRINGS = {
    "index-pattern": ("fields", "fieldFormatMap", "runtimeFieldMap", "typeMeta"),
    "dashboard": ("panelsJSON", "optionsJSON"),
}
FIELD_OPERATIONS = {
    "max",
    "min",
    "average",
    "sum",
    "unique_count",
    "count",
    "terms",
    "date_histogram",
}
REFERENCE_OPERATIONS = {"counter_rate", "formula", "math", "differences"}


def _parse(text: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(text, str):
        problems.append(f"{where}: not a JSON string")
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        problems.append(f"{where}: does not parse: {exc}")
        return None


def envelope_problems(obj: JSON, target: tuple[int, int, int]) -> list[str]:
    problems: list[str] = []
    where = f"{obj.get('type')} {obj.get('id')}"
    if obj.get("type") not in REQUIRED:
        problems.append(f"{where}: unknown type")
        return problems
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        problems.append(f"{where}: id must be a non-empty string")
    attributes = obj.get("attributes")
    if not isinstance(attributes, dict):
        return [*problems, f"{where}: attributes must be an object"]
    for key, kind in REQUIRED[obj["type"]].items():
        if not isinstance(attributes.get(key), kind):
            problems.append(f"{where}: attributes.{key} must be {kind.__name__}")
    for key in JSON_STRINGS.get(obj["type"], ()):
        _parse(attributes.get(key), f"{where}: attributes.{key}", problems)
    references = obj.get("references")
    if not isinstance(references, list):
        problems.append(f"{where}: references must be a list")
    else:
        for ref in references:
            if not (
                isinstance(ref, dict)
                and all(isinstance(ref.get(k), str) and ref[k] for k in ("name", "type", "id"))
            ):
                problems.append(f"{where}: reference {ref!r} needs name, type and id")
        names = [r.get("name") for r in references if isinstance(r, dict)]
        if len(names) != len(set(names)):
            problems.append(f"{where}: reference names repeat")
    for key in ("coreMigrationVersion", "typeMigrationVersion"):
        value = obj.get(key)
        if not isinstance(value, str) or not VERSION.fullmatch(value):
            problems.append(f"{where}: {key} must be a x.y.z version")
        elif tuple(int(p) for p in value.split(".")) > target:
            problems.append(f"{where}: {key} {value} is newer than the target Kibana")
    return problems


def lens_problems(obj: JSON, data_view_ids: set[str]) -> list[str]:
    problems: list[str] = []
    where = f"lens {obj.get('id')}"
    state = obj["attributes"]["state"]
    layers = state.get("datasourceStates", {}).get("formBased", {}).get("layers")
    if not isinstance(layers, dict) or not layers:
        return [f"{where}: state.datasourceStates.formBased.layers must hold a layer"]
    for key in ("visualization", "query", "filters"):
        if key not in state:
            problems.append(f"{where}: state.{key} is missing")
    refs = {r["name"]: r for r in obj.get("references", []) if isinstance(r, dict) and "name" in r}
    for layer_id, layer in layers.items():
        ref = refs.get(f"indexpattern-datasource-layer-{layer_id}")
        if ref is None or ref.get("type") != "index-pattern" or ref.get("id") not in data_view_ids:
            problems.append(
                f"{where}: layer {layer_id} has no reference to a data view in the file"
            )
        columns = layer.get("columns")
        order = layer.get("columnOrder")
        if (
            not isinstance(columns, dict)
            or not isinstance(order, list)
            or set(order) != set(columns)
            or len(order) != len(set(order))
        ):
            problems.append(f"{where}: columnOrder must list every column once")
            continue
        bucketed_seen_metric = False
        for column_id in order:
            column = columns[column_id]
            if column.get("isBucketed"):
                if bucketed_seen_metric:
                    problems.append(f"{where}: bucket column {column_id} after a metric")
            else:
                bucketed_seen_metric = True
        for column_id, column in columns.items():
            problems += _column_problems(f"{where} column {column_id}", column, columns)
    problems += _visualization_problems(
        where, obj["attributes"]["visualizationType"], state.get("visualization", {}), layers
    )
    return problems


def _column_problems(where: str, column: Any, columns: JSON) -> list[str]:
    if not isinstance(column, dict):
        return [f"{where}: not an object"]
    problems = []
    for key, kind in (
        ("label", str),
        ("dataType", str),
        ("operationType", str),
        ("isBucketed", bool),
    ):
        if not isinstance(column.get(key), kind):
            problems.append(f"{where}: {key} must be {kind.__name__}")
    op = column.get("operationType")
    if op in FIELD_OPERATIONS:
        if not isinstance(column.get("sourceField"), str):
            problems.append(f"{where}: {op} needs a sourceField")
    elif op in REFERENCE_OPERATIONS:
        refs = column.get("references")
        if not isinstance(refs, list) or not refs or any(r not in columns for r in refs):
            problems.append(f"{where}: {op} references columns that are not in the layer")
        elif op == "counter_rate":
            if columns[refs[0]].get("operationType") != "max":
                problems.append(f"{where}: counter_rate must reference a max column")
            if column.get("timeScale") not in ("s", "m", "h", "d"):
                problems.append(f"{where}: counter_rate needs a timeScale")
        if op == "math":
            ast = column.get("params", {}).get("tinymathAst")
            if not isinstance(ast, dict) or any(
                a not in columns for a in ast.get("args", []) if isinstance(a, str)
            ):
                problems.append(f"{where}: math tinymathAst must name columns of the layer")
    else:
        problems.append(f"{where}: unknown operation {op!r}")
    if op == "terms":
        params = column.get("params", {})
        order = params.get("orderBy", {})
        if order.get("type") == "column":
            ranked = columns.get(order.get("columnId"))
            referenced = {r for c in columns.values() for r in c.get("references", [])}
            if (
                ranked is None
                or ranked.get("isBucketed")
                or "references" in ranked
                or order.get("columnId") in referenced
            ):
                problems.append(f"{where}: terms ranked by a column Lens cannot sort by")
        elif order.get("type") == "custom":
            agg = params.get("orderAgg")
            if not isinstance(agg, dict) or not isinstance(agg.get("sourceField"), str):
                problems.append(f"{where}: custom ranking needs an orderAgg on a field")
        elif order.get("type") != "alphabetical":
            problems.append(f"{where}: terms orderBy {order!r}")
        if not isinstance(params.get("size"), int) or params["size"] < 1:
            problems.append(f"{where}: terms size must be a positive integer")
    fmt = column.get("params", {}).get("format")
    if fmt is not None and fmt.get("id") not in ("number", "bytes", "bits", "percent", "custom"):
        problems.append(f"{where}: unknown format {fmt!r}")
    return problems


def _visualization_problems(where: str, kind: str, vis: JSON, layers: JSON) -> list[str]:
    problems: list[str] = []
    if kind == "lnsXY":
        for layer in vis.get("layers", []):
            columns = layers.get(layer.get("layerId"), {}).get("columns", {})
            if not columns:
                problems.append(
                    f"{where}: XY layer {layer.get('layerId')} is not a datasource layer"
                )
                continue
            x = columns.get(layer.get("xAccessor"), {})
            if x.get("operationType") != "date_histogram":
                problems.append(f"{where}: xAccessor must be the date histogram")
            accessors = layer.get("accessors", [])
            if not accessors or any(
                a not in columns or columns[a].get("isBucketed") for a in accessors
            ):
                problems.append(f"{where}: accessors must be metric columns of the layer")
            split = layer.get("splitAccessor")
            if split is not None and not columns.get(split, {}).get("isBucketed"):
                problems.append(f"{where}: splitAccessor must be a bucket column")
            for y in layer.get("yConfig", []):
                if y.get("forAccessor") not in accessors:
                    problems.append(f"{where}: yConfig for an accessor that is not plotted")
        if not vis.get("layers"):
            problems.append(f"{where}: an XY chart needs a layer")
    elif kind == "lnsDatatable":
        columns = layers.get(vis.get("layerId"), {}).get("columns", {})
        listed = [c.get("columnId") for c in vis.get("columns", [])]
        if not listed or any(c not in columns for c in listed):
            problems.append(f"{where}: datatable columns must be columns of its layer")
        if vis.get("sorting", {}).get("columnId") not in listed:
            problems.append(f"{where}: datatable sorted by a column it does not show")
    else:
        problems.append(f"{where}: unexpected visualizationType {kind}")
    return problems


def dashboard_problems(obj: JSON, objects: dict[tuple[str, str], JSON]) -> list[str]:
    problems: list[str] = []
    where = f"dashboard {obj.get('id')}"
    attributes = obj["attributes"]
    refs = {r["name"]: r for r in obj.get("references", [])}
    panels = _parse(attributes.get("panelsJSON"), f"{where}: panelsJSON", problems)
    _parse(
        attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON"),
        f"{where}: searchSourceJSON",
        problems,
    )
    if not isinstance(panels, list) or not panels:
        return [*problems, f"{where}: panelsJSON must be a non-empty list"]
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        index = panel.get("panelIndex")
        grid = panel.get("gridData", {})
        if not isinstance(index, str) or grid.get("i") != index:
            problems.append(f"{where}: panel {index!r}: gridData.i must equal panelIndex")
        if not all(isinstance(grid.get(k), int) for k in "xywh"):
            problems.append(f"{where}: panel {index}: gridData needs integer x, y, w, h")
            continue
        if grid["x"] < 0 or grid["w"] < 1 or grid["x"] + grid["w"] > 48 or grid["h"] < 1:
            problems.append(f"{where}: panel {index} leaves the 48-column grid")
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if (x, y) in cells:
                    problems.append(f"{where}: panel {index} overlaps another at {x},{y}")
                    break
                cells.add((x, y))
        if panel.get("panelRefName") != f"panel_{index}":
            problems.append(f"{where}: panel {index}: panelRefName must be panel_<panelIndex>")
            continue
        ref = refs.get(f"{index}:panel_{index}")
        if ref is None:
            problems.append(f"{where}: panel {index} has no reference")
        elif ref["type"] != panel.get("type") or (ref["type"], ref["id"]) not in objects:
            problems.append(
                f"{where}: panel {index} references {ref['type']} {ref['id']}, not in the file"
            )
    group = attributes.get("controlGroupInput")
    if group is not None:
        controls = _parse(
            group.get("panelsJSON"), f"{where}: controlGroupInput.panelsJSON", problems
        )
        _parse(
            group.get("ignoreParentSettingsJSON"), f"{where}: ignoreParentSettingsJSON", problems
        )
        for cid, control in (controls or {}).items():
            if control.get("type") != "optionsListControl" or not isinstance(
                control.get("explicitInput", {}).get("fieldName"), str
            ):
                problems.append(f"{where}: control {cid} must be an options list on a field")
            ref = refs.get(f"controlGroup_{cid}:optionsListDataView")
            if ref is None or (ref["type"], ref["id"]) not in objects:
                problems.append(f"{where}: control {cid} has no data view reference in the file")
    return problems


def tag_problems(obj: JSON, tag_ids: set[str]) -> list[str]:
    """A reference to a tag: Kibana's shape, on a taggable type, to a tag of the set."""
    problems = []
    where = f"{obj.get('type')} {obj.get('id')}"
    for ref in obj.get("references", []):
        if ref.get("type") != "tag":
            continue
        if obj.get("type") not in TAGGABLE:
            problems.append(f"{where}: Kibana cannot tag a {obj.get('type')}")
        if ref.get("name") != f"tag-ref-{ref.get('id')}":
            problems.append(
                f"{where}: a tag reference is named tag-ref-<id>, not {ref.get('name')!r}"
            )
        if ref.get("id") not in tag_ids:
            problems.append(f"{where}: references tag {ref.get('id')} which is not in the set")
    return problems


def untagged(objects: list[JSON], tag_id: str) -> list[str]:
    """The taggable objects that do not carry the tag ``tag_id``."""
    return [
        f"{o.get('type')} {o.get('id')}"
        for o in objects
        if o.get("type") in TAGGABLE
        and not any(
            r.get("type") == "tag" and r.get("id") == tag_id for r in o.get("references", [])
        )
    ]


def validate(objects: list[JSON], target: tuple[int, int, int]) -> list[str]:
    """Every problem of a set of objects meant to be imported together."""
    problems: list[str] = []
    by_key = {(o.get("type"), o.get("id")): o for o in objects}
    if len(by_key) != len(objects):
        problems.append("two objects share a type and id")
    data_views = {o["id"] for o in objects if o.get("type") == "index-pattern"}
    tags = {o["id"] for o in objects if o.get("type") == "tag"}
    for obj in objects:
        found = envelope_problems(obj, target)
        problems += found
        if found:
            continue
        problems += tag_problems(obj, tags)
        if obj["type"] == "lens":
            problems += lens_problems(obj, data_views)
        elif obj["type"] == "dashboard":
            problems += dashboard_problems(obj, by_key)  # type: ignore[arg-type]
    return problems
