"""The simulator's sans-IO HTTP/1.1 request parser and response head encoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.sora.simulator.httpcodec import (
    ProtocolError,
    Request,
    RequestParser,
    encode_head,
)

GET_STATS = (
    b"POST / HTTP/1.1\r\nHost: sora:3000\r\nx-sora-target: Sora_20171010.GetStatsReport\r\n\r\n"
)


def parse(data: bytes, **limits: int) -> list[Request | ProtocolError]:
    return RequestParser(**limits).feed(data)


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
    assert request.method == "POST"
    assert request.target == "/"
    assert request.version == (1, 1)
    assert request.header("x-sora-target") == "Sora_20171010.GetStatsReport"
    assert request.header("host") == "sora:3000"
    assert request.body == b""
    assert request.keep_alive


def test_header_names_are_case_insensitive_and_values_trimmed() -> None:
    request = only_request(
        b"POST / HTTP/1.1\r\nHOST: x\r\n"
        b"X-Sora-Target:   Sora_20171101.GetStatsAllConnections \t\r\n\r\n"
    )
    assert request.header("x-sora-target") == "Sora_20171101.GetStatsAllConnections"


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


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"HTTP/1.1", b"", True),
        (b"HTTP/1.1", b"Connection: close\r\n", False),
        (b"HTTP/1.1", b"Connection: Keep-Alive, Close\r\n", False),
        (b"HTTP/1.0", b"", False),
        (b"HTTP/1.0", b"Connection: keep-alive\r\n", True),
    ],
)
def test_keep_alive_follows_the_version_and_connection_header(
    version: bytes, connection: bytes, keep_alive: bool
) -> None:
    request = only_request(b"POST / %s\r\nHost: x\r\n%s\r\n" % (version, connection))
    assert request.keep_alive is keep_alive


def test_pipelined_requests_come_out_in_order() -> None:
    second = GET_STATS.replace(b"GetStatsReport", b"Other")
    items = parse(GET_STATS + second + GET_STATS)
    assert [r.header("x-sora-target") for r in items if isinstance(r, Request)] == [
        "Sora_20171010.GetStatsReport",
        "Sora_20171010.Other",
        "Sora_20171010.GetStatsReport",
    ]


def test_empty_lines_before_a_request_are_ignored() -> None:
    assert only_request(b"\r\n\r\n" + GET_STATS).method == "POST"


def test_requests_before_a_broken_one_are_kept() -> None:
    items = parse(GET_STATS + b"BROKEN\r\n\r\n")
    assert isinstance(items[0], Request)
    assert isinstance(items[1], ProtocolError)
    assert items[1].status == 400
    assert len(items) == 2


def test_nothing_is_parsed_after_an_error() -> None:
    parser = RequestParser()
    assert isinstance(parser.feed(b"BROKEN\r\n\r\n")[0], ProtocolError)
    assert parser.feed(GET_STATS) == []


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"GARBAGE\r\n\r\n", 400, "request line"),
        (b"POST /  HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request line"),
        (b"PO(ST / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "method"),
        (b"POST / HTTP/1.x\r\nHost: x\r\n\r\n", 400, "version"),
        (b"POST / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "not supported"),
        (b"POST / HTTP/1.1\r\n\r\n", 400, "Host"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", 400, "header line"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nbad name: 1\r\n\r\n", 400, "header line"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nA: 1\r\n folded\r\n\r\n", 400, "folding"),
        (b"POST / HTTP/1.1\nHost: x\n\n", 400, "LF without CR"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400, "Content-Length"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
            "both",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported"),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
            400,
            "chunk size",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            400,
            "CRLF",
        ),
    ],
)
def test_malformed_requests_are_refused(data: bytes, status: int, words: str) -> None:
    error = only_error(data)
    assert error.status == status
    assert words in error.message


def test_repeated_equal_content_lengths_are_one_length() -> None:
    request = only_request(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert request.body == b"{}"


def test_the_head_size_is_bounded() -> None:
    big = b"POST / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 2000 + b"\r\n\r\n"
    assert only_error(big, max_header_bytes=1024).status == 431
    # also while the head is still incomplete: no waiting for an endless head
    parser = RequestParser(max_header_bytes=1024)
    assert parser.feed(big[:1000]) == []
    items = parser.feed(big[1000:1100])
    assert isinstance(items[0], ProtocolError)
    assert items[0].status == 431
    assert only_request(big.replace(b"a" * 2000, b"a" * 900)).method == "POST"


def test_the_body_size_is_bounded() -> None:
    declared = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n"
    assert only_error(declared, max_body_bytes=1000).status == 413
    body = chunked(b"x" * 2000, [600, 600, 600])
    error = only_error(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body,
        max_body_bytes=1000,
    )
    assert error.status == 413


def test_trailers_are_bounded() -> None:
    trailers = b"".join(b"T%d: %s\r\n" % (i, b"v" * 100) for i in range(40))
    error = only_error(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers,
        max_header_bytes=1024,
    )
    assert error.status == 431


def test_100_continue_is_wanted_once_for_a_body_still_to_come() -> None:
    parser = RequestParser()
    head = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    assert parser.feed(head) == []
    assert parser.want_continue() is True
    assert parser.want_continue() is False
    items = parser.feed(b"{}")
    assert isinstance(items[0], Request)
    assert items[0].body == b"{}"
    no_body = RequestParser()
    no_body.feed(head.replace(b"Content-Length: 2", b"Content-Length: 0"))
    assert no_body.want_continue() is False


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
    parser = RequestParser()
    got: list[Request | ProtocolError] = []
    rest = bytes(stream)
    for cut in cuts:
        got += parser.feed(rest[:cut])
        rest = rest[cut:]
    got += parser.feed(rest)
    assert all(isinstance(r, Request) for r in got)
    assert [(r.header("x-n"), r.body) for r in got if isinstance(r, Request)] == [
        (str(i), body) for i, body in enumerate(bodies)
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 80), max_size=10))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes, cuts: list[int]) -> None:
    parser = RequestParser(max_header_bytes=256, max_body_bytes=256)
    items: list[Request | ProtocolError] = []
    rest = data
    for cut in cuts:
        items += parser.feed(rest[:cut])
        rest = rest[cut:]
    items += parser.feed(rest)
    errors = [i for i in items if isinstance(i, ProtocolError)]
    assert len(errors) <= 1
    if errors:
        assert items[-1] is errors[0]
        assert errors[0].status in (400, 413, 431, 501, 505)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=200).map(lambda b: b.replace(b"\n", b"")).filter(bool))
def test_a_garbage_line_and_a_head_end_is_refused_or_a_request(junk: bytes) -> None:
    # no LF in the junk: exactly one head, never mistaken for empty lines to skip
    items = parse(junk + b"\r\n\r\n")
    assert len(items) == 1
    item = items[0]
    # junk can happen to be a valid request line; anything else is refused, never hangs
    assert isinstance(item, ProtocolError) or item.method


def test_response_head_is_what_cowboy_writes() -> None:
    head = encode_head(200, 17, date="Sun, 06 Nov 1994 08:49:37 GMT", close=False)
    assert head == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 17\r\ncontent-type: application/json\r\n"
        b"date: Sun, 06 Nov 1994 08:49:37 GMT\r\nserver: Cowboy\r\n\r\n"
    )
    closing = encode_head(400, 0, date="d", close=True)
    assert closing.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"\r\nconnection: close\r\n\r\n" in closing
