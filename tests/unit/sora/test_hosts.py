"""Sora host strings (sorabeat.sora.hosts): defaults, IPv6, paths, credentials, bad input."""

from __future__ import annotations

import pytest

from sorabeat.sora.hosts import HostError, parse_sora_host


@pytest.mark.parametrize(
    ("text", "url", "address", "https"),
    [
        ("localhost", "http://localhost:3000/", "localhost:3000", False),
        ("sora.example:3001", "http://sora.example:3001/", "sora.example:3001", False),
        ("https://sora.example", "https://sora.example:3000/", "sora.example:3000", True),
        ("http://[::1]:3000/api", "http://[::1]:3000/api", "[::1]:3000", False),
        (" 127.0.0.1:3000 ", "http://127.0.0.1:3000/", "127.0.0.1:3000", False),
    ],
)
def test_hosts_as_metricbeat_reads_them(text: str, url: str, address: str, https: bool) -> None:
    host = parse_sora_host(text)
    assert (host.url, host.address, host.https) == (url, address, https)
    assert host.username is None and host.password is None


def test_credentials_leave_the_url_and_are_percent_decoded() -> None:
    host = parse_sora_host("http://ops%2Fa:p%40ss%3Aw@sora.example:3000/")
    assert (host.username, host.password) == ("ops/a", "p@ss:w")
    assert "p%40ss" not in host.url and "ops" not in host.url
    assert host.address == "sora.example:3000"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty host"),
        ("ftp://sora.example", "scheme must be http or https"),
        ("http://sora.example:99999", "invalid host"),
        ("http://:3000", "no host name"),
    ],
)
def test_bad_hosts_are_named(text: str, problem: str) -> None:
    with pytest.raises(HostError, match=problem):
        parse_sora_host(text)
