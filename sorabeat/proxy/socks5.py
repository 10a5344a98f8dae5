"""The client side of SOCKS5 (RFC 1928) with username/password authentication (RFC 1929),
sans-IO: ``greeting()`` gives the first bytes to send, ``feed`` takes whatever the proxy sent
(any chunking) and returns what to send next or that the tunnel is open. Failures raise
``Socks5Error`` naming what the proxy said; nothing here touches a socket.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

VERSION = 5
AUTH_VERSION = 1  # RFC 1929's subnegotiation version
NO_AUTHENTICATION = 0x00
USERNAME_PASSWORD = 0x02
NO_ACCEPTABLE_METHOD = 0xFF
CMD_CONNECT = 0x01
ATYP_IPV4 = 0x01
ATYP_DOMAIN = 0x03
ATYP_IPV6 = 0x04

# RFC 1928 section 6, by the words the RFC uses
REPLY_MESSAGES = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}


class Socks5Error(Exception):
    """The proxy refused, or spoke something other than SOCKS5."""


class Socks5AuthError(Socks5Error):
    """The proxy wants credentials it was not given, or refused the ones it was given."""


class Socks5ReplyError(Socks5Error):
    """The proxy could not open the connection to the target; ``code`` is RFC 1928's REP."""

    def __init__(self, code: int) -> None:
        self.code = code
        name = REPLY_MESSAGES.get(code, "unassigned reply code")
        super().__init__(f"the proxy cannot reach the target: {name} (SOCKS5 reply {code:#04x})")


class Socks5ProtocolError(Socks5Error):
    pass


@dataclass(frozen=True)
class Send:
    """Bytes to write to the proxy."""

    data: bytes


@dataclass(frozen=True)
class Established:
    """The tunnel is open; ``extra`` is what the proxy sent after its reply (the target's
    first bytes, if it spoke first)."""

    bound_host: str
    bound_port: int
    extra: bytes


Event = Send | Established


class _State(Enum):
    METHOD = "method"
    AUTH = "auth"
    REPLY = "reply"
    OPEN = "open"
    FAILED = "failed"


