"""Index/pipeline format strings: field references, defaults, Joda dates, lowercasing."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.es.format import EventFormat, FormatError, MissingFieldError, parse
from sorabeat.event import format_timestamp

TS = "2026-01-02T03:04:05.678Z"
STATIC = {"agent.version": "0.1.0", "agent.name": "Sora01"}
EVENT = {"sora": {"connections": {"channel_id": "Room-A"}}, "n": 7, "flag": True, "a.b": "flat"}


def render(text: str, event: dict[str, object] | None = None, ts: str = TS) -> str:
    return EventFormat(text, STATIC).render(ts, lambda: event if event is not None else EVENT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sorabeat-%{[agent.version]}-%{+yyyy.MM.dd}", "sorabeat-0.1.0-2026.01.02"),
        ("x-%{[agent.name]}", "x-sora01"),  # lowercased
        ("%{[sora.connections.channel_id]}", "room-a"),
        ("%{[missing]:fallback}-%{[n]}", "fallback-7"),
        ("%{[flag]}", "true"),
        ("%{[a.b]}", "flat"),  # a literal dotted key
        ("%{+yyyy.MM.dd.HH.mm.ss.SSS}", "2026.01.02.03.04.05.678"),
        ("%{+yy-M-d H:m:s}", "26-1-2 3:4:5"),
        ("%{+MMM MMMM E EEEE}", "jan january fri friday"),
        ("%{+DDD e w xxxx}", "002 5 1 2026"),
        ("%{+'week'ww}", "week01"),
        ("plain", "plain"),
        ("100%-%{+yyyy}", "100%-2026"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert render(text) == expected


def test_missing_field_without_default_names_it() -> None:
    with pytest.raises(MissingFieldError) as info:
        render("idx-%{[sora.nothing]}")
    assert info.value.field == "sora.nothing"


@pytest.mark.parametrize("text", ["a-%{[x]", "%{[]}", "%{+yyyy-QQ}", "%{+'open}", "x%{"])
def test_bad_format_strings_are_refused(text: str) -> None:
    with pytest.raises(FormatError):
        EventFormat(text)


def test_static_fields_need_no_event() -> None:
    fmt = EventFormat("sorabeat-%{[agent.version]}-%{+yyyy.MM.dd}", STATIC)
    assert not fmt.needs_event

    def explode() -> object:
        raise AssertionError("the event was decoded")

    assert fmt.render(TS, explode) == "sorabeat-0.1.0-2026.01.02"
    assert EventFormat("x-%{[agent.version]}", STATIC).value == "x-0.1.0"
    assert EventFormat("x-%{[host.name]}", STATIC).needs_event


def test_dynamic_field_decodes_once_per_render() -> None:
    calls = []

    def fields() -> object:
        calls.append(1)
        return EVENT

    EventFormat("%{[n]}-%{[flag]}-%{[sora.connections.channel_id]}").render(TS, fields)
    assert len(calls) == 1


def test_parse_keeps_literals_and_references_apart() -> None:
    kinds = [type(p).__name__ for p in parse("a%{[b]:c}d%{+yyyy}")]
    assert kinds == ["_Literal", "_Field", "_Literal", "_Date"]


@given(st.integers(min_value=0, max_value=4_102_444_800_000))  # 1970 .. 2100
def test_daily_index_matches_utc_calendar(epoch_ms: int) -> None:
    ts = format_timestamp(epoch_ms)
    day = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    fmt = EventFormat("sorabeat-%{[agent.version]}-%{+yyyy.MM.dd}", STATIC)
    assert fmt.render(ts) == f"sorabeat-0.1.0-{day:%Y.%m.%d}"
    hourly = EventFormat("m-%{+yyyy.MM.dd.HH}-%{+DDD}")
    assert hourly.render(ts) == f"m-{day:%Y.%m.%d.%H}-{day:%j}"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_field_values_are_lowercased_text(value: str) -> None:
    doc = {"f": value}
    rendered = EventFormat("i-%{[f]}").render(TS, lambda: doc)
    assert rendered == ("i-" + value).lower()


def test_non_string_values_render_as_json() -> None:
    doc = {"obj": {"k": [1, 2]}}
    assert EventFormat("%{[obj]}").render(TS, lambda: doc) == orjson.dumps(doc["obj"]).decode()
