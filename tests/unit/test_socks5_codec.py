"""The SOCKS5 client codec (RFC 1928/1929): every message, every reply code, any chunking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sorabeat.proxy.socks5 import (
    REPLY_MESSAGES,
    Established,
    Send,
    Socks5AuthError,
    Socks5Client,
    Socks5Error,
    Socks5ProtocolError,
    Socks5ReplyError,
    encode_address,
)
from sorabeat.proxy.socks5_dial import Socks5Proxy

OK_REPLY_V4 = bytes((5, 0, 0, 1, 10, 0, 0, 7)) + (4242).to_bytes(2, "big")


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, start = [], 0
    for p in [*points, len(data)]:
        out.append(data[start:p])
        start = p
    return out


def test_greeting_offers_username_password_only_with_credentials() -> None:
    assert Socks5Client("logstash", 5044).greeting() == b"\x05\x01\x00"
    assert Socks5Client("logstash", 5044, ("u", "p")).greeting() == b"\x05\x02\x00\x02"


def test_no_authentication_then_connect_by_domain_name() -> None:
    client = Socks5Client("logstash.example", 5044)
    assert client.feed(b"\x05\x00") == [
        Send(b"\x05\x01\x00\x03\x10logstash.example" + (5044).to_bytes(2, "big"))
    ]
    assert not client.established
    assert client.feed(OK_REPLY_V4) == [Established("10.0.0.7", 4242, b"")]
    assert client.established


def test_username_password_subnegotiation() -> None:
    client = Socks5Client("127.0.0.1", 5044, ("alice", "s3cret"))
    assert client.feed(b"\x05\x02") == [Send(b"\x01\x05alice\x06s3cret")]
    [request] = client.feed(b"\x01\x00")
    assert isinstance(request, Send)
    assert request.data == b"\x05\x01\x00\x01\x7f\x00\x00\x01" + (5044).to_bytes(2, "big")


def test_refused_credentials_name_the_problem() -> None:
    client = Socks5Client("h", 1, ("alice", "wrong"))
    client.feed(b"\x05\x02")
    with pytest.raises(Socks5AuthError, match="refused the user name and password"):
        client.feed(b"\x01\x01")


def test_proxy_wanting_credentials_we_do_not_have() -> None:
    with pytest.raises(Socks5AuthError, match="requires authentication"):
        Socks5Client("h", 1).feed(b"\x05\xff")
    with pytest.raises(Socks5AuthError, match="accepts neither"):
        Socks5Client("h", 1, ("u", "p")).feed(b"\x05\xff")


def test_method_not_offered_is_a_protocol_error() -> None:
    with pytest.raises(Socks5ProtocolError, match="not offered"):
        Socks5Client("h", 1).feed(b"\x05\x02")  # username/password without credentials
    with pytest.raises(Socks5ProtocolError, match="not offered"):
        Socks5Client("h", 1, ("u", "p")).feed(b"\x05\x01")  # GSSAPI


@pytest.mark.parametrize("code", sorted(REPLY_MESSAGES))
def test_every_reply_code_is_named(code: int) -> None:
    client = Socks5Client("h", 1)
    client.feed(b"\x05\x00")
    with pytest.raises(Socks5ReplyError) as caught:
        client.feed(bytes((5, code, 0, 1, 0, 0, 0, 0, 0, 0)))
    assert caught.value.code == code
    assert REPLY_MESSAGES[code] in str(caught.value)
    assert f"{code:#04x}" in str(caught.value)


def test_unassigned_reply_code() -> None:
    client = Socks5Client("h", 1)
    client.feed(b"\x05\x00")
    with pytest.raises(Socks5ReplyError, match=r"unassigned reply code .*0x09"):
        client.feed(bytes((5, 9, 0, 1)))  # judged from the first bytes, before the address


@pytest.mark.parametrize(
    ("first", "match"),
    [(b"\x04\x5a", "not a SOCKS5 proxy"), (b"HT", "not a SOCKS5 proxy")],
)
def test_not_a_socks5_server(first: bytes, match: str) -> None:
    with pytest.raises(Socks5ProtocolError, match=match):
        Socks5Client("h", 1).feed(first)


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (bytes((4, 0, 0, 1, 0, 0, 0, 0, 0, 0)), "reply version"),
        (bytes((5, 0, 1, 1, 0, 0, 0, 0, 0, 0)), "reserved byte"),
        (bytes((5, 0, 0, 9, 0, 0, 0, 0, 0, 0)), "unknown address type"),
    ],
)
def test_malformed_replies(reply: bytes, match: str) -> None:
    client = Socks5Client("h", 1)
    client.feed(b"\x05\x00")
    with pytest.raises(Socks5ProtocolError, match=match):
        client.feed(reply)


def test_bad_auth_reply_version() -> None:
    client = Socks5Client("h", 1, ("u", "p"))
    client.feed(b"\x05\x02")
    with pytest.raises(Socks5ProtocolError, match="RFC 1929"):
        client.feed(b"\x05\x00")


def test_reply_with_ipv6_and_domain_bound_addresses() -> None:
    client = Socks5Client("h", 1)
    client.feed(b"\x05\x00")
    v6 = bytes((5, 0, 0, 4)) + bytes(15) + b"\x01" + b"\x00\x50"
    assert client.feed(v6) == [Established("::1", 80, b"")]
    client = Socks5Client("h", 1)
    client.feed(b"\x05\x00")
    domain = bytes((5, 0, 0, 3, 5)) + b"proxy" + b"\x00\x51"
    assert client.feed(domain) == [Established("proxy", 81, b"")]


def test_bytes_after_the_reply_are_handed_over() -> None:
    client = Socks5Client("h", 1)
    client.feed(b"\x05\x00")
    assert client.feed(OK_REPLY_V4 + b"2A") == [Established("10.0.0.7", 4242, b"2A")]
    with pytest.raises(Socks5ProtocolError, match="tunnel is open"):
        client.feed(b"more")


def test_nothing_is_accepted_after_a_failure() -> None:
    client = Socks5Client("h", 1)
    with pytest.raises(Socks5Error):
        client.feed(b"\x05\xff")
    with pytest.raises(Socks5ProtocolError, match="already failed"):
        client.feed(b"\x05\x00")


def test_address_encoding() -> None:
    assert encode_address("192.0.2.1") == b"\x01\xc0\x00\x02\x01"
    assert encode_address("[::1]") == b"\x04" + bytes(15) + b"\x01"
    assert encode_address("bücher.example") == b"\x03\x15xn--bcher-kva.example"
    with pytest.raises(ValueError, match="255"):
        encode_address("a." * 127 + "ab")
    with pytest.raises(ValueError, match="invalid host name"):
        encode_address("a..b")


def test_credentials_bounded_by_rfc_1929() -> None:
    with pytest.raises(ValueError, match="password must be 1 to 255 bytes"):
        Socks5Client("h", 1, ("u", "p" * 256))
    with pytest.raises(ValueError, match="user name must be 1 to 255 bytes"):
        Socks5Client("h", 1, ("", "p"))
    with pytest.raises(ValueError, match="invalid port"):
        Socks5Client("h", 0)


def _converse(client: Socks5Client, chunks: list[bytes]) -> list[object]:
    """Feed chunks as a dialer does: once the tunnel is open, what follows is the target's
    (joined to the ``extra`` the codec handed over)."""
    events: list[object] = []
    for i, chunk in enumerate(chunks):
        events += client.feed(chunk)
        if client.established:
            last = events[-1]
            assert isinstance(last, Established)
            rest = b"".join(chunks[i + 1 :])
            events[-1] = Established(last.bound_host, last.bound_port, last.extra + rest)
            break
    return events


@given(
    user=st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 255),
    password=st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 255),
    extra=st.binary(max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=12),
)
def test_any_chunking_of_a_whole_conversation(
    user: str, password: str, extra: bytes, cuts: list[int]
) -> None:
    """The proxy's bytes, cut anywhere, give the same events as in one piece."""
    stream = b"\x05\x02" + b"\x01\x00" + bytes((5, 0, 0, 3, 4)) + b"peer\x13\xc4" + extra
    whole = _converse(Socks5Client("logstash", 5044, (user, password)), [stream])
    pieces = _converse(Socks5Client("logstash", 5044, (user, password)), chunked(stream, cuts))
    encoded_user, encoded_password = user.encode(), password.encode()
    assert (
        pieces
        == whole
        == [
            Send(
                bytes((1, len(encoded_user)))
                + encoded_user
                + bytes((len(encoded_password),))
                + encoded_password
            ),
            Send(b"\x05\x01\x00\x03\x08logstash" + (5044).to_bytes(2, "big")),
            Established("peer", 5060, extra),
        ]
    )


