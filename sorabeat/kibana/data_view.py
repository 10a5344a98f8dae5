"""The data view (``index-pattern`` saved object) every visualization reads.

Shape: Kibana 8.x data views keep ``title`` (the index pattern), ``name``, ``timeFieldName``
and JSON strings ``fields`` (empty: Kibana reads the mapping itself), ``fieldFormatMap``,
``runtimeFieldMap`` and ``typeMeta`` (as in Kibana's 8.8+ sample data views). Byte fields of
fields.yml get Kibana's ``bytes`` format, so Discover and ad-hoc charts show sizes too.
"""

from __future__ import annotations

import json

from sorabeat.es.fields import FieldSet, leaves
from sorabeat.kibana.ids import object_id
from sorabeat.kibana.lens import TIME_FIELD, Json
from sorabeat.kibana.versions import CORE_MIGRATION_VERSION, TYPE_MIGRATION_VERSIONS


def data_view_id(pattern: str) -> str:
    return object_id("index-pattern", pattern)


def data_view(pattern: str, sets: list[FieldSet]) -> Json:
    formats = {path: {"id": "bytes"} for path, f in leaves(sets) if f.format == "bytes"}
    return {
        "type": "index-pattern",
        "id": data_view_id(pattern),
        "attributes": {
            "title": pattern,
            "name": "Sorabeat",
            "timeFieldName": TIME_FIELD,
            "fields": "[]",
            "fieldFormatMap": json.dumps(formats, sort_keys=True),
            "runtimeFieldMap": "{}",
            "typeMeta": "{}",
        },
        "references": [],
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS["index-pattern"],
    }
