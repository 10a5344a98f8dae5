"""Every saved object sorabeat loads into Kibana, generated from fields.yml alone, and their
NDJSON file (what the import API takes and ``sorabeat export dashboard`` writes)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from sorabeat.es.fields import FieldSet, load_fields
from sorabeat.kibana.dashboard import overview
from sorabeat.kibana.data_view import data_view, data_view_id
from sorabeat.kibana.field_charts import (
    CONNECTION_SPLIT,
    NODE_SPLIT,
    Catalog,
    field_visualizations,
    numeric_fields,
)
from sorabeat.kibana.lens import Json
from sorabeat.kibana.tag import TAG_NAME, tag_object, tagged


@dataclass(frozen=True)
class Assets:
    data_view: Json
    field_visualizations: dict[str, Json]  # field path -> its visualization
    overview_visualizations: list[Json]  # the dashboard's own multi-field charts
    dashboard: Json

    def objects(self) -> list[Json]:
        """The data view first, the dashboard last, the tag just before it (Kibana resolves
        references within the file in any order); every object Kibana can tag carries the
        sorabeat tag."""
        return [
            self.data_view,
            *(tagged(o) for o in self.field_visualizations.values()),
            *(tagged(o) for o in self.overview_visualizations),
            tag_object(),
            tagged(self.dashboard),
        ]

    def ndjson(self) -> bytes:
        return b"".join(
            orjson.dumps(o, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
            for o in self.objects()
        )

    def summary(self) -> str:
        return (
            f"data view {self.data_view['attributes']['title']}, "
            f"{len(self.field_visualizations) + len(self.overview_visualizations)} "
            f'visualizations, dashboard "{self.dashboard["attributes"]["title"]}", '
            f"all tagged {TAG_NAME}"
        )


def build_assets(index_pattern: str = "sorabeat-*", sets: list[FieldSet] | None = None) -> Assets:
    """Raises FieldsError (a broken fields.yml) or CatalogError (a field the dashboard needs
    is missing or of another kind)."""
    sets = load_fields() if sets is None else sets
    catalog = Catalog(sets)
    for split in (CONNECTION_SPLIT, NODE_SPLIT):
        catalog.keyword(split.field)
    view = data_view(index_pattern, sets)
    view_id = data_view_id(index_pattern)
    fields = field_visualizations(numeric_fields(sets), view_id)
    dashboard, own = overview(catalog, view_id)
    return Assets(view, fields, own, dashboard)