def encode_address(host: str) -> bytes:
    """ATYP and address of ``host``: an IP literal as such, anything else as a domain name
    for the proxy to resolve."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return _encode_domain(host)
    atyp = ATYP_IPV4 if ip.version == 4 else ATYP_IPV6
    return bytes((atyp,)) + ip.packed


def _encode_domain(host: str) -> bytes:
    try:
        name = host.encode("idna")
    except UnicodeError:
        raise ValueError(f"invalid host name {host!r}") from None
    if not 1 <= len(name) <= 255:
        raise ValueError(f"host name {host!r} is longer than SOCKS5 allows (255 bytes)")
    return bytes((ATYP_DOMAIN, len(name))) + name


def _credential(text: str, what: str) -> bytes:
    data = text.encode("utf-8")
    if not 1 <= len(data) <= 255:
        raise ValueError(f"the proxy {what} must be 1 to 255 bytes long (RFC 1929)")
    return data


class Socks5Client:
    """One CONNECT through a SOCKS5 proxy to ``host``:``port``."""

    def __init__(self, host: str, port: int, credentials: tuple[str, str] | None = None) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"invalid port {port}")
        self._address = encode_address(host) + port.to_bytes(2, "big")
        self._credentials = (
            None
            if credentials is None
            else (_credential(credentials[0], "user name"), _credential(credentials[1], "password"))
        )
        self._state = _State.METHOD
        self._buffer = b""

    @property
    def established(self) -> bool:
        return self._state is _State.OPEN

    def greeting(self) -> bytes:
        """The method selection message: no authentication, and username/password when
        there are credentials to offer."""
        methods = [NO_AUTHENTICATION]
        if self._credentials is not None:
            methods.append(USERNAME_PASSWORD)
        return bytes((VERSION, len(methods), *methods))

    def feed(self, data: bytes) -> list[Event]:
        """Take bytes from the proxy; return what to do next (nothing while a message is
        incomplete). Raises Socks5Error, after which the client takes nothing more."""
        if self._state is _State.FAILED:
            raise Socks5ProtocolError("the SOCKS5 negotiation has already failed")
        if self._state is _State.OPEN:
            raise Socks5ProtocolError("the tunnel is open: bytes now belong to the target")
        self._buffer += data
        events: list[Event] = []
        try:
            while not self.established:
                event = self._step()
                if event is None:
                    break
                events.append(event)
        except Socks5Error:
            self._state = _State.FAILED
            raise
        return events

    def _take(self, size: int) -> bytes | None:
        if len(self._buffer) < size:
            return None
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def _step(self) -> Event | None:
        if self._state is _State.METHOD:
            return self._method()
        if self._state is _State.AUTH:
            return self._auth()
        return self._reply()

    def _request(self) -> Send:
        self._state = _State.REPLY
        return Send(bytes((VERSION, CMD_CONNECT, 0)) + self._address)

    def _method(self) -> Event | None:
        message = self._take(2)
        if message is None:
            return None
        version, method = message
        if version != VERSION:
            raise Socks5ProtocolError(
                f"not a SOCKS5 proxy (version byte {version:#04x} in its first answer)"
            )
        if method == NO_AUTHENTICATION:
            return self._request()
        if method == USERNAME_PASSWORD and self._credentials is not None:
            user, password = self._credentials
            self._state = _State.AUTH
            return Send(
                bytes((AUTH_VERSION, len(user))) + user + bytes((len(password),)) + password
            )
        if method == NO_ACCEPTABLE_METHOD:
            if self._credentials is None:
                raise Socks5AuthError(
                    "the proxy requires authentication: give user:password in proxy_url"
                )
            raise Socks5AuthError(
                "the proxy accepts neither username/password nor no authentication"
            )
        raise Socks5ProtocolError(
            f"the proxy chose an authentication method not offered ({method:#04x})"
        )

    def _auth(self) -> Event | None:
        message = self._take(2)
        if message is None:
            return None
        version, status = message
        if version != AUTH_VERSION:
            raise Socks5ProtocolError(
                f"bad username/password reply version {version:#04x} (RFC 1929 says 0x01)"
            )
        if status != 0:
            raise Socks5AuthError(
                f"the proxy refused the user name and password (status {status:#04x})"
            )
        return self._request()

    def _reply(self) -> Event | None:
        # judged as soon as the bytes that decide it arrive: a refusal may be cut short
        if len(self._buffer) < 2:
            return None
        version, reply = self._buffer[:2]
        if version != VERSION:
            raise Socks5ProtocolError(f"bad reply version {version:#04x} (SOCKS5 says 0x05)")
        if reply != 0:
            raise Socks5ReplyError(reply)
        if len(self._buffer) < 4:
            return None
        reserved, atyp = self._buffer[2:4]
        if reserved != 0:
            raise Socks5ProtocolError(f"reserved byte of the reply is {reserved:#04x}, not 0")
        if atyp == ATYP_IPV4:
            size = 4
        elif atyp == ATYP_IPV6:
            size = 16
        elif atyp == ATYP_DOMAIN:
            if len(self._buffer) < 5:
                return None
            size = 1 + self._buffer[4]
        else:
            raise Socks5ProtocolError(f"unknown address type {atyp:#04x} in the reply")
        message = self._take(4 + size + 2)
        if message is None:
            return None
        raw = message[4 : 4 + size]
        if atyp == ATYP_DOMAIN:
            host = raw[1:].decode("ascii", "replace")
        else:
            host = str(ipaddress.ip_address(raw))
        port = int.from_bytes(message[-2:], "big")
        self._state = _State.OPEN
        extra, self._buffer = self._buffer, b""
        return Established(host, port, extra)
