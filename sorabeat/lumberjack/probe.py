"""``sorabeat test output`` for Logstash: each step per host, as metricbeat prints them."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

from sorabeat.lumberjack import compression
from sorabeat.lumberjack.client import LumberjackClient, TransportError, describe
from sorabeat.lumberjack.hosts import Endpoint, parse_endpoint
from sorabeat.lumberjack.protocol import AckReader, ProtocolError, window_frame
from sorabeat.lumberjack.settings import LogstashSettings

TALK_WAIT = 5.0  # how long to wait for the A 0 that answers W 0


async def test_output(settings: LogstashSettings, write: Callable[[str], None]) -> bool:
    """Check every host; ``write`` gets one line at a time. True if all passed."""
    ok = True
    for text in settings.hosts:
        ok = await _test_host(text, settings, write) and ok
    return ok


async def _test_host(text: str, settings: LogstashSettings, write: Callable[[str], None]) -> bool:
    write(f"logstash: {text}...")
    write("  connection...")
    try:
        endpoint = parse_endpoint(text)
    except ValueError as exc:
        write(f"    parse host... ERROR {exc}")
        return False
    write("    parse host... OK")
    proxy = settings.proxy()
    if proxy is not None:
        # the proxy resolves and dials: the steps below go through it
        write(f"    SOCKS5 proxy: {proxy}")
    elif not await _resolve_and_dial(endpoint, settings.timeout, write):
        return False
    tls = settings.ssl if settings.ssl.active() else None
    if tls is None:
        write("  TLS... WARN secure connection disabled")
    else:
        write("  TLS...")
        mode = tls.verification_mode
        if mode == "none":
            write("    security... WARN server's certificate chain verification is disabled")
        else:
            write(f"    security: server's certificate chain verification is enabled ({mode})")
    try:
        write(f"  compression: {compression.describe(settings.compression_level)}")
    except ValueError as exc:
        write(f"  compression... ERROR {exc}")
        return False
    try:
        client = await LumberjackClient.connect(
            endpoint, io_timeout=settings.timeout, tls=tls, proxy=proxy
        )
    except TransportError as exc:
        write(f"    handshake... ERROR {exc}" if tls else f"  dial up... ERROR {exc}")
        return False
    try:
        if tls is not None:
            ssl_object = client.writer.get_extra_info("ssl_object")
            write("    handshake... OK")
            if isinstance(ssl_object, ssl.SSLObject):
                cipher = ssl_object.cipher()
                write(f"    TLS version: {ssl_object.version()}")
                if cipher:
                    write(f"    cipher: {cipher[0]}")
        return await _talk(client, min(settings.timeout, TALK_WAIT), write)
    finally:
        client.abort()


async def _resolve_and_dial(
    endpoint: Endpoint, io_timeout: float, write: Callable[[str], None]
) -> bool:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(io_timeout):
            infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError) as exc:
        write(f"    dns lookup... ERROR {describe(exc)}")
        return False
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    write("    dns lookup... OK")
    write(f"    addresses: {', '.join(addresses)}")
    return await _dial(endpoint, io_timeout, write)


async def _dial(endpoint: Endpoint, limit: float, write: Callable[[str], None]) -> bool:
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    except TimeoutError:
        write(f"    dial up... ERROR no connection within {limit:g}s")
        return False
    except OSError as exc:
        write(f"    dial up... ERROR {describe(exc)}")
        return False
    writer.transport.abort()
    write("    dial up... OK")
    return True


async def _talk(client: LumberjackClient, wait: float, write: Callable[[str], None]) -> bool:
    """An empty window: Logstash >= 6.7 answers ``A 0``; go-lumber stays silent."""
    acks = AckReader()
    try:
        client.writer.write(window_frame(0))
        async with asyncio.timeout(wait):
            await client.writer.drain()
            while True:
                data = await client.reader.read(64)
                if not data:
                    write("  talk to server... ERROR the server closed the connection")
                    return False
                if acks.feed(data):
                    write("  talk to server... OK")
                    return True
    except TimeoutError:
        write(
            "  talk to server... OK (the connection stays open; no answer to an empty "
            "window, as go-lumber and Logstash before 6.7 behave)"
        )
        return True
    except ProtocolError as exc:
        write(f"  talk to server... ERROR {exc}")
        return False
    except (OSError, ssl.SSLError) as exc:
        write(f"  talk to server... ERROR {describe(exc)}")
        return False
