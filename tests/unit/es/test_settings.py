"""output.elasticsearch validation: bad hosts and format strings are named at load time."""

from __future__ import annotations

from typing import Any

import pytest

from sorabeat.config.schema import Validator
from sorabeat.es.settings import ElasticsearchSettings


def problems(raw: dict[str, Any]) -> list[str]:
    validator = Validator()
    validator.build(ElasticsearchSettings, raw, ("output", "elasticsearch"))
    return [str(p) for p in validator.problems]


def test_defaults_are_libbeats() -> None:
    settings = Validator().build(ElasticsearchSettings, {"hosts": ["es"]})
    assert settings.bulk_max_size == 1600
    assert settings.compression_level == 1
    assert settings.timeout == 90
    assert (settings.backoff.init, settings.backoff.max) == (1, 60)
    assert settings.worker == 1
    # unset: the data stream or the daily index, decided when the cluster is known
    assert settings.index is None
    assert problems({"hosts": ["es"]}) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"hosts": []}, "output.elasticsearch.hosts: at least one host is needed"),
        ({"hosts": ["ftp://es"]}, "output.elasticsearch.hosts.0: host 'ftp://es': scheme"),
        ({"hosts": ["es:99999"]}, "output.elasticsearch.hosts.0: host 'es:99999': invalid port"),
        ({"hosts": ["es"], "index": "x-%{[a"}, "output.elasticsearch.index: format string"),
        ({"hosts": ["es"], "index": "x-%{+yyyy-QQ}"}, "letter 'Q' is not supported"),
        ({"hosts": ["es"], "pipeline": "%{[]}"}, "output.elasticsearch.pipeline: format"),
        (
            {"hosts": ["es"], "non_indexable_policy": {"dead_letter_index": {"index": "d-%{[x]}"}}},
            "dead_letter_index.index: may reference agent fields and dates only",
        ),
        (
            {"hosts": ["es"], "api_key": "a:b", "username": "u"},
            "set either api_key or username/password",
        ),
        ({"hosts": ["es"], "indices": [{"when": {"has_fields": ["a"]}}]}, "indices.0: index is"),
        ({"hosts": ["es"], "indices": [{"index": "x-%{[a"}]}, "indices.0: index: format"),
        (
            {"hosts": ["es"], "indices": [{"index": "x", "when": {"equal": {"a": 1}}}]},
            "indices.0: when: unknown operator 'equal'",
        ),
        (
            {"hosts": ["es"], "pipelines": [{"pipeline": "p", "when": {"regexp": {"a": "("}}}]},
            "pipelines.0: when: regexp.a: invalid regular expression",
        ),
        (
            {"hosts": ["es"], "pipelines": [{"pipeline": "p", "default": "q"}]},
            "pipelines.0: default is only used with mappings",
        ),
    ],
)
def test_problems(raw: dict[str, Any], expected: str) -> None:
    found = problems(raw)
    assert any(expected in p for p in found), found
