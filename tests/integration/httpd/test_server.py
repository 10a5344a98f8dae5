"""The HTTP/1.1 core over real sockets on 127.0.0.1: keep-alive, pipelining, limits and
their status codes, timeouts, HEAD, TLS, shutdown, and the ways a handler breaks an answer
on purpose. The simulator, the monitoring endpoint and the emulators all serve from it."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from sorabeat.httpd import HttpServer, Limits, RawResponse, Request, Response
from tests.es_tls import make_certs

Handler = Callable[[Request], Awaitable[Response | RawResponse]]
LIMITS = Limits(max_header_bytes=1024, max_body_bytes=1000, idle_timeout=10.0)


async def echo(request: Request) -> Response:
    body = f"{request.method} {request.target} {len(request.body)}".encode()
    return Response(200, body, (("x-body", request.body.decode("latin-1")[:100]),))


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[HttpServer]]]:
    servers: list[HttpServer] = []

    async def start(handler: Handler = echo, **kwargs: object) -> HttpServer:
        kwargs.setdefault("limits", LIMITS)
        server = HttpServer(handler, **kwargs)  # type: ignore[arg-type]
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await asyncio.wait_for(server.close(), 10)


def port(server: HttpServer) -> int:
    return int(server.sockets[0].getsockname()[1])


async def exchange(server: HttpServer, *pieces: bytes, pause: float = 0.0) -> bytes:
    """Write ``pieces`` (pausing between them) and read until the server closes (10 s)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port(server))
    try:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
        async with asyncio.timeout(10):
            return await reader.read(-1)
    finally:
        writer.close()


def split(data: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
        length = int(headers["content-length"])
        out.append((lines[0], headers, rest[:length]))
        data = rest[length:]
    return out


GET = b"GET /%d HTTP/1.1\r\nHost: t\r\n\r\n"


async def test_keep_alive_serves_many_requests_on_one_connection(serve: Callable) -> None:
    server = await serve()
    async with httpx.AsyncClient(timeout=10) as http:
        for i in range(5):
            response = await http.post(f"http://127.0.0.1:{port(server)}/{i}", content=b"abc")
            assert response.content == f"POST /{i} 3".encode()
    assert server.accepted == 1


async def test_pipelined_requests_are_answered_in_order_even_when_the_first_is_slow(
    serve: Callable,
) -> None:
    async def slow_first(request: Request) -> Response:
        if request.target == "/0":
            await asyncio.sleep(0.3)
        return await echo(request)

    server = await serve(slow_first)
    data = GET % 0 + GET % 1 + b"GET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    answers = split(await exchange(server, data))
    assert [body for _, _, body in answers] == [b"GET /0 0", b"GET /1 0", b"GET /2 0"]
    assert answers[2][1]["connection"] == "close"


async def test_a_request_sent_byte_by_byte_is_read_whole(serve: Callable) -> None:
    server = await serve()
    body = b"0123456789"
    data = (
        b"POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"4\r\n0123\r\n6;ext=1\r\n456789\r\n0\r\n\r\n"
    )
    answers = split(await exchange(server, *(data[i : i + 1] for i in range(len(data)))))
    assert [(line, body_) for line, _, body_ in answers] == [("HTTP/1.1 200 OK", b"POST /b 10")]
    assert answers[0][1]["x-body"] == body.decode()


async def test_a_chunked_request_body_from_httpx(serve: Callable) -> None:
    server = await serve()

    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b"ab", b"cd", b"e"):
            yield piece

    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"http://127.0.0.1:{port(server)}/c", content=pieces())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.headers["x-body"] == "abcde"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 1100 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 5000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n", 413),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n"
            + b"x" * 1001,
            413,
        ),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ],
)
async def test_refused_requests_get_their_status_and_a_close(
    serve: Callable, data: bytes, status: int
) -> None:
    server = await serve()
    # a well-formed request first: the error ends the connection after answering it
    (ok, (line, headers, body)) = split(await exchange(server, GET % 7 + data))
    assert ok[2] == b"GET /7 0"
    assert line.startswith(f"HTTP/1.1 {status} ")
    assert headers["connection"] == "close"
    assert headers["content-type"] == "text/plain"
    assert body


async def test_413_comes_before_the_body_is_sent(serve: Callable) -> None:
    server = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", port(server))
    try:
        writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        async with asyncio.timeout(10):
            answer = await reader.read(-1)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 ")


async def test_methods_outside_the_list_get_405_with_allow(serve: Callable) -> None:
    limits = Limits(max_header_bytes=1024, max_body_bytes=1000, methods=("GET", "HEAD"))
    server = await serve(limits=limits)
    async with httpx.AsyncClient(timeout=10) as http:
        url = f"http://127.0.0.1:{port(server)}/x"
        refused = await http.post(url)
        allowed = await http.get(url)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert allowed.status_code == 200


async def test_head_gets_the_length_and_no_body(serve: Callable) -> None:
    server = await serve()
    close = b"GET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    data = await exchange(server, b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + close)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: %d\r\n" % len(b"HEAD /h 0") in head + b"\r\n"
    # no body bytes: the next answer follows the head directly
    assert [body for _, _, body in split(rest)] == [b"GET /2 0"]


async def test_connection_close_from_the_client_closes_after_the_answer(serve: Callable) -> None:
    server = await serve()
    request = b"GET /1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    answers = split(await exchange(server, request + GET % 2))
    assert [body for _, _, body in answers] == [b"GET /1 0"]  # the second was never read


async def test_http_10_is_closed_after_the_answer(serve: Callable) -> None:
    server = await serve()
    answers = split(await exchange(server, b"GET /1 HTTP/1.0\r\n\r\n" * 2))
    assert len(answers) == 1


