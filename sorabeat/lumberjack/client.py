"""One Lumberjack v2 connection on asyncio: dial (TCP, optional TLS), write windows, read ACKs.

The codec lives in ``protocol``; this module only moves bytes and keeps time: the dial, each
write and each ACK read are bounded by ``timeout``, and every ACK, keepalives included,
restarts the read deadline (Logstash sends ``A 0`` every 5 s while it is busy).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import NoReturn

from sorabeat.lumberjack.hosts import Endpoint
from sorabeat.lumberjack.protocol import AckProgress, AckReader, AckTracker, ProtocolError
from sorabeat.proxy.socks5 import Socks5Error
from sorabeat.proxy.socks5_dial import Socks5Proxy, open_socks5_connection
from sorabeat.tls import TLSSettings, client_context, describe_tls_error

log = logging.getLogger("sorabeat.lumberjack")

READ_SIZE = 65536


class TransportError(Exception):
    """A failure of one connection; the message says what happened, without the host."""


class ConnectError(TransportError):
    pass


class TLSFailureError(TransportError):
    pass


class PeerClosedError(TransportError):
    """The server closed the connection (EOF, reset, broken pipe)."""


class AckTimeoutError(TransportError):
    pass


class WriteTimeoutError(TransportError):
    pass


def describe(exc: BaseException) -> str:
    """A short reason for a socket-level failure."""
    reason = describe_tls_error(exc)
    if reason is not None:
        return reason
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "broken pipe"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    return str(exc) or type(exc).__name__


def _closed_error(exc: BaseException) -> TransportError:
    if describe_tls_error(exc) is not None and not isinstance(exc, ssl.SSLEOFError):
        return TLSFailureError(describe(exc))
    return PeerClosedError(describe(exc))


async def _dial_through(
    proxy: Socks5Proxy, endpoint: Endpoint, context: ssl.SSLContext | None, handshake_timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A SOCKS5 tunnel to the endpoint, then TLS inside it: the certificate is checked
    against the Logstash host name, never the proxy's."""
    log.debug("logstash %s: dialing through SOCKS5 proxy %s", endpoint, proxy)
    reader, writer = await open_socks5_connection(proxy, endpoint.host, endpoint.port)
    if context is not None:
        try:
            await writer.start_tls(
                context, server_hostname=endpoint.host, ssl_handshake_timeout=handshake_timeout
            )
        except BaseException:
            writer.transport.abort()
            raise
    return reader, writer


class LumberjackClient:
    """An open connection. ``send`` writes a window; ``receive`` reads ACKs until the
    connection fails and reports each bit of progress, oldest window first."""

    def __init__(
        self,
        endpoint: Endpoint,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        loop = asyncio.get_running_loop()
        self.opened_at = loop.time()
        self.tracker = AckTracker()
        self.acks_seen = 0  # ACK frames received, keepalives included
        self._acks = AckReader()
        self._deadline: asyncio.Timeout | None = None

    @classmethod
    async def connect(
        cls,
        endpoint: Endpoint,
        *,
        io_timeout: float,
        tls: TLSSettings | None = None,
        proxy: Socks5Proxy | None = None,
    ) -> LumberjackClient:
        """Dial within ``io_timeout`` (TCP, SOCKS5 negotiation and TLS handshake together);
        the connection then bounds each write and ACK read by the same."""
        timeout = io_timeout
        context = None
        if tls is not None and tls.active():
            try:
                context = client_context(tls)
            except Exception as exc:
                raise TLSFailureError(describe(exc)) from None
        try:
            async with asyncio.timeout(timeout):
                if proxy is not None:
                    reader, writer = await _dial_through(proxy, endpoint, context, timeout)
                else:
                    reader, writer = await asyncio.open_connection(
                        endpoint.host,
                        endpoint.port,
                        ssl=context,
                        server_hostname=endpoint.host if context else None,
                        ssl_handshake_timeout=timeout if context else None,
                    )
        except TimeoutError:
            through = f" through SOCKS5 proxy {proxy}" if proxy is not None else ""
            raise ConnectError(f"no connection{through} within {timeout:g}s") from None
        except ssl.SSLError as exc:
            raise TLSFailureError(f"TLS handshake failed: {describe(exc)}") from None
        except Socks5Error as exc:
            raise ConnectError(f"SOCKS5 proxy {proxy}: {exc}") from None
        except OSError as exc:
            if proxy is not None:
                raise ConnectError(f"SOCKS5 proxy {proxy}: {describe(exc)}") from None
            raise ConnectError(describe(exc)) from None
        except (UnicodeError, ValueError) as exc:  # a name the resolver cannot even encode
            raise ConnectError(f"cannot resolve {endpoint.host!r}: {exc}") from None
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # each window is one write followed by a wait: Nagle would only add latency
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(endpoint, reader, writer, timeout)

    def age(self) -> float:
        return asyncio.get_running_loop().time() - self.opened_at

    async def send(self, window: bytes, count: int) -> None:
        """Write one encoded window of ``count`` events, within ``timeout``."""
        self.tracker.sent(count)
        if self._deadline is not None and self._deadline.when() is None:
            self._deadline.reschedule(asyncio.get_running_loop().time() + self.timeout)
        try:
            self.writer.write(window)
            async with asyncio.timeout(self.timeout):
                await self.writer.drain()
        except TimeoutError:
            raise WriteTimeoutError(f"write not done within {self.timeout:g}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise _closed_error(exc) from None

    async def receive(self, on_progress: Callable[[AckProgress], None]) -> NoReturn:
        """Read ACKs until the connection fails, then raise why (a TransportError or a
        ProtocolError). While a window is in flight, each ACK must come within ``timeout``
        of the previous one (or of the send)."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as deadline:
                self._deadline = deadline
                if self.tracker.in_flight:
                    deadline.reschedule(loop.time() + self.timeout)
                while True:
                    try:
                        data = await self.reader.read(READ_SIZE)
                    except (OSError, ssl.SSLError) as exc:
                        raise _closed_error(exc) from None
                    if not data:
                        raise PeerClosedError("connection closed by the server (EOF)")
                    seqs = self._acks.feed(data)
                    for seq in seqs:
                        self.acks_seen += 1
                        progress = self.tracker.ack(seq)
                        if progress is not None:
                            on_progress(progress)
                    if seqs:
                        deadline.reschedule(
                            loop.time() + self.timeout if self.tracker.in_flight else None
                        )
        except TimeoutError:
            raise AckTimeoutError(f"no ACK within {self.timeout:g}s (read timeout)") from None
        finally:
            self._deadline = None

    def abort(self) -> None:
        """Drop the connection at once (unacknowledged windows will be resent elsewhere)."""
        self.writer.transport.abort()

    async def close(self) -> None:
        """Close politely, between windows."""
        self.writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            self.writer.transport.abort()


__all__ = [
    "AckTimeoutError",
    "ConnectError",
    "LumberjackClient",
    "PeerClosedError",
    "ProtocolError",
    "TLSFailureError",
    "TransportError",
    "WriteTimeoutError",
]
