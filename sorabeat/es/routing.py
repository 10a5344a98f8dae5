"""Where an event goes: its index (or data stream), ingest pipeline and bulk action.

libbeat's order: ``@metadata._index`` / ``@metadata.pipeline`` first, then the first
``indices`` / ``pipelines`` rule that matches, then ``index`` / ``pipeline``. When
``index`` is not set, the target is the data stream ``sorabeat-<version>`` (ILM enabled,
Elasticsearch >= 7.9) or today's daily index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sorabeat.conditions import Condition, ConditionError, compile_condition
from sorabeat.es.format import EventFormat, FormatError
from sorabeat.es.settings import (
    DATA_STREAM,
    DEFAULT_INDEX,
    ElasticsearchSettings,
    IndexRule,
    PipelineRule,
)

if TYPE_CHECKING:
    from sorabeat.es.bulk import ActionBuilder, ServerInfo

Fields = Callable[[], Any]


class RoutingError(ValueError):
    """A rule that cannot be compiled."""


@dataclass(frozen=True)
class Rule:
    """One ``indices``/``pipelines`` entry: a format (a key into ``mappings`` when given)
    and an optional condition."""

    target: EventFormat
    mappings: Mapping[str, str]
    default: str | None
    when: Condition | None

    def select(self, timestamp: str, fields: Fields) -> str | None:
        """The target for this event, or None when the rule does not apply."""
        if self.when is not None and not self.when(fields()):
            return None
        value = self.target.render(timestamp, fields)
        if self.mappings:
            return self.mappings.get(value, self.default)
        return value or None


def compile_rule(rule: IndexRule | PipelineRule, static: Mapping[str, str]) -> Rule:
    text = rule.index if isinstance(rule, IndexRule) else rule.pipeline
    key = "index" if isinstance(rule, IndexRule) else "pipeline"
    if not text:
        raise RoutingError(f"{key} is required")
    try:
        target = EventFormat(text, static)
    except FormatError as exc:
        raise RoutingError(f"{key}: {exc}") from None
    when = None
    if rule.when is not None:
        try:
            when = compile_condition(rule.when)
        except ConditionError as exc:
            raise RoutingError(f"when: {exc}") from None
    if rule.default is not None and not rule.mappings:
        raise RoutingError("default is only used with mappings")
    return Rule(target, dict(rule.mappings), rule.default, when)


def first_match(rules: Sequence[Rule], timestamp: str, fields: Fields) -> str | None:
    for rule in rules:
        value = rule.select(timestamp, fields)
        if value:
            return value
    return None


def default_index(configured: str | None, data_stream: bool) -> str:
    """The ``index`` format: as configured, else the data stream or the daily index."""
    if configured is not None:
        return configured
    return DATA_STREAM if data_stream else DEFAULT_INDEX


def writes_data_stream(index: str | None, ilm_enabled: bool, server: ServerInfo) -> bool:
    """Whether events go to the data stream: ``index`` not set, ILM enabled, and a cluster
    with data streams and ILM."""
    return index is None and ilm_enabled and server.data_streams


def metadata_text(metadata: Mapping[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) and value else None


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
            self.index_rules = [compile_rule(r, static) for r in settings.indices]
            self.pipeline_rules = [compile_rule(r, static) for r in settings.pipelines]
        except RoutingError as exc:
            raise FormatError(str(exc)) from None
        self.pipeline = EventFormat(settings.pipeline, static) if settings.pipeline else None

    def writes_data_stream(self, server: ServerInfo) -> bool:
        return writes_data_stream(self.settings.index, self.data_streams, server)

    def builder(self, server: ServerInfo) -> ActionBuilder:
        from sorabeat.es.bulk import ActionBuilder

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
