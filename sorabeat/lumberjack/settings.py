"""``output.logstash``: libbeat's Logstash output options with libbeat's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from sorabeat.config.schema import PositiveSeconds, Range, Seconds, setting
from sorabeat.lumberjack.hosts import parse_endpoint
from sorabeat.outputs.backoff import BackoffSettings
from sorabeat.proxy.socks5_dial import Socks5Proxy
from sorabeat.tls import TLSSettings


@dataclass(frozen=True)
class LogstashSettings:
    enabled: bool = setting(True, doc="Ship events to Logstash's beats input (Lumberjack v2).")
    hosts: list[str] = setting(
        factory=list, doc="Logstash endpoints, host or host:port (port 5044 by default)."
    )
    loadbalance: bool = setting(
        False, doc="false: one host at a time, failover on error; true: all hosts in parallel."
    )
    worker: Annotated[int, Range(1, 64)] = setting(
        1,
        aliases=("workers",),
        doc="Connections per host with loadbalance; without it, connections in all, "
        "each failing over across the hosts.",
    )
    pipelining: Annotated[int, Range(0, 64)] = setting(
        2,
        doc="Windows queued for ACKs per connection as libbeat counts them: N waiting plus "
        "the one being written, N+1 in flight (0: send a window, wait for its ACK).",
    )
    compression_level: Annotated[int, Range(0, 9)] = setting(
        3,
        doc="zlib-format level of each window; 0 sends uncompressed frames. 1-3 favour speed "
        "(ISA-L), 4-9 bytes (zlib-ng); stdlib zlib if those are missing (see `test output`).",
    )
    escape_html: bool = setting(
        False,
        doc="Rewrite <, > and & as \\u003c, \\u003e and \\u0026 in the encoded events "
        "(exact without parsing: in JSON these bytes only occur inside strings).",
    )
    bulk_max_size: Annotated[int, Range(1, 10000)] = setting(2048, doc="Most events in one window.")
    slow_start: bool = setting(
        False, doc="Start windows at 10 events, grow x1.5 on success, halve on error."
    )
    timeout: PositiveSeconds = setting(
        30.0, doc="Dial, write and ack-read timeout; any ack (keepalives too) restarts it."
    )
    ttl: Seconds = setting(
        0.0,
        doc="Reconnect after a connection reaches this age, between windows, pipelining or "
        "not (0: never).",
    )
    stall_timeout: Seconds = setting(
        300.0,
        doc="Warn when a connection has events waiting but none acknowledged for this long "
        "(ACK 0 keepalives do not count); with loadbalance and several hosts, also resend "
        "its windows through the other hosts (at-least-once). 0: never.",
    )
    max_retries: int = setting(
        3,
        doc="Accepted for metricbeat compatibility and ignored: events stay in the spool until "
        "Logstash acknowledges them, retried with backoff for as long as it takes; sorabeat "
        "never drops them for transport errors (the spool's when_full policy alone drops).",
    )
    backoff: BackoffSettings = setting(factory=BackoffSettings, doc="Reconnect backoff.")
    index: str = setting("sorabeat", doc="Sets @metadata.beat (lowercased).")
    ssl: TLSSettings = setting(factory=TLSSettings, doc="TLS to Logstash.")
    proxy_url: str | None = setting(
        None,
        doc="SOCKS5 proxy, socks5://[user:password@]host[:port] (port 1080 by default; "
        "socks5h:// alike); TLS to Logstash runs inside the tunnel, verified against the "
        "Logstash host name. No proxy by default (the proxy environment variables are not read).",
    )
    proxy_use_local_resolver: bool = setting(
        False,
        doc="Resolve the Logstash host names here and hand the proxy an address; false: "
        "the proxy resolves them.",
    )

    def proxy(self) -> Socks5Proxy | None:
        """The parsed proxy_url (problems() has vetted it)."""
        if not self.proxy_url:
            return None
        return Socks5Proxy.parse(self.proxy_url, local_resolve=self.proxy_use_local_resolver)

    def problems(self) -> list[tuple[str, str]]:
        if self.enabled and not self.hosts:
            return [("hosts", "at least one host is needed")]
        out: list[tuple[str, str]] = []
        for host in self.hosts:
            try:
                parse_endpoint(host)
            except ValueError as exc:
                out.append(("hosts", str(exc)))
        if self.proxy_url:
            try:
                self.proxy()
            except ValueError as exc:
                out.append(("proxy_url", str(exc)))
        return out
