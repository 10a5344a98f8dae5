"""The settings machinery: conversions, every kind of problem, aliases, defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.config.schema import (
    ExpandedStr,
    Range,
    Seconds,
    Size,
    Validator,
    parse_duration,
    parse_size,
    setting,
    walk_keys,
)


@dataclass(frozen=True)
class Inner:
    level: Literal["low", "high"] = setting("low")


@dataclass(frozen=True)
class Sample:
    name: str = setting("x")
    count: Annotated[int, Range(1, 10)] = setting(1)
    ratio: float = setting(0.5)
    enabled: bool = setting(True)
    wait: Seconds = setting(1.0)
    size: Size = setting(1024)
    hosts: list[str] = setting(factory=list)
    extra: dict[str, Any] = setting(factory=dict)
    worker: int = setting(1, aliases=("workers",))
    inner: Inner = setting(factory=Inner)
    maybe: Inner | None = setting(None)
    password: str | None = setting(None, secret=True)


def build(raw: Any) -> tuple[Sample, list[str]]:
    v = Validator({("count",): "f.yml:3"})
    obj = v.build(Sample, raw)
    return obj, [str(p) for p in v.problems]


def test_defaults_when_empty() -> None:
    obj, problems = build({})
    assert problems == []
    assert obj == Sample()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"count": 11}, "f.yml:3: count: must be <= 10, got 11"),
        ({"count": "3"}, "f.yml:3: count: expected an integer, got string '3'"),
        ({"enabled": "yes"}, "enabled: expected a boolean (true or false), got string 'yes'"),
        ({"wait": "3 parsecs"}, "wait: invalid duration '3 parsecs'"),
        ({"size": "1 elephant"}, "size: invalid size '1 elephant'"),
        (
            {"inner": {"level": "mid"}},
            "inner.level: expected one of 'low', 'high', got string 'mid'",
        ),
        ({"inner": 3}, "inner: expected a mapping, got number 3"),
        ({"hostz": []}, "hostz: unknown setting (did you mean 'hosts'?)"),
        ({"worker": 1, "workers": 2}, "workers: conflicts with 'worker'; set only one"),
        ({"ratio": True}, "ratio: expected a number, got boolean true"),
        ({"name": 1.5}, "name: expected a string, got number 1.5 (quote it)"),
    ],
)
def test_each_problem_is_named(raw: dict[str, Any], expected: str) -> None:
    _, problems = build(raw)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_all_problems_are_collected_not_only_the_first() -> None:
    _, problems = build({"count": 0, "enabled": 1, "bogus": 2, "inner": {"level": 3}})
    assert len(problems) == 4


def test_conversions() -> None:
    obj, problems = build(
        {
            "wait": "1m30s",
            "size": "2MiB",
            "hosts": "single:1",
            "workers": 3,
            "maybe": None,
            "name": 8080,
            "ratio": 2,
        }
    )
    assert problems == []
    assert obj.wait == 90.0
    assert obj.size == 2 * 1024 * 1024
    assert obj.hosts == ["single:1"]  # a scalar stands for a one-element list
    assert obj.worker == 3
    assert obj.maybe == Inner()  # "section:" with nothing below turns it on with defaults
    assert obj.name == "8080"
    assert obj.ratio == 2.0


def test_expanded_text_fills_typed_settings() -> None:
    obj, problems = build({"enabled": ExpandedStr("false"), "count": ExpandedStr("7")})
    assert problems == []
    assert obj.enabled is False
    assert obj.count == 7


def test_expanded_text_keeps_strings_as_written() -> None:
    obj, problems = build({"name": ExpandedStr("0123"), "password": ExpandedStr("00007")})
    assert problems == []
    assert obj.name == "0123"
    assert obj.password == "00007"


def test_walk_keys_lists_aliases_and_secrets() -> None:
    keys = {".".join(k.path): k for k in walk_keys(Sample)}
    assert {"worker", "workers", "inner.level", "maybe.level", "password"} <= set(keys)
    assert keys["password"].secret
    assert not keys["name"].secret
    assert keys["extra"].free_form


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("500ms", 0.5),
        ("1m30s", 90),
        ("1h", 3600),
        ("1.5s", 1.5),
        ("0", 0),
        ("250us", 0.00025),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10", "10x", "1m 30s", "ten seconds"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@given(st.integers(0, 10**6), st.sampled_from(["ms", "s", "m", "h"]))
def test_duration_units_scale(n: int, unit: str) -> None:
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    assert parse_duration(f"{n}{unit}") == pytest.approx(n * scale)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1GiB", 1024**3),
        ("1GB", 10**9),
        ("512KiB", 512 * 1024),
        ("4096", 4096),
        ("10MB", 10**7),
        ("1.5KiB", 1536),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size