@given(code=st.integers(min_value=1, max_value=255), cuts=st.lists(st.integers(0, 50)))
def test_any_failure_code_in_any_chunking(code: int, cuts: list[int]) -> None:
    client = Socks5Client("h", 1)
    stream = b"\x05\x00" + bytes((5, code, 0, 1, 1, 2, 3, 4, 0, 9))
    with pytest.raises(Socks5ReplyError) as caught:
        _converse(client, chunked(stream, cuts))
    assert caught.value.code == code


@given(data=st.binary(max_size=64))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    """Whatever a peer sends, the codec either waits, proceeds, or raises Socks5Error."""
    client = Socks5Client("h", 1, ("u", "p"))
    try:
        for i in range(len(data)):
            client.feed(data[i : i + 1])
    except Socks5Error:
        pass


def test_proxy_url_parsing() -> None:
    proxy = Socks5Proxy.parse("socks5://al%40ice:p%3Ass@127.0.0.1:1081")
    assert (proxy.host, proxy.port, proxy.username, proxy.password) == (
        "127.0.0.1",
        1081,
        "al@ice",
        "p:ss",
    )
    assert str(proxy) == "127.0.0.1:1081"
    assert Socks5Proxy.parse("socks5h://proxy").port == 1080
    assert Socks5Proxy.parse("socks5://proxy").credentials() is None
    assert Socks5Proxy.parse("socks5://[::1]:9").host == "::1"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://proxy:3128", "scheme must be socks5"),
        ("socks5://", "no proxy host"),
        ("socks5://proxy:99999", "not a valid URL"),
        ("socks5://user@proxy", "without a password"),
        ("socks5://proxy/path", "no path"),
    ],
)
def test_bad_proxy_urls(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Socks5Proxy.parse(url)


def test_bad_proxy_url_errors_never_quote_the_password() -> None:
    with pytest.raises(ValueError, match="scheme") as caught:
        Socks5Proxy.parse("http://user:hunter22@proxy")
    assert "hunter22" not in str(caught.value)


def test_logstash_settings_check_the_proxy_url() -> None:
    from sorabeat.lumberjack.settings import LogstashSettings

    def problems(url: str) -> list[tuple[str, str]]:
        return LogstashSettings(hosts=["ls:5044"], proxy_url=url).problems()

    assert problems("socks5://u:p@proxy:1080") == []
    assert problems("http://u:hunter22@proxy:3128") == [
        ("proxy_url", "scheme must be socks5:// or socks5h://, not 'http'")
    ]
    settings = LogstashSettings(
        hosts=["ls"], proxy_url="socks5h://proxy", proxy_use_local_resolver=True
    )
    assert settings.proxy() == Socks5Proxy("proxy", 1080, None, None, local_resolve=True)
    assert LogstashSettings(hosts=["ls"]).proxy() is None
