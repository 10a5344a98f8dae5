"""Lens saved objects (``type: lens``) from a small description of a chart: pure functions,
no I/O.

Shapes (confirmed against Kibana 8.x sources and archives: the formBased datasource, the
counter_rate definition, terms ``orderBy``/``orderAgg``, lnsXY and lnsDatatable states of the
sample data and kbn_archiver fixtures):
- ``attributes.state.datasourceStates.formBased.layers.<layerId>`` holds ``columns`` (id ->
  column) and ``columnOrder`` (outer buckets first: a terms split before the date histogram,
  so the top N are chosen over the whole time range).
- A column: ``label``, ``dataType``, ``operationType``, ``isBucketed``, ``scale``, and
  ``sourceField`` for field operations or ``references`` (column ids) for calculations.
  ``counter_rate`` must reference a ``max`` column and carries ``timeScale: "s"``.
- A terms column cannot be ranked by a calculation or by a column something references
  (Lens' isSortableByColumn), so a counter split is ranked by an inline ``orderAgg`` (custom).
- A formula column (``operationType: formula``) keeps its text in ``params.formula`` and
  references a ``math`` column whose ``tinymathAst`` names the helper columns ``<id>X<n>``.
- The object references its data view once per layer as
  ``indexpattern-datasource-layer-<layerId>`` (and ``indexpattern-datasource-current-
  indexpattern``, as Kibana writes it).
Inferred (not checked against a running Kibana): the value format ``suffix`` parameter (in
8.x's format selector) is shown after every value; a ``timeScale`` column gets Lens' own
"/s" after its values, so rate labels say "/s" and rate formats add no suffix; a
``unique_count`` keeps Lens' default ``emptyAsNull: true`` (no documents, no value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sorabeat.kibana.ids import part_id
from sorabeat.kibana.versions import CORE_MIGRATION_VERSION, TYPE_MIGRATION_VERSIONS

Json = dict[str, Any]
TIME_FIELD = "@timestamp"
Operation = Literal[
    "max", "min", "average", "unique_count", "counter_rate", "difference", "per_poll_sum"
]
_FIELD_OPERATIONS = ("max", "min", "average", "unique_count")


@dataclass(frozen=True)
class Format:
    """A Lens value format: ``number`` or ``bytes``, decimals, an optional suffix."""

    id: Literal["number", "bytes", "bits"] = "number"
    decimals: int = 0
    suffix: str = ""

    def as_json(self) -> Json:
        params: Json = {"decimals": self.decimals}
        if self.suffix:
            params["suffix"] = self.suffix
        return {"id": self.id, "params": params}


@dataclass(frozen=True)
class Series:
    """One plotted value per bucket.

    ``counter_rate``: per-second rate of the max of a counter (a drop is read as a restart);
    ``difference``: ``max(field) - max(minus)`` (a formula); ``per_poll_sum``: the sum of
    ``field`` over one poll's events (``sum(field) / unique_count(@timestamp)``: every event
    of a poll has the poll's timestamp, so a bucket of several polls shows their average
    sum, not their total); the others aggregate ``field``.
    """

    field: str
    label: str
    operation: Operation
    format: Format = Format()
    minus: str | None = None  # difference only
    right_axis: bool = False

    def fields(self) -> tuple[str, ...]:
        return (self.field,) if self.minus is None else (self.field, self.minus)


@dataclass(frozen=True)
class Split:
    """Top ``size`` values of a keyword field: one series (or table row) each."""

    field: str
    label: str
    size: int = 10


@dataclass(frozen=True)
class XYChart:
    series: tuple[Series, ...]
    split: Split | None = None
    series_type: Literal["line", "area", "bar_stacked", "area_stacked"] = "line"


@dataclass(frozen=True)
class Table:
    """Rows: the top values of ``rows``; columns: field aggregations over the time range."""

    rows: Split
    columns: tuple[Series, ...]


Chart = XYChart | Table


def _field_column(operation: str, field: str, label: str, fmt: Format | None) -> Json:
    column: Json = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {},
    }
    if operation == "unique_count":
        column["params"]["emptyAsNull"] = True  # Lens' default: no documents, no value
    if fmt is not None:
        column["params"]["format"] = fmt.as_json()
    return column


def _hidden_max(field: str) -> Json:
    """A helper ``max`` column, labelled as Lens labels the ones it creates itself."""
    return {
        "label": f"Maximum of {field}",
        "dataType": "number",
        "operationType": "max",
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
    }


def _date_histogram() -> Json:
    return {
        "label": TIME_FIELD,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": TIME_FIELD,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _terms(split: Split, order: Json, order_agg: Json | None) -> Json:
    params: Json = {
        "size": split.size,
        "orderBy": order,
        "orderDirection": "desc",
        "otherBucket": False,
        "missingBucket": False,
        "parentFormat": {"id": "terms"},
    }
    if order_agg is not None:
        params["orderAgg"] = order_agg
    return {
        "label": split.label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": split.field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": params,
    }


def _sum_helper(field: str) -> Json:
    return {
        "label": f"Sum of {field}",
        "dataType": "number",
        "operationType": "sum",
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": False},
    }


def _polls_helper() -> Json:
    return {
        "label": f"Unique count of {TIME_FIELD}",
        "dataType": "number",
        "operationType": "unique_count",
        "sourceField": TIME_FIELD,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def _difference_columns(column_id: str, series: Series) -> dict[str, Json]:
    if series.operation == "per_poll_sum":
        text = f"sum({series.field}) / unique_count({TIME_FIELD})"
        return _formula_columns(
            column_id, series, text, "divide", _sum_helper(series.field), _polls_helper()
        )
    assert series.minus is not None
    text = f"max({series.field}) - max({series.minus})"
    return _formula_columns(
        column_id, series, text, "subtract", _hidden_max(series.field), _hidden_max(series.minus)
    )


def _formula_columns(
    column_id: str, series: Series, text: str, function: str, first: Json, second: Json
) -> dict[str, Json]:
    """A formula ``first <function> second`` as Lens stores it: the formula column, its
    two helper columns and the math column joining them."""
    left, right, math = f"{column_id}X0", f"{column_id}X1", f"{column_id}X2"
    part = f"Part of {series.label}"
    return {
        column_id: {
            "label": series.label,
            "customLabel": True,
            "dataType": "number",
            "operationType": "formula",
            "isBucketed": False,
            "scale": "ratio",
            "params": {
                "formula": text,
                "isFormulaBroken": False,
                "format": series.format.as_json(),
            },
            "references": [math],
        },
        left: {**first, "label": part, "customLabel": True},
        right: {**second, "label": part, "customLabel": True},
        math: {
            "label": part,
            "customLabel": True,
            "dataType": "number",
            "operationType": "math",
            "isBucketed": False,
            "scale": "ratio",
            "params": {
                "tinymathAst": {
                    "type": "function",
                    "name": function,
                    "args": [left, right],
                    "location": {"min": 0, "max": len(text)},
                    "text": text,
                }
            },
            "references": [left, right],
        },
    }


def series_columns(column_id: str, series: Series) -> dict[str, Json]:
    """The visible column ``column_id`` for ``series`` first, then its helpers."""
    if series.operation in _FIELD_OPERATIONS:
        return {
            column_id: _field_column(series.operation, series.field, series.label, series.format)
        }
    if series.operation == "counter_rate":
        helper = f"{column_id}X0"
        return {
            column_id: {
                "label": series.label,
                "customLabel": True,
                "dataType": "number",
                "operationType": "counter_rate",
                "isBucketed": False,
                "scale": "ratio",
                "references": [helper],
                "timeScale": "s",
                "params": {"format": series.format.as_json()},
            },
            helper: _hidden_max(series.field),
        }
    return _difference_columns(column_id, series)


def _ranking(first_id: str, first: Series) -> tuple[Json, Json | None]:
    """How a split picks its top values: by the first series when Lens can sort by it,
    else by an inline max of its field."""
    if first.operation in _FIELD_OPERATIONS:
        return {"type": "column", "columnId": first_id}, None
    return {"type": "custom"}, _hidden_max(first.field)


def _layer(object_id: str, chart: Chart) -> tuple[str, Json, Json]:
    """(layer id, datasource layer, visualization state)."""
    layer_id = part_id(object_id, "layer")
    series = chart.series if isinstance(chart, XYChart) else chart.columns
    split = chart.split if isinstance(chart, XYChart) else chart.rows
    ids = [part_id(object_id, f"series{i}") for i in range(len(series))]
    metrics: dict[str, Json] = {}
    for column_id, s in zip(ids, series, strict=True):
        metrics.update(series_columns(column_id, s))
    columns: dict[str, Json] = {}
    split_id = part_id(object_id, "split")
    if split is not None:
        order, order_agg = _ranking(ids[0], series[0])
        columns[split_id] = _terms(split, order, order_agg)
    x_id = part_id(object_id, "x")
    if isinstance(chart, XYChart):
        columns[x_id] = _date_histogram()
    columns.update(metrics)
    datasource = {"columns": columns, "columnOrder": list(columns), "incompleteColumns": {}}
    if isinstance(chart, XYChart):
        visualization = _xy_state(layer_id, x_id, ids, chart, split_id)
    else:
        visualization = _table_state(layer_id, split_id, ids)
    return layer_id, datasource, visualization


def _xy_state(layer_id: str, x_id: str, ids: list[str], chart: XYChart, split_id: str) -> Json:
    layer: Json = {
        "layerId": layer_id,
        "layerType": "data",
        "seriesType": chart.series_type,
        "xAccessor": x_id,
        "accessors": ids,
        "position": "top",
        "showGridlines": False,
    }
    if chart.split is not None:
        layer["splitAccessor"] = split_id
    right = [i for i, s in zip(ids, chart.series, strict=True) if s.right_axis]
    if right:
        layer["yConfig"] = [{"forAccessor": i, "axisMode": "right"} for i in right]
    flags = {"x": True, "yLeft": True, "yRight": True}
    return {
        "legend": {"isVisible": True, "position": "right", "shouldTruncate": True, "maxLines": 1},
        "valueLabels": "hide",
        "fittingFunction": "Linear",
        "curveType": "LINEAR",
        "yLeftExtent": {"mode": "full"},
        "yRightExtent": {"mode": "full"},
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": True, "yRight": True},
        "tickLabelsVisibilitySettings": flags,
        "gridlinesVisibilitySettings": flags,
        "labelsOrientation": {"x": 0, "yLeft": 0, "yRight": 0},
        "preferredSeriesType": chart.series_type,
        "layers": [layer],
    }


def _table_state(layer_id: str, rows_id: str, ids: list[str]) -> Json:
    return {
        "layerId": layer_id,
        "layerType": "data",
        "columns": [{"columnId": rows_id}, *({"columnId": i} for i in ids)],
        "sorting": {"columnId": ids[0], "direction": "desc"},
        "rowHeight": "single",
        "rowHeightLines": 1,
    }


def lens_object(
    object_id: str, title: str, description: str, chart: Chart, data_view_id: str
) -> Json:
    """A complete ``lens`` saved object reading ``data_view_id``."""
    layer_id, datasource, visualization = _layer(object_id, chart)
    return {
        "type": "lens",
        "id": object_id,
        "attributes": {
            "title": title,
            "description": description,
            "visualizationType": "lnsXY" if isinstance(chart, XYChart) else "lnsDatatable",
            "state": {
                "datasourceStates": {"formBased": {"layers": {layer_id: datasource}}},
                "visualization": visualization,
                "query": {"query": "", "language": "kuery"},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        "references": [
            {
                "type": "index-pattern",
                "id": data_view_id,
                "name": "indexpattern-datasource-current-indexpattern",
            },
            {
                "type": "index-pattern",
                "id": data_view_id,
                "name": f"indexpattern-datasource-layer-{layer_id}",
            },
        ],
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS["lens"],
    }
