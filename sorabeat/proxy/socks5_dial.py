"""A TCP connection through a SOCKS5 proxy on asyncio: the codec in ``socks5`` driven over a
stream. The caller bounds the time (``asyncio.timeout``) and upgrades to TLS afterwards if it
wants (``StreamWriter.start_tls``: the certificate is then checked against the target's name,
the proxy never sees inside)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sorabeat.proxy.socks5 import Established, Send, Socks5Client, Socks5ProtocolError

DEFAULT_PORT = 1080
SCHEMES = ("socks5", "socks5h")
READ_SIZE = 4096


@dataclass(frozen=True)
class Socks5Proxy:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    local_resolve: bool = False  # resolve the target here and hand the proxy an address

    def __str__(self) -> str:
        """Where the proxy is, never who logs in."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str, *, local_resolve: bool = False) -> Socks5Proxy:
        """``socks5://[user:password@]host[:port]`` (``socks5h`` alike: as in libbeat, the
        proxy resolves the target unless ``local_resolve``). Errors never quote the URL."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise ValueError("not a valid URL (socks5://[user:password@]host:port)") from None
        if parts.scheme.lower() not in SCHEMES:
            raise ValueError(
                f"scheme must be socks5:// or socks5h://, not {parts.scheme or 'none'!r}"
            )
        if not parts.hostname:
            raise ValueError("no proxy host in the URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("a SOCKS5 proxy URL has no path, query or fragment")
        username = None if parts.username is None else unquote(parts.username)
        password = None if parts.password is None else unquote(parts.password)
        if username is not None and password is None:
            raise ValueError("a user name without a password (user:password@host)")
        for text, what in ((username, "user name"), (password, "password")):
            if text is not None and not 1 <= len(text.encode()) <= 255:
                raise ValueError(f"the {what} must be 1 to 255 bytes long (RFC 1929)")
        return cls(parts.hostname, port or DEFAULT_PORT, username, password, local_resolve)

    def credentials(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)


async def _target_address(host: str, port: int) -> str:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return str(infos[0][4][0])


async def open_socks5_connection(
    proxy: Socks5Proxy, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream to ``host``:``port`` through ``proxy``, ready for the target's protocol (or
    ``start_tls``). Raises OSError (proxy unreachable) or Socks5Error."""
    target = await _target_address(host, port) if proxy.local_resolve else host
    codec = Socks5Client(target, port, proxy.credentials())
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        writer.write(codec.greeting())
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                raise Socks5ProtocolError("the proxy closed the connection during negotiation")
            for event in codec.feed(data):
                if isinstance(event, Send):
                    writer.write(event.data)
                elif isinstance(event, Established):
                    if event.extra:
                        # the targets sorabeat dials (Logstash, TLS) never speak first
                        raise Socks5ProtocolError("unexpected bytes from the proxy after its reply")
                    return reader, writer
            await writer.drain()
    except BaseException:
        writer.transport.abort()
        raise
