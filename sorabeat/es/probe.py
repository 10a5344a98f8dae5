"""``sorabeat test output`` for Elasticsearch: each host step by step (URL, DNS, dial, TLS,
``GET /``), printed as metricbeat prints it, with the error where a step fails."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable

import httpx

from sorabeat.credentials import redact_url
from sorabeat.es.client import ElasticsearchHost
from sorabeat.es.hosts import HostURL, parse_host_url
from sorabeat.es.root import RootError
from sorabeat.es.settings import ElasticsearchSettings
from sorabeat.tls import TLSConfigError, client_context

Write = Callable[[str], None]


async def test_output(settings: ElasticsearchSettings, write: Write) -> bool:
    """True when every host passes every step."""
    results = [await _test_host(settings, host, write) for host in settings.hosts]
    return bool(results) and all(results)


async def _test_host(settings: ElasticsearchSettings, text: str, write: Write) -> bool:
    write(f"elasticsearch: {redact_url(text)}...")
    try:
        url = parse_host_url(text, settings.protocol, settings.path)
    except ValueError as exc:
        write(f"  parse url... ERROR {exc}")
        return False
    write("  parse url... OK")
    if settings.proxy_url and not settings.proxy_disable:
        # the host may be reachable only through the proxy: no direct DNS, dial or TLS steps
        write(f"  proxy: {redact_url(settings.proxy_url)}")
    elif not await _test_direct(settings, url, write):
        return False
    host = ElasticsearchHost(url, settings)
    try:
        server = await host.connect()
    except (httpx.HTTPError, RootError) as exc:
        write(f"  talk to server... ERROR {exc or type(exc).__name__}")
        return False
    finally:
        await host.close()
    write("  talk to server... OK")
    write(f"  version: {'.'.join(map(str, server.version))} ({server.distribution})")
    return True


async def _test_direct(settings: ElasticsearchSettings, url: HostURL, write: Write) -> bool:
    write("  connection...")
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM), settings.timeout
        )
    except (OSError, TimeoutError) as exc:
        write(f"    dns lookup... ERROR {exc or 'timed out'}")
        return False
    addresses = sorted({str(info[4][0]) for info in infos})
    write("    dns lookup... OK")
    write(f"    addresses: {', '.join(addresses)}")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.host, url.port), settings.timeout
        )
        writer.close()
    except (OSError, TimeoutError) as exc:
        write(f"    dial up... ERROR {exc or 'timed out'}")
        return False
    write("    dial up... OK")
    return await _test_tls(settings, url, write)


async def _test_tls(settings: ElasticsearchSettings, url: HostURL, write: Write) -> bool:
    if not settings.ssl.active(url.scheme == "https"):
        write("  TLS... WARN secure connection disabled")
        return True
    write("  TLS...")
    try:
        ctx = client_context(settings.ssl)
    except TLSConfigError as exc:
        write(f"    ERROR {exc}")
        return False
    if settings.ssl.verification_mode == "none":
        write("    security... WARN server's certificate chain verification is disabled")
    else:
        write("    security: server's certificate chain verification is enabled")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.host, url.port, ssl=ctx, server_hostname=url.host),
            settings.timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        write(f"    handshake... ERROR {exc.verify_message or exc}")
        return False
    except (OSError, TimeoutError) as exc:
        write(f"    handshake... ERROR {exc or 'timed out'}")
        return False
    ssl_object = writer.get_extra_info("ssl_object")
    write("    handshake... OK")
    if ssl_object is not None:
        cipher = ssl_object.cipher()
        write(f"    TLS version: {ssl_object.version()}")
        write(f"    cipher: {cipher[0] if cipher else '?'}")
    writer.close()
    return True
