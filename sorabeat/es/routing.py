"""Where an event goes: its index (or data stream), ingest pipeline and bulk action.

libbeat's order: ``@metadata._index`` / ``@metadata.pipeline`` first, then the first
``indices`` / ``pipelines`` rule that matches, then ``index`` / ``pipeline``. When
``index`` is not set, the target is the data stream ``sorabeat-<version>`` (ILM enabled,
Elasticsearch >= 7.9) or today's daily index.
"""

from __future__ import annotations

from collections.abc import Mapping

from sorabeat.es.bulk import ActionBuilder, ServerInfo
from sorabeat.es.format import EventFormat, FormatError
from sorabeat.es.rules import RoutingError, compile_rule
from sorabeat.es.settings import (
    DATA_STREAM,
    DEFAULT_INDEX,
    ElasticsearchSettings,
)


def default_index(configured: str | None, data_stream: bool) -> str:
    """The ``index`` format: as configured, else the data stream or the daily index."""
    if configured is not None:
        return configured
    return DATA_STREAM if data_stream else DEFAULT_INDEX


def writes_data_stream(index: str | None, ilm_enabled: bool, server: ServerInfo) -> bool:
    """Whether events go to the data stream: ``index`` not set, ILM enabled, and a cluster
    with data streams and ILM."""
    return index is None and ilm_enabled and server.data_streams


class Routes:
    """The output's routing settings, compiled once; ``builder`` fixes the default target
    when the cluster is known (a data stream needs Elasticsearch >= 7.9)."""

    def __init__(
        self, settings: ElasticsearchSettings, static: Mapping[str, str], data_streams: bool
    ) -> None:
        self.settings = settings
        self.static = static
        self.data_streams = data_streams
        try:
            self.index_rules = [compile_rule("index", r.index, r, static) for r in settings.indices]
            self.pipeline_rules = [
                compile_rule("pipeline", r.pipeline, r, static) for r in settings.pipelines
            ]
        except RoutingError as exc:
            raise FormatError(str(exc)) from None
        self.pipeline = EventFormat(settings.pipeline, static) if settings.pipeline else None

    def writes_data_stream(self, server: ServerInfo) -> bool:
        return writes_data_stream(self.settings.index, self.data_streams, server)

    def builder(self, server: ServerInfo) -> ActionBuilder:

        data_stream = self.writes_data_stream(server)
        index = EventFormat(default_index(self.settings.index, data_stream), self.static)
        return ActionBuilder(
            index,
            self.pipeline,
            server,
            index_rules=self.index_rules,
            pipeline_rules=self.pipeline_rules,
            data_stream=data_stream,
        )
