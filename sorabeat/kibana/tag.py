"""The "sorabeat" tag: a Kibana ``tag`` saved object, and a reference to it on every object
Kibana lets a tag be put on (dashboards and Lens visualizations; a data view cannot carry
one), so sorabeat's many per-field charts are one click away, and out of the way, in the
Visualize library."""

from __future__ import annotations

from sorabeat.kibana.ids import object_id
from sorabeat.kibana.lens import Json
from sorabeat.kibana.versions import CORE_MIGRATION_VERSION, TYPE_MIGRATION_VERSIONS

TAG_NAME = "sorabeat"
TAG_ID = object_id("tag", TAG_NAME)
TAGGABLE = frozenset({"dashboard", "visualization", "map", "lens", "search"})


def tag_object() -> Json:
    return {
        "type": "tag",
        "id": TAG_ID,
        "attributes": {
            "name": TAG_NAME,
            "description": "Loaded by sorabeat setup: Sora dashboards and visualizations",
            "color": "#54B399",
        },
        "references": [],
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS["tag"],
    }


def tagged(obj: Json) -> Json:
    """``obj`` with a reference to the sorabeat tag (unchanged if Kibana cannot tag it)."""
    if obj["type"] not in TAGGABLE:
        return obj
    reference = {"type": "tag", "id": TAG_ID, "name": f"tag-ref-{TAG_ID}"}
    return {**obj, "references": [*obj["references"], reference]}
