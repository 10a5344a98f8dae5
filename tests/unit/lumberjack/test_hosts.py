"""Parsing ``output.logstash.hosts`` entries."""

from __future__ import annotations

import pytest

from sorabeat.lumberjack.hosts import Endpoint, parse_endpoint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("logstash", Endpoint("logstash", 5044)),
        ("logstash:5045", Endpoint("logstash", 5045)),
        ("10.0.0.1", Endpoint("10.0.0.1", 5044)),
        ("[::1]:5046", Endpoint("::1", 5046)),
        ("::1", Endpoint("::1", 5044)),
        ("[fe80::1]", Endpoint("fe80::1", 5044)),
        ("tcp://ls:1", Endpoint("ls", 1)),
    ],
)
def test_hosts(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["", "ls:", "ls:0", "ls:65536", "ls:abc", ":5044", "[::1"])
def test_bad_hosts(text: str) -> None:
    with pytest.raises(ValueError, match=r"host|port"):
        parse_endpoint(text)


def test_port_zero_only_to_listen() -> None:
    assert parse_endpoint("127.0.0.1:0", listen=True) == Endpoint("127.0.0.1", 0)
    assert str(Endpoint("::1", 5044)) == "[::1]:5044"


@pytest.mark.parametrize(
    "name", ["logstash..example.com", "a" * 64 + ".example.com", ".example.com"]
)
def test_names_the_resolver_cannot_encode_are_refused_when_the_config_loads(name: str) -> None:
    with pytest.raises(ValueError, match="invalid host name"):
        parse_endpoint(f"{name}:5044")