async def test_expect_100_continue(serve: Callable) -> None:
    server = await serve()
    reader, writer = await asyncio.open_connection("127.0.0.1", port(server))
    try:
        writer.write(
            b"POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n\r\n"
        )
        async with asyncio.timeout(10):
            interim = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"{}")
        async with asyncio.timeout(10):
            rest = await reader.read(-1)
    finally:
        writer.close()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert split(rest)[0][2] == b"POST /e 2"


async def test_idle_keep_alive_connections_are_closed_after_the_idle_timeout(
    serve: Callable,
) -> None:
    server = await serve(limits=Limits(idle_timeout=0.5))
    reader, writer = await asyncio.open_connection("127.0.0.1", port(server))
    try:
        writer.write(GET % 1)
        async with asyncio.timeout(10):
            answered = await reader.readuntil(b"GET /1 0")
            closed = await reader.read(-1)  # returns when the server closes
    finally:
        writer.close()
    assert answered.startswith(b"HTTP/1.1 200 OK\r\n")
    assert closed == b""


async def test_a_half_sent_request_is_dropped_after_the_idle_timeout(serve: Callable) -> None:
    server = await serve(limits=Limits(idle_timeout=0.5))
    assert (
        await exchange(server, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nab") == b""
    )


async def test_a_failing_handler_answers_500_closes_and_logs(
    serve: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("bug")

    server = await serve(broken, name="thing")
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"http://127.0.0.1:{port(server)}/")
    assert response.status_code == 500
    assert response.headers["connection"] == "close"
    assert "internal error of the thing" in response.text
    assert any("handler failed" in r.getMessage() for r in caplog.records)


async def test_a_cut_body_announces_all_of_it_then_closes(serve: Callable) -> None:
    async def cut(request: Request) -> Response:
        return Response(200, b"x" * 100, body_bytes=40)

    server = await serve(cut)
    data = await exchange(server, GET % 1 + GET % 2)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.endswith(b"\r\ncontent-length: 100")
    assert body == b"x" * 40  # and nothing of the second request's answer
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"http://127.0.0.1:{port(server)}/")


@pytest.mark.parametrize(
    "answer", [Response(200, b"x" * 100, body_bytes=0, reset=True), RawResponse(b"", reset=True)]
)
async def test_a_reset_ends_the_connection_hard(
    serve: Callable, answer: Response | RawResponse
) -> None:
    async def reset(request: Request) -> Response | RawResponse:
        return answer

    server = await serve(reset)
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await http.get(f"http://127.0.0.1:{port(server)}/")


async def test_raw_answers_are_written_as_they_are_and_keep_alive_goes_on(serve: Callable) -> None:
    raw = b"HTTP/1.1 299 Whatever\r\nX-Odd:  spaced \r\ncontent-length: 3\r\n\r\nabc"

    async def scripted(request: Request) -> RawResponse:
        return RawResponse(raw)

    server = await serve(scripted)
    data = await exchange(
        server, GET % 1 + b"GET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    assert data == raw + raw


async def test_tls(serve: Callable, tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    server = await serve(ssl_context=certs.server_context())
    client = ssl.create_default_context(cafile=str(certs.ca_pem))
    async with httpx.AsyncClient(timeout=10, verify=client) as http:
        first = await http.post(f"https://127.0.0.1:{port(server)}/t", content=b"secret")
        second = await http.get(f"https://127.0.0.1:{port(server)}/u")
    assert (first.content, second.content) == (b"POST /t 6", b"GET /u 0")
    assert server.accepted == 1


@pytest.mark.parametrize("reset", [False, True])
async def test_close_ends_answers_under_way(
    serve: Callable, reset: bool, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()

    async def stuck(request: Request) -> Response:
        started.set()
        await asyncio.sleep(300)
        return Response(200)

    server = await serve(stuck)
    async with httpx.AsyncClient(timeout=30) as http:
        pending = asyncio.ensure_future(http.get(f"http://127.0.0.1:{port(server)}/"))
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.wait_for(server.close(reset=reset), 5)
        with pytest.raises(httpx.HTTPError):
            await asyncio.wait_for(pending, 10)
    assert server.sockets == ()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_an_answer_that_cannot_be_written_is_logged_and_the_server_goes_on(
    serve: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    async def bad_header(request: Request) -> Response:
        if request.target == "/bad":
            return Response(200, b"", (("x-bad", "line\r\nbreak"),))
        return await echo(request)

    server = await serve(bad_header, name="thing")
    async with httpx.AsyncClient(timeout=10) as http:
        url = f"http://127.0.0.1:{port(server)}"
        with pytest.raises(httpx.HTTPError):
            await http.get(f"{url}/bad")
        assert (await http.get(f"{url}/good")).content == b"GET /good 0"
    assert any("thing: the connection failed" in r.getMessage() for r in caplog.records)


async def test_a_client_that_stops_reading_is_dropped_after_the_idle_timeout(
    serve: Callable,
) -> None:
    """The answer (32 MiB, far more than the socket buffers) waits in the server's memory
    while the client reads nothing; after the idle timeout the connection is reset instead
    of holding it forever."""
    size = 32 << 20

    async def big(_: Request) -> Response:
        return Response(200, b"x" * size)

    server = await serve(big, limits=Limits(idle_timeout=0.5))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port(server)))
    try:
        await loop.sock_sendall(sock, GET % 1)
        # read nothing for four idle timeouts, then read what is there
        await asyncio.sleep(2)
        received = 0
        async with asyncio.timeout(30):
            while True:
                try:
                    data = await loop.sock_recv(sock, 1 << 20)
                except ConnectionResetError:
                    break
                if not data:
                    break
                received += len(data)
    finally:
        sock.close()
    assert 0 < received < size
