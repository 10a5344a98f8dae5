"""``sorabeat setup --dashboards``: check Kibana's version, then import the data view, the
visualizations and the dashboard in one request (``overwrite=true``: running it again
replaces them)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sorabeat.es.fields import FieldsError
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.kibana import versions
from sorabeat.kibana.assets import Assets, build_assets
from sorabeat.kibana.client import KibanaClient
from sorabeat.kibana.connection import Connection, resolve
from sorabeat.kibana.field_charts import CatalogError
from sorabeat.kibana.responses import KibanaAuthError, KibanaError
from sorabeat.kibana.settings import DashboardsSettings, KibanaSettings

log = logging.getLogger("sorabeat.kibana")
Write = Callable[[str], None]


class DashboardsError(Exception):
    """Loading failed; the message says why (several lines when several objects failed)."""


def assets_for(dashboards: DashboardsSettings) -> Assets:
    try:
        return build_assets(dashboards.index)
    except (FieldsError, CatalogError) as exc:
        raise DashboardsError(f"cannot generate the Kibana objects: {exc}") from None


def _credentials_hint(connection: Connection) -> str:
    if connection.credentials_from is None:
        return (
            "no credentials were sent: set setup.kibana.username/password or "
            "setup.kibana.api_key (or output.elasticsearch's, which are used when "
            "setup.kibana has none)"
        )
    return (
        f"the credentials came from {connection.credentials_from}: check them, or set "
        "setup.kibana.username/password or setup.kibana.api_key"
    )


async def load_dashboards(
    kibana: KibanaSettings,
    dashboards: DashboardsSettings,
    es: ElasticsearchSettings | None,
    write: Write,
) -> int:
    """Import every object; returns how many. Raises DashboardsError."""
    assets = assets_for(dashboards)
    try:
        connection = resolve(kibana, es)
    except ValueError as exc:
        raise DashboardsError(f"setup.kibana.host: {exc}") from None
    if connection.credentials_from == "output.elasticsearch":
        write("Using the Elasticsearch output's credentials (setup.kibana sets none)")
    if connection.ssl_from != "setup.kibana.ssl":
        write(f"Using {connection.ssl_from} for TLS to Kibana (setup.kibana.ssl is not set)")
    try:
        client = KibanaClient(connection)
    except KibanaError as exc:
        raise DashboardsError(exc.message) from None
    try:
        return await _load(client, connection, assets, write)
    except KibanaAuthError as exc:
        raise DashboardsError(f"{exc.message}; {_credentials_hint(connection)}") from None
    except KibanaError as exc:
        raise DashboardsError(exc.message) from None
    finally:
        await client.close()


async def _load(client: KibanaClient, connection: Connection, assets: Assets, write: Write) -> int:
    status = await client.status()
    write(f"Connected to Kibana {status.version_text} at {connection.describe()}")
    problem = versions.incompatibility(status.version)
    if problem:
        raise DashboardsError(problem)
    if status.level not in ("available", "green", "degraded", "yellow", "unknown"):
        write(f"Warning: Kibana reports its status as {status.level}; the import may fail")
    objects = assets.objects()
    result = await client.import_objects(assets.ndjson())
    if result.errors or not result.success:
        lines = [
            f"Kibana imported {result.success_count} of {len(objects)} objects; "
            f"{len(result.errors)} failed:",
            *(f"  {e.describe()}" for e in result.errors),
        ]
        raise DashboardsError("\n".join(lines))
    if result.success_count != len(objects):
        log.warning(
            "Kibana reports %d objects imported of %d sent", result.success_count, len(objects)
        )
    write(f"Imported {result.success_count} objects into Kibana ({assets.summary()})")
    return result.success_count
