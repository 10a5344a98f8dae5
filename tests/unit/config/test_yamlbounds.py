"""YAML within bounds: cycles, alias bombs and deep nesting give one error with a line, fast."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.config import yamlbounds
from sorabeat.config.load import ConfigError, LoadOptions
from sorabeat.config.raw import ConfigFileError, parse_override, parse_yaml
from sorabeat.config.schema import ExpandedStr, _typed
from sorabeat.es.fields import FieldsError, load_fields
from sorabeat.pipeline.settings import load_settings


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """``levels`` levels of ``width`` aliases each: width**levels nodes from a few hundred bytes."""
    lines = ["l0: &l0 [" + ",".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_the_bomb_is_small() -> None:
    assert len(alias_bomb()) < 1024


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: &x [*x]\n", 1, "alias cycle"),
        ("ok: 1\nb: &y {k: [1, {deeper: *y}]}\n", 2, "alias cycle"),
        (alias_bomb(), 6, "more than 100000 nodes"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested deeper than 64"),
        ("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 80)), 64, "nested deeper"),
    ],
    ids=["cycle", "indirect-cycle", "bomb", "deep-flow", "deep-block"],
)
def test_one_clear_error_naming_the_file_and_line(text: str, line: int, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigFileError) as info:
        parse_yaml(text, "conf/sorabeat.yml")
    assert time.monotonic() - started < 5  # linear in the text, not in the expansion
    message = str(info.value)
    assert message.startswith(f"conf/sorabeat.yml:{line}: invalid YAML: "), message
    assert words in message


def test_aliases_deeper_than_the_bound_once_followed() -> None:
    # each anchor nests the previous one: shallow as written, 200 levels once followed
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 200)]
    with pytest.raises(yamlbounds.YamlLimitError) as info:
        yamlbounds.safe_load("\n".join(lines))
    assert "once aliases are followed" in str(info.value.problem)


def test_ordinary_aliases_and_merge_keys_still_work() -> None:
    text = (
        "defaults: &d {period: 10s, timeout: 5s}\n"
        "hosts: &h [a, b]\n"
        "x: {<<: *d, hosts: *h}\n"
        "y: [*h, *h]\n"
    )
    raw = parse_yaml(text, "f.yml")
    assert raw.data["x"] == {"period": "10s", "timeout": "5s", "hosts": ["a", "b"]}
    assert raw.data["y"] == [["a", "b"], ["a", "b"]]


def test_modules_d_files_are_bounded_too(tmp_path: Path) -> None:
    (tmp_path / "sorabeat.yml").write_text("output.console: {}\n")
    (tmp_path / "modules.d").mkdir()
    (tmp_path / "modules.d" / "sora.yml").write_text("- &m {module: sora, x: [*m]}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(LoadOptions(path_home=str(tmp_path), cwd=str(tmp_path), environ={}))
    assert any("alias cycle" in str(p) for p in info.value.problems)


def test_override_with_a_cycle_is_a_config_error() -> None:
    with pytest.raises(ConfigFileError, match=r"-E a\.b: invalid YAML: alias cycle"):
        parse_override("a.b=&x [*x]")


def test_expanded_text_with_a_cycle_stays_text() -> None:
    assert _typed(ExpandedStr("&x [*x]")) == "&x [*x]"


def test_fields_yml_bomb_is_a_fields_error() -> None:
    with pytest.raises(FieldsError, match="more than 100000 nodes"):
        load_fields(alias_bomb())


documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=30,
)


@given(documents)
def test_same_result_as_safe_load_within_the_bounds(value: Any) -> None:
    text = yaml.safe_dump(value)
    assert yamlbounds.safe_load(text) == yaml.safe_load(text)
