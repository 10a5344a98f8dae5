"""Which Kibana the generated saved objects are for, and which Kibana can import them.

Target: Kibana 8.15 (the shapes are those of 8.11-8.15 exports).

Confirmed (Kibana's own sources and docs, read through the search tool):
- Import API (docs/api/saved-objects/import.asciidoc): ``POST [/s/<space>]/api/saved_objects/
  _import``, multipart/form-data with a ``file`` part, ``kbn-xsrf`` header, ``overwrite``
  query flag; answer ``{success, successCount, successResults[], errors[]}``, each error
  ``{id, type, title, meta, error: {type: conflict | ambiguous_conflict | missing_references
  | unsupported_type | unknown, ...}}`` (core-saved-objects-common import types). "Saved
  objects can only be imported into the same version, a newer minor on the same major, or
  the next major."
- Documents carry ``coreMigrationVersion`` and ``typeMigrationVersion``; Kibana's document
  migrator throws for a document "from a higher version" than its latest migration
  (document_upgrade_pipeline tests), so these numbers set the oldest Kibana that can import.
- ``coreMigrationVersion`` "8.8.0": Kibana's sample data sets and test archives of 8.8-8.15.
- ``lens`` "8.9.0": the last Lens migration (8.9.0 commonMigrateMetricFormatter, after 8.6.0
  renamed the ``indexpattern`` datasource to ``formBased``); the 2024 kbn_archiver lens
  fixtures (legend_statistics.json) carry 8.9.0.
- ``dashboard`` "8.9.0": dashboards embed Lens panel migrations up to 8.9.0; Kibana's own
  8.x-built dashboards carry 8.9.0 (the ecommerce sample, an older export, carries 8.7.0).
- ``index-pattern`` "8.0.0": what Kibana 8.8+ exports for a data view (kbn_archiver
  fixtures and users' exports of 8.8-8.17 all carry ``"typeMigrationVersion":"8.0.0"``; the
  7.11.0 of the ecommerce sample is a sample file's, not an export's).
- ``tag``: the saved objects tagging plugin's ``tag`` type (attributes ``name``,
  ``description``, ``color``; references to a tag are ``{type: tag, id, name:
  tag-ref-<id>}``; taggable types: dashboard, visualization, map, lens, search, not
  index-pattern).

Inferred: the ``tag`` type's last migration is its 8.0.0 conversion to a multi-namespace
type (``convertToMultiNamespaceTypeVersion: '8.0.0'``), hence "8.0.0".

Inferred: the panel ``version`` inside ``panelsJSON`` only needs to be no newer than the
importing Kibana; we write the oldest Kibana we accept.
"""

from __future__ import annotations

CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSIONS = {
    "index-pattern": "8.0.0",
    "tag": "8.0.0",
    "lens": "8.9.0",
    "dashboard": "8.9.0",
}
TARGET_VERSION = "8.15.0"
LAST_MAJOR = 9  # an 8.x export imports into the next major, not beyond


def parse(text: str) -> tuple[int, int, int]:
    """``8.15.0``, ``8.15.0-SNAPSHOT`` -> (8, 15, 0); ValueError otherwise."""
    core = text.strip().split("-", 1)[0].split("+", 1)[0]
    parts = core.split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a version: {text!r}")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def show(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


# The oldest Kibana whose migrations know every version our documents claim.
MINIMUM = max(parse(v) for v in (CORE_MIGRATION_VERSION, *TYPE_MIGRATION_VERSIONS.values()))
PANEL_VERSION = show(MINIMUM)


def incompatibility(version: tuple[int, int, int]) -> str | None:
    """Why objects made for this target cannot be imported into Kibana ``version``."""
    if version < MINIMUM:
        return (
            f"Kibana {show(version)} is too old: the dashboards need Kibana {show(MINIMUM)} "
            f"or newer (saved objects cannot be imported into an older Kibana)"
        )
    if version[0] > LAST_MAJOR:
        return (
            f"Kibana {show(version)} is too new: objects made for Kibana "
            f"{TARGET_VERSION.rsplit('.', 1)[0]} import into {LAST_MAJOR}.x at most"
        )
    return None
