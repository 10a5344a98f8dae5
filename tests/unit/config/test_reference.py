"""conf/sorabeat.reference.yml documents exactly what the loader accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sorabeat.config.raw import parse_yaml
from sorabeat.config.reference import render_reference, uncomment
from sorabeat.config.schema import Validator, walk_keys
from sorabeat.pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "conf" / "sorabeat.reference.yml"


def leaf_keys(data: Any, prefix: tuple[str, ...] = ()) -> set[str]:
    """Dotted keys of every leaf; list items are '*' (module entries)."""
    out: set[str] = set()
    if isinstance(data, dict) and data:
        for key, value in data.items():
            out |= leaf_keys(value, (*prefix, str(key)))
    elif isinstance(data, list) and data and all(isinstance(i, dict) for i in data):
        for item in data:
            out |= leaf_keys(item, (*prefix, "*"))
    else:
        out.add(".".join(prefix))
    return out


def accepted_keys() -> set[str]:
    return {".".join(k.path) for k in walk_keys(Settings) if not k.alias}


def test_aliases_are_documented() -> None:
    text = REFERENCE.read_text()
    aliases = {k.path[-1] for k in walk_keys(Settings) if k.alias}
    assert aliases
    for alias in aliases:
        assert f"Also accepted as: {alias}" in text


def test_reference_file_is_up_to_date() -> None:
    assert REFERENCE.read_text() == render_reference(Settings), "run: python tools/gen_reference.py"


def test_every_key_in_the_reference_is_accepted() -> None:
    raw = parse_yaml(uncomment(REFERENCE.read_text()), str(REFERENCE))
    validator = Validator(raw.origins)
    validator.build(Settings, raw.data)
    unknown = [p for p in validator.problems if "unknown setting" in p.message]
    assert unknown == []
    keys = leaf_keys(raw.data)
    assert keys - accepted_keys() == set()


def test_every_accepted_key_appears_in_the_reference() -> None:
    data = yaml.safe_load(uncomment(REFERENCE.read_text()))
    documented = leaf_keys(data)
    # section keys (e.g. output.console) appear through their leaves
    missing = {
        k
        for k in accepted_keys()
        if k not in documented and not any(d.startswith(k + ".") for d in documented)
    }
    assert missing == set()


def test_documented_defaults_match_the_declarations() -> None:
    data = yaml.safe_load(uncomment(REFERENCE.read_text()))
    logstash = data["output.logstash"]
    assert logstash["bulk_max_size"] == 2048
    assert logstash["compression_level"] == 3
    assert logstash["timeout"] == "30s"
    assert data["output.elasticsearch"]["bulk_max_size"] == 1600
    assert data["sorabeat.modules"][0]["period"] == "10s"
