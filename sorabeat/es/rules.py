"""``indices`` / ``pipelines`` rules compiled into what picks an event's index or pipeline.

Below both the settings (which check rules with it) and the bulk builder (which applies
them), so neither imports the other's module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sorabeat.conditions import Condition, ConditionError, compile_condition
from sorabeat.es.format import EventFormat, FormatError


class RuleSpec(Protocol):
    """What a configured rule gives besides its target (``IndexRule``, ``PipelineRule``)."""

    @property
    def mappings(self) -> Mapping[str, str]: ...
    @property
    def default(self) -> str | None: ...
    @property
    def when(self) -> Any: ...


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


def compile_rule(key: str, text: str | None, rule: RuleSpec, static: Mapping[str, str]) -> Rule:
    """``text`` is the rule's ``key`` (index or pipeline) format string."""
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


def metadata_text(metadata: Mapping[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) and value else None
