"""The HTTP core's sans-IO half: h11 plus the limits, codes and answers the core adds.

Moved here from the simulator's hand parser tests (what still matters: limits, error codes,
pipelining, chunked bodies, 100-continue, any split of the bytes); what those tested of
the removed parser's internals is gone with it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.httpd import Exchange, Limits, ProtocolError, Request, Response

GET_STATS = (
    b"POST / HTTP/1.1\r\nHost: sora:3000\r\nx-sora-target: Sora_20171010.GetStatsReport\r\n\r\n"
)


def drain(exchange: Exchange) -> list[Request | ProtocolError]:
    """Every request the fed bytes complete, answering each (as a server would) in order."""
    out: list[Request | ProtocolError] = []
    while (item := exchange.next_request()) is not None:
        out.append(item)
        if isinstance(item, ProtocolError):
            break
        exchange.respond(Response(200))
        if not exchange.next_cycle():
            break
    return out


def parse(data: bytes, **limits: int) -> list[Request | ProtocolError]:
    exchange = Exchange(Limits(**limits))  # type: ignore[arg-type]
    exchange.feed(data)
    return drain(exchange)


def only_request(data: bytes) -> Request:
    items = parse(data)
    assert len(items) == 1, items
    assert isinstance(items[0], Request), items
    return items[0]


def only_error(data: bytes, **limits: int) -> ProtocolError:
    items = parse(data, **limits)
    assert len(items) == 1, items
    assert isinstance(items[0], ProtocolError), items
    return items[0]


def chunked(body: bytes, sizes: list[int]) -> bytes:
    out = bytearray()
    rest = body
    for size in sizes:
        if not rest:
            break
        piece, rest = rest[: max(size, 1)], rest[max(size, 1) :]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    if rest:
        out += b"%x\r\n%s\r\n" % (len(rest), rest)
    return bytes(out + b"0\r\n\r\n")


def test_a_request_without_a_body() -> None:
    request = only_request(GET_STATS)
    assert (request.method, request.target, request.version) == ("POST", "/", "1.1")
    assert request.header("x-sora-target") == "Sora_20171010.GetStatsReport"
    assert request.header("host") == "sora:3000"
    assert request.body == b""


def test_header_names_are_case_insensitive_and_values_trimmed() -> None:
    request = only_request(
        b"POST / HTTP/1.1\r\nHOST: x\r\n"
        b"X-Sora-Target:   Sora_20171101.GetStatsAllConnections \t\r\n\r\n"
    )
    assert request.header("x-sora-target") == "Sora_20171101.GetStatsAllConnections"
    assert request.header("nope") is None


def test_a_content_length_body() -> None:
    body = b'{"local": false}'
    request = only_request(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert request.body == body


def test_a_chunked_body_with_extensions_and_trailers() -> None:
    request = only_request(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;name=value\r\n{"loc\r\nB\r\nal": false}\r\n0\r\nX-Trailer: 1\r\n\r\n'
    )
    assert request.body == b'{"local": false}'


def test_pipelined_requests_come_out_in_order() -> None:
    second = GET_STATS.replace(b"GetStatsReport", b"Other")
    items = parse(GET_STATS + second + GET_STATS)
    assert [r.header("x-sora-target") for r in items if isinstance(r, Request)] == [
        "Sora_20171010.GetStatsReport",
        "Sora_20171010.Other",
        "Sora_20171010.GetStatsReport",
    ]


def test_a_pipelined_request_waits_until_the_previous_answer_is_out() -> None:
    exchange = Exchange(Limits())
    exchange.feed(GET_STATS + GET_STATS)
    assert isinstance(exchange.next_request(), Request)
    assert exchange.next_request() is None  # not before the first is answered
    exchange.respond(Response(200))
    assert exchange.next_cycle()
    assert isinstance(exchange.next_request(), Request)


def test_requests_before_a_broken_one_are_kept() -> None:
    items = parse(GET_STATS + b"BROKEN\r\n\r\n")
    assert isinstance(items[0], Request)
    assert isinstance(items[1], ProtocolError)
    assert items[1].status == 400
    assert len(items) == 2


def test_nothing_is_parsed_after_an_error() -> None:
    exchange = Exchange(Limits())
    exchange.feed(b"BROKEN\r\n\r\n")
    assert isinstance(exchange.next_request(), ProtocolError)
    exchange.feed(GET_STATS)
    assert exchange.next_request() is None


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST /  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"PO(ST / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"POST / HTTP/1.x\r\nHost: x\r\n\r\n", 400),
        (b"POST / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"POST / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nbad name: 1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400),
    ],
)
def test_malformed_requests_are_refused(data: bytes, status: int) -> None:
    error = only_error(data)
    assert error.status == status
    assert error.message


def test_repeated_equal_content_lengths_are_one_length() -> None:
    request = only_request(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert request.body == b"{}"


@pytest.mark.parametrize("size", [2000, 1100])  # over twice the limit, and just over it
def test_the_head_size_is_bounded_431(size: int) -> None:
    big = b"POST / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * size + b"\r\n\r\n"
    error = only_error(big, max_header_bytes=1024)
    assert error.status == 431
    assert "1024" in error.message
    assert only_request(big.replace(b"a" * size, b"a" * 900)).method == "POST"


def test_an_endless_head_is_refused_before_it_ends() -> None:
    exchange = Exchange(Limits(max_header_bytes=1024))
    exchange.feed(b"POST / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 900)
    assert exchange.next_request() is None
    exchange.feed(b"a" * 200)
    error = exchange.next_request()
    assert isinstance(error, ProtocolError)
    assert error.status == 431
    assert "1024" in error.message


def test_the_body_size_is_bounded_413() -> None:
    declared = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n"
    assert only_error(declared, max_body_bytes=1000).status == 413  # before the body comes
    body = chunked(b"x" * 2000, [600, 600, 600])
    error = only_error(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
        max_body_bytes=1000,
    )
    assert error.status == 413
    at_limit = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    assert only_request(at_limit).body == b"x" * 1000


def test_methods_outside_the_list_get_405_with_allow() -> None:
    exchange = Exchange(Limits(methods=("GET", "HEAD")))
    exchange.feed(GET_STATS)
    error = exchange.next_request()
    assert isinstance(error, ProtocolError)
    assert error.status == 405
    assert error.headers == (("allow", "GET, HEAD"),)


def test_100_continue_is_sent_once_for_a_body_still_to_come() -> None:
    exchange = Exchange(Limits())
    exchange.feed(
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    assert exchange.next_request() is None
    assert exchange.continue_bytes() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert exchange.continue_bytes() == b""
    exchange.feed(b"{}")
    request = exchange.next_request()
    assert isinstance(request, Request)
    assert request.body == b"{}"


def test_an_answer_has_its_length_and_the_standard_phrase() -> None:
    exchange = Exchange(Limits())
    exchange.feed(GET_STATS)
    assert isinstance(exchange.next_request(), Request)
    body = b'{"a": 1}'
    head, sent = exchange.respond(Response(413, body, (("content-type", "application/json"),)))
    assert head == (
        b"HTTP/1.1 413 Request Entity Too Large\r\ncontent-length: 8\r\n"
        b"content-type: application/json\r\n\r\n"
    )
    assert sent is body  # the body is handed on, not copied


def test_a_head_answer_has_the_length_but_no_body() -> None:
    exchange = Exchange(Limits())
    exchange.feed(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(exchange.next_request(), Request)
    (head,) = exchange.respond(Response(200, b"12345"))
    assert head.endswith(b"content-length: 5\r\n\r\n")
    assert exchange.next_cycle()


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"HTTP/1.1", b"", True),
        (b"HTTP/1.1", b"Connection: close\r\n", False),
        (b"HTTP/1.1", b"Connection: Keep-Alive, Close\r\n", False),
        (b"HTTP/1.0", b"", False),
    ],
)
def test_keep_alive_follows_the_version_and_connection_header(
    version: bytes, connection: bytes, keep_alive: bool
) -> None:
    exchange = Exchange(Limits())
    exchange.feed(b"POST / %s\r\nHost: x\r\n%s\r\n" % (version, connection))
    assert isinstance(exchange.next_request(), Request)
    (head,) = exchange.respond(Response(200))
    assert (b"onnection: close" not in head) is keep_alive
    assert exchange.next_cycle() is keep_alive


def test_close_and_a_cut_body_end_the_connection() -> None:
    exchange = Exchange(Limits())
    exchange.feed(GET_STATS)
    assert isinstance(exchange.next_request(), Request)
    head, part = exchange.respond(Response(200, b"0123456789", body_bytes=4))
    assert b"content-length: 10\r\n" in head
    assert part == b"0123"
    closing = Exchange(Limits())
    closing.feed(GET_STATS)
    assert isinstance(closing.next_request(), Request)
    head, _ = closing.respond(Response(200, b"{}", close=True))
    assert b"connection: close\r\n" in head
    assert not closing.next_cycle()


@settings(max_examples=200, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    use_chunked=st.lists(st.booleans(), min_size=4, max_size=4),
    chunk_sizes=st.lists(st.integers(1, 64), max_size=8),
    cuts=st.lists(st.integers(1, 50), max_size=40),
)
def test_any_split_of_pipelined_requests_gives_the_same_requests(
    bodies: list[bytes], use_chunked: list[bool], chunk_sizes: list[int], cuts: list[int]
) -> None:
    stream = bytearray()
    for i, body in enumerate(bodies):
        if use_chunked[i]:
            stream += b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            stream += b"X-N: %d\r\n\r\n" % i + chunked(body, chunk_sizes)
        else:
            stream += b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
            stream += b"X-N: %d\r\n\r\n" % i + body
    exchange = Exchange(Limits(max_header_bytes=256))
    got: list[Request | ProtocolError] = []
    rest = bytes(stream)
    for cut in cuts:
        exchange.feed(rest[:cut])
        got += drain(exchange)
        rest = rest[cut:]
    exchange.feed(rest)
    got += drain(exchange)
    assert all(isinstance(r, Request) for r in got), got
    assert [(r.header("x-n"), r.body) for r in got if isinstance(r, Request)] == [
        (str(i), body) for i, body in enumerate(bodies)
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 80), max_size=10))
def test_arbitrary_bytes_never_crash_the_exchange(data: bytes, cuts: list[int]) -> None:
    exchange = Exchange(Limits(max_header_bytes=256, max_body_bytes=256))
    items: list[Request | ProtocolError] = []
    rest = data
    for cut in cuts:
        exchange.feed(rest[:cut])
        items += drain(exchange)
        rest = rest[cut:]
    exchange.feed(rest)
    items += drain(exchange)
    errors = [i for i in items if isinstance(i, ProtocolError)]
    assert len(errors) <= 1
    if errors:
        assert items[-1] is errors[0]
        assert errors[0].status in (400, 413, 431, 501, 505)
