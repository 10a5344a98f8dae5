"""``output.logstash.hosts`` entries (and the receiver's listen address) as endpoints,
sans-IO: ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address, port 5044 by default."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PORT = 5044


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(
    text: str, default_port: int = DEFAULT_PORT, *, listen: bool = False
) -> Endpoint:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address; port 5044 by default.
    An address to ``listen`` on may use port 0 (any free port)."""
    value = text.strip()
    for scheme in ("tcp://", "ssl://", "tls://"):
        if value.startswith(scheme):
            value = value[len(scheme) :]
    if not value:
        raise ValueError("empty host")
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid host {text!r}")
        port_text = rest[1:] if rest else ""
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if not port_text:
            raise ValueError(f"invalid host {text!r}: empty port")
    else:
        host, port_text = value, ""  # a name, or a bare IPv6 address
    if not host:
        raise ValueError(f"invalid host {text!r}: no host name")
    try:
        host.encode("idna")
    except UnicodeError:
        # what getaddrinfo would choke on later (an empty label, a label over 63 characters)
        raise ValueError(f"invalid host name {host!r}") from None
    if not port_text:
        return Endpoint(host, default_port)
    if not port_text.isdigit() or not (0 if listen else 1) <= int(port_text) < 65536:
        raise ValueError(f"invalid port in {text!r}")
    return Endpoint(host, int(port_text))
