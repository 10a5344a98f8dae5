"""Settings of one ``module: sora`` entry (modules.d/sora.yml or sorabeat.modules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sorabeat.config.schema import PositiveSeconds, Size, header_problems, setting
from sorabeat.sora.hosts import HostError, parse_sora_host
from sorabeat.tls import TLSSettings

MetricsetName = Literal["stats", "connections", "channels"]

_TWO_CREDENTIALS = "{} and headers.Authorization are both set; keep one"


@dataclass(frozen=True)
class SoraModuleSettings:
    module: Literal["sora"] = setting(doc="The module name; sorabeat has one module, sora.")
    metricsets: list[MetricsetName] = setting(
        factory=lambda: ["stats", "connections"],
        doc="stats: GetStatsReport, one event per poll; connections: GetStatsAllConnections, "
        "one event per connection, with its rates since the previous poll; channels (opt-in): "
        "one event per channel, summed from the same response (one request when both are on).",
    )
    enabled: bool = setting(True, doc="Set to false to keep the entry without polling it.")
    period: PositiveSeconds = setting(10.0, doc="How often each host is polled.")
    hosts: list[str] = setting(
        factory=lambda: ["localhost:3000"],
        doc="Sora API endpoints: host:port (http, port 3000 by default) or a full URL.",
    )
    timeout: PositiveSeconds | None = setting(
        None, doc="HTTP timeout of one poll; default: period."
    )
    headers: dict[str, str] = setting(
        factory=dict, doc="Extra HTTP headers, e.g. Authorization for a proxied Sora."
    )
    username: str | None = setting(None, doc="HTTP basic auth user, for a proxied Sora.")
    password: str | None = setting(None, secret=True, doc="HTTP basic auth password.")
    ssl: TLSSettings = setting(factory=TLSSettings, doc="TLS for https hosts.")
    max_response_size: Size = setting(
        64 * 1024 * 1024, doc="Larger responses are refused with an error event, not read."
    )
    fields: dict[str, Any] = setting(
        factory=dict, doc="Extra fields added to this module's events."
    )
    fields_under_root: bool = setting(
        False, doc="Put fields at the top level instead of under fields."
    )
    tags: list[str] = setting(factory=list, doc="Tags added to this module's events.")

    @property
    def effective_timeout(self) -> float:
        return self.timeout if self.timeout is not None else self.period

    def problems(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if not self.metricsets:
            out.append(("metricsets", "at least one metricset is needed"))
        if len(set(self.metricsets)) != len(self.metricsets):
            out.append(("metricsets", "a metricset is listed twice"))
        if self.enabled and not self.hosts:
            out.append(("hosts", "at least one host is needed"))
        out.extend(header_problems(self.headers))
        if self.ssl.ca_trusted_fingerprint:
            out.append(
                (
                    "ssl.ca_trusted_fingerprint",
                    "not supported for Sora hosts; use ssl.certificate_authorities",
                )
            )
        header_auth = any(name.lower() == "authorization" for name in self.headers)
        if header_auth and self.username is not None:
            out.append(("username", _TWO_CREDENTIALS.format("username/password")))
        for i, host in enumerate(self.hosts):
            try:
                parsed = parse_sora_host(host)
            except HostError as exc:
                out.append((f"hosts.{i}", str(exc)))
                continue
            if parsed.username is None:
                continue
            # the URL's user:password@ would replace the other credentials without a word
            if header_auth:
                out.append((f"hosts.{i}", _TWO_CREDENTIALS.format("user:password@ in the URL")))
            if self.username is not None:
                out.append(
                    (
                        f"hosts.{i}",
                        "user:password@ in the URL and username/password are both set; keep one",
                    )
                )
        return out
